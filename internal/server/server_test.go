package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/metrics"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/spool"
	"github.com/vigil-sec/vigil/internal/store"
)

const event = `{"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2026-11-20T09:05:40Z","region":"eu-west-1","resources":[],"detail":{"eventVersion":"1.09","eventName":"PutBucketAcl"}}`

func openSpool(t *testing.T, o spool.Options) *spool.Spool {
	t.Helper()
	o.NoSync = true
	sp, err := spool.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// drain returns the records spooled so far.
func drain(t *testing.T, sp *spool.Spool) []spool.Entry {
	t.Helper()
	var out []spool.Entry
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		e, err := sp.Next(ctx)
		cancel()
		if err != nil {
			return out
		}
		out = append(out, e)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func sign(secret string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	t := strconv.FormatInt(ts.Unix(), 10)
	h.Set(notify.WebhookTimestampHeader, t)
	// notify's webhook sender signs this way; VerifyWebhook is its check.
	h.Set(notify.WebhookSignatureHeader, notify.SignWebhook(secret, t, body))
	return h
}

func TestIngest(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	body := []byte(event)
	cases := []struct {
		name    string
		method  string
		body    []byte
		header  http.Header
		open    bool // no credentials configured
		code    int
		spooled bool
		inError string
	}{
		{name: "bearer", body: body, header: http.Header{"Authorization": {"Bearer s3cret"}}, code: 202, spooled: true},
		{name: "second token", body: body, header: http.Header{"Authorization": {"Bearer other"}}, code: 202, spooled: true},
		{name: "wrong token", body: body, header: http.Header{"Authorization": {"Bearer nope"}}, code: 401},
		{name: "no credentials", body: body, code: 401},
		{name: "hmac", body: body, header: sign("hk", now, body), code: 202, spooled: true},
		{name: "hmac other body", body: body, header: sign("hk", now, []byte(`{}`)), code: 401},
		{name: "hmac wrong secret", body: body, header: sign("xx", now, body), code: 401},
		{name: "hmac stale", body: body, header: sign("hk", now.Add(-6*time.Minute), body), code: 401},
		{name: "hmac future", body: body, header: sign("hk", now.Add(6*time.Minute), body), code: 401},
		{name: "open", body: body, open: true, code: 202, spooled: true},
		{name: "array", body: []byte("[" + event + "," + event + "]"), open: true, code: 202, spooled: true},
		{name: "ndjson", body: []byte(event + "\n\n" + event + "\n"), open: true, code: 202, spooled: true},
		{name: "gzip file", body: gz(`{"Records":[]}`), open: true, code: 202, spooled: true},
		{name: "ndjson bad line", body: []byte(event + "\n" + event + "\n{oops}\n"), open: true, code: 202, spooled: true}, // the pipeline reports the record
		{name: "not json", body: []byte("hello"), open: true, code: 400, inError: "not JSON"},
		{name: "text in braces", body: []byte("{hello"), open: true, code: 400, inError: "not JSON"},
		{name: "empty", body: nil, open: true, code: 400, inError: "empty"},
		{name: "too large", body: bytes.Repeat([]byte(" "), 2048), open: true, code: 413},
		{name: "get", method: "GET", open: true, code: 405},
		{name: "content encoding", body: body, header: http.Header{"Content-Encoding": {"gzip"}}, open: true, code: 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := openSpool(t, spool.Options{})
			o := Options{Spool: sp, MaxBody: 1024, Now: func() time.Time { return now }}
			if !c.open {
				o.Tokens = []string{"s3cret", "other"}
				o.HMACSecret = "hk"
			}
			h, _ := New(o)
			req := httptest.NewRequest(cmpOr(c.method, "POST"), "/ingest", bytes.NewReader(c.body))
			for k, v := range c.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.code, rec.Body)
			}
			if c.inError != "" && !strings.Contains(rec.Body.String(), c.inError) {
				t.Errorf("error %s does not say %q", rec.Body, c.inError)
			}
			got := drain(t, sp)
			if !c.spooled {
				if len(got) != 0 {
					t.Fatalf("%d records spooled for a refused request", len(got))
				}
				return
			}
			if len(got) != 1 || !bytes.Equal(got[0].Body, c.body) || got[0].Source != "http" || !got[0].Received.Equal(now) {
				t.Fatalf("spooled %+v", got)
			}
			var ack struct{ Accepted string }
			if err := json.Unmarshal(rec.Body.Bytes(), &ack); err != nil || ack.Accepted != got[0].Name {
				t.Errorf("answer %s does not name the payload %q", rec.Body, got[0].Name)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestIngestBackpressure checks that a full spool answers 429 with
// Retry-After, and takes events again once the pipeline caught up.
func TestIngestBackpressure(t *testing.T) {
	sp := openSpool(t, spool.Options{MaxBytes: 4096})
	m := metrics.New()
	h, _ := New(Options{Spool: sp, Metrics: m})
	post := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/ingest", strings.NewReader(event)))
		return rec
	}
	accepted := 0
	var rec *httptest.ResponseRecorder
	for range 100 {
		if rec = post(); rec.Code != 202 {
			break
		}
		accepted++
	}
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("full spool: status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if accepted == 0 || accepted > 4096/len(event) {
		t.Fatalf("%d accepted before full", accepted)
	}
	// The pipeline takes what waits: room again.
	es := drain(t, sp)
	if len(es) != accepted {
		t.Fatalf("%d spooled, %d accepted", len(es), accepted)
	}
	if err := sp.Ack(es[len(es)-1].Pos); err != nil {
		t.Fatal(err)
	}
	if rec := post(); rec.Code != 202 {
		t.Fatalf("after catching up: %d %s", rec.Code, rec.Body)
	}
	mrec := httptest.NewRecorder()
	h.ServeHTTP(mrec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`vigil_http_ingest_requests_total{code="429",endpoint="ingest"} 1`, fmt.Sprintf(`vigil_http_ingest_requests_total{code="202",endpoint="ingest"} %d`, accepted+1)} {
		if !strings.Contains(mrec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	sp.Close()
	if rec := post(); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("closed spool: %d", rec.Code)
	}
}

func TestAPI(t *testing.T) {
	st, err := store.Open(t.TempDir()+"/alerts.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mk := func(rule, key, account string, sev detect.Severity) store.Stored {
		return store.Stored{Alert: &alert.Alert{Rule: rule, DedupKey: key, Account: account, Severity: sev, EventTime: time.Now()}, Event: json.RawMessage(`{"eventID":"` + key + `"}`)}
	}
	if err := st.Put([]store.Stored{mk("r1", "k1", "111122223333", detect.High), mk("r2", "k2", "444455556666", detect.Low), mk("r1", "k3", "444455556666", detect.Critical)}); err != nil {
		t.Fatal(err)
	}
	ready := fmt.Errorf("starting")
	h, _ := New(Options{Alerts: st, Ready: func() error { return ready }})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	keys := func(body string) string {
		var p struct {
			Alerts []struct {
				Alert struct {
					DedupKey string `json:"dedup_key"`
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		var ks []string
		for _, a := range p.Alerts {
			ks = append(ks, a.Alert.DedupKey)
		}
		return strings.Join(ks, ",")
	}
	for _, c := range []struct{ q, want string }{
		{"", "k3,k2,k1"},
		{"?rule=r1", "k3,k1"},
		{"?severity=high", "k3,k1"},
		{"?account=444455556666&severity=critical", "k3"},
		{"?since=1h", "k3,k2,k1"},
	} {
		code, body := get("/api/alerts" + c.q)
		if code != 200 || keys(body) != c.want {
			t.Errorf("%s: %d %s, want %s", c.q, code, body, c.want)
		}
	}
	if code, body := get("/api/alerts?severity=bogus"); code != 400 || !strings.Contains(body, "severity") {
		t.Errorf("bad query: %d %s", code, body)
	}
	code, body := get("/api/alerts/k2")
	if code != 200 || !strings.Contains(body, `"event":{"eventID":"k2"}`) || !strings.Contains(body, `"rule":"r2"`) {
		t.Errorf("get: %d %s", code, body)
	}
	if code, _ := get("/api/alerts/nope"); code != 404 {
		t.Errorf("missing alert: %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("readyz while not ready: %d", code)
	}
	ready = nil
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, _ := get("/sns"); code != 404 {
		t.Errorf("/sns without topics: %d", code)
	}
}
