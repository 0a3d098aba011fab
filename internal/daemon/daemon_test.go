package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/metrics"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/outbox"
	"github.com/vigil-sec/vigil/internal/rules"
	"github.com/vigil-sec/vigil/internal/server"
	"github.com/vigil-sec/vigil/internal/sns"
	"github.com/vigil-sec/vigil/internal/source"
	"github.com/vigil-sec/vigil/internal/spool"
	"github.com/vigil-sec/vigil/internal/store"
)

// publicACL is an EventBridge CloudTrail event on which the
// aws-s3-bucket-acl-public rule fires; id makes it distinct.
func publicACL(id string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2026-11-20T09:00:00Z","region":"eu-west-1","resources":[],"detail":` +
		`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","userName":"bob"},` +
		`"eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"192.0.2.1","requestParameters":{"bucketName":"b-` + id + `","x-amz-acl":"public-read"},"eventID":"` + id + `","recipientAccountId":"111122223333"}}`
}

// receiver is a webhook endpoint on loopback that records the alerts it
// is sent (Vigil's webhook payload) and when.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int // by event id
	lat []time.Duration
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		var p struct {
			Alerts []struct {
				EventID    string    `json:"event_id"`
				ReceivedAt time.Time `json:"received_at"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		for _, a := range p.Alerts {
			r.got[a.EventID]++
			r.lat = append(r.lat, now.Sub(a.ReceivedAt))
		}
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.got {
		distinct++
		total += n
	}
	return
}

type rig struct {
	d       *Daemon
	url     string
	spool   *spool.Spool
	store   *store.Store
	recv    *receiver
	stop    context.CancelFunc
	stopped chan error
	console *bytes.Buffer
}

// rigOptions add to what start sets up.
type rigOptions struct {
	sources     []Source
	snsTopics   []string
	snsVerifier *sns.Verifier
}

// start runs a daemon with the built-in rules, a real spool, alert store
// and outbox in dir, delivering to a webhook receiver.
func start(t *testing.T, dir string, recv *receiver, ro rigOptions) *rig {
	t.Helper()
	engine, err := detect.New(rules.All())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "alerts.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Notify{Receivers: []config.Receiver{{Name: "hook", Webhook: &config.WebhookReceiver{URL: recv.srv.URL}}}}
	disp, err := notify.NewDispatcher(cfg, ob, notify.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var d *Daemon
	h, err := server.New(server.Options{Spool: sp, Alerts: st, Metrics: m, Ready: func() error { return d.Ready() }, SNSTopics: ro.snsTopics, SNSVerifier: ro.snsVerifier})
	if err != nil {
		t.Fatal(err)
	}
	console := &bytes.Buffer{}
	d, err = New(Options{Engine: engine, Spool: sp, Store: st, Dispatcher: disp, Handler: h, Metrics: m, Logger: log, Sources: ro.sources, Console: &lockedWriter{w: console}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{d: d, url: "http://" + ln.Addr().String(), spool: sp, store: st, recv: recv, stop: cancel, stopped: make(chan error, 1), console: console}
	go func() {
		err := d.Run(ctx, ln)
		sp.Close()
		st.Close()
		ob.Close()
		r.stopped <- err
	}()
	return r
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (r *rig) shutdown(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop")
	}
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url+"/ingest", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEndToEnd posts events one at a time, in arrays and as JSON lines,
// and follows them to the receiver, the API, the console and the metrics.
func TestEndToEnd(t *testing.T) {
	recv := newReceiver(t)
	r := start(t, t.TempDir(), recv, rigOptions{})
	waitFor(t, "ready", func() bool { return r.d.Ready() == nil })
	if c := post(t, r.url, publicACL("one")); c != 202 {
		t.Fatalf("post: %d", c)
	}
	if c := post(t, r.url, "["+publicACL("two")+","+publicACL("three")+"]"); c != 202 {
		t.Fatalf("post array: %d", c)
	}
	if c := post(t, r.url, publicACL("four")+"\n"+publicACL("five")+"\n"); c != 202 {
		t.Fatalf("post ndjson: %d", c)
	}
	waitFor(t, "five alerts at the receiver", func() bool { d, _ := recv.count(); return d == 5 })
	// Alerts go to their receivers while they are being stored: the API
	// has them moments later.
	var page store.Page
	waitFor(t, "five alerts in the API", func() bool {
		resp, err := http.Get(r.url + "/api/alerts?rule=aws-s3-bucket-acl-public")
		if err != nil {
			t.Fatal(err)
		}
		page = store.Page{}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		return len(page.Alerts) == 5
	})
	a := page.Alerts[0].Alert
	if a.ReceivedAt.IsZero() || a.Resource == "" || a.Actor.Name == "" {
		t.Errorf("alert lacks who/what/when: %+v", a)
	}
	resp, err := http.Get(r.url + "/api/alerts/" + a.DedupKey)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"eventName":"PutBucketAcl"`)) {
		t.Errorf("GET alert: %d %s", resp.StatusCode, body)
	}
	waitFor(t, "spool acknowledged", func() bool { return r.spool.Stats().Pending == 0 })
	wants := []string{
		`vigil_events_total{kind="cloudtrail",source="http"} 5`,
		`vigil_payloads_total{source="http"} 3`,
		`vigil_rule_hits_total{rule="aws-s3-bucket-acl-public",severity=`,
		`vigil_alerts_delivered_total{destination="hook",outcome="sent",receiver="hook"} 5`,
		`vigil_alert_latency_from_receipt_seconds_count{destination="hook"} 5`,
	}
	var missing []string
	deadline := time.Now().Add(5 * time.Second) // a send's outcome is counted after the receiver has it
	for {
		resp, err = http.Get(r.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = missing[:0]
		for _, want := range wants {
			if !bytes.Contains(body, []byte(want)) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("metrics lack %s", m)
	}
	r.shutdown(t)
	if n := strings.Count(r.console.String(), "\n"); n != 5 {
		t.Errorf("console printed %d alerts, want 5", n)
	}
}

// TestShutdownFinishesWhatWasTaken stops the daemon while a source is
// mid-way through jobs: every job handed over is finished and its alert
// delivered; the source is told to stop.
func TestShutdownFinishesWhatWasTaken(t *testing.T) {
	recv := newReceiver(t)
	var mu sync.Mutex
	var done []string
	handed := make(chan struct{})
	src := Source{Name: "test", Run: func(ctx context.Context, out chan<- *source.Job) error {
		for i := 0; ; i++ {
			id := fmt.Sprintf("job%d", i)
			job := &source.Job{Input: source.Bytes(id, []byte(publicACL(id))), Source: "test", Received: time.Now(),
				Done: func(err error) {
					mu.Lock()
					done = append(done, id)
					mu.Unlock()
				}}
			select {
			case out <- job:
				if i == 20 {
					close(handed)
				}
			case <-ctx.Done():
				return nil
			}
		}
	}}
	r := start(t, t.TempDir(), recv, rigOptions{sources: []Source{src}})
	<-handed
	r.shutdown(t)
	mu.Lock()
	n := len(done)
	mu.Unlock()
	distinct, _ := recv.count()
	if n < 21 || distinct != n {
		t.Fatalf("%d jobs done, %d alerts delivered: every job taken must be finished and delivered", n, distinct)
	}
	for i, id := range done {
		if id != fmt.Sprintf("job%d", i) {
			t.Fatalf("done out of order: %v", done[:i+1])
		}
	}
}
