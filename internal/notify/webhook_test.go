package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
)

const webhookSecret = "s3cr3t-webhook-key"

func newTestWebhook(t *testing.T, u string, headers map[string]string) *webhook {
	t.Helper()
	ss, err := New(config.Receiver{Name: "siem", Webhook: &config.WebhookReceiver{URL: u, Secret: webhookSecret, Headers: headers}}, testOptions)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ss[0].(*webhook)
}

func TestWebhookPayload(t *testing.T) {
	srv := newRecorder(t, nil)
	s := newTestWebhook(t, srv.URL+"/hook?x=1", map[string]string{"Authorization": "Bearer tok-123456", "X-Team": "sec"})
	n := testNotification(testAlert(), awsAlert())
	n.Test = true
	before := time.Now().Unix()
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := srv.only(t)
	golden(t, "webhook.json", req.Body)

	var p struct {
		Version  string            `json:"version"`
		Receiver string            `json:"receiver"`
		GroupKey string            `json:"group_key"`
		Test     bool              `json:"test"`
		Alerts   []json.RawMessage `json:"alerts"`
	}
	decodeStrict(t, req.Body, &p)
	if p.Version != "1" || p.Receiver != "ops" || p.GroupKey != n.GroupKey || !p.Test || len(p.Alerts) != 2 {
		t.Errorf("payload = %+v", p)
	}
	var a alert.Alert
	if err := json.Unmarshal(p.Alerts[0], &a); err != nil {
		t.Fatalf("alert: %v", err)
	}
	if a.DedupKey != testAlert().DedupKey || a.Actor.ARN != testAlert().Actor.ARN || a.Origin != testAlert().Origin {
		t.Errorf("alert round trip lost fields: %+v", a)
	}
	want, _ := json.Marshal(testAlert())
	if string(p.Alerts[0]) != string(want) {
		t.Errorf("alert JSON is not encoding/json of alert.Alert:\n got %s\nwant %s", p.Alerts[0], want)
	}

	h := req.Header
	for k, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "vigil/1.2.3",
		"Authorization": "Bearer tok-123456", "X-Team": "sec",
	} {
		if h.Get(k) != want {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), want)
		}
	}
	ts := h.Get(WebhookTimestampHeader)
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || sec < before || sec > time.Now().Unix() {
		t.Errorf("%s = %q, want the Unix time of sending", WebhookTimestampHeader, ts)
	}
	sig := h.Get(WebhookSignatureHeader)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("%s = %q", WebhookSignatureHeader, sig)
	}
	if !VerifyWebhook(webhookSecret, ts, req.Body, sig) {
		t.Fatal("VerifyWebhook refuses the signature Vigil sent")
	}
	for i := range req.Body {
		changed := append([]byte(nil), req.Body...)
		changed[i] ^= 1
		if VerifyWebhook(webhookSecret, ts, changed, sig) {
			t.Fatalf("VerifyWebhook accepts the body with byte %d changed", i)
		}
	}
	for _, tc := range []struct{ name, secret, ts, sig string }{
		{"other secret", "other", ts, sig},
		{"other timestamp", webhookSecret, strconv.FormatInt(before-600, 10), sig},
		{"no prefix", webhookSecret, ts, strings.TrimPrefix(sig, "sha256=")},
		{"not hex", webhookSecret, ts, "sha256=zz"},
		{"empty", webhookSecret, ts, ""},
		{"empty secret", "", ts, sig},
	} {
		if VerifyWebhook(tc.secret, tc.ts, req.Body, tc.sig) {
			t.Errorf("%s: VerifyWebhook = true", tc.name)
		}
	}
}

func TestWebhookUnsigned(t *testing.T) {
	srv := newRecorder(t, nil)
	ss, err := New(config.Receiver{Name: "w", Webhook: &config.WebhookReceiver{URL: srv.URL}}, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss[0].Send(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	if h := srv.only(t).Header; h.Get(WebhookSignatureHeader) != "" || h.Get(WebhookTimestampHeader) == "" {
		t.Errorf("without a secret: signature %q, timestamp %q", h.Get(WebhookSignatureHeader), h.Get(WebhookTimestampHeader))
	}
}

func TestWebhookReservedHeaders(t *testing.T) {
	for _, k := range []string{"x-vigil-signature", "X-Vigil-Timestamp", "content-type", "Content-Length", "Host"} {
		_, err := New(config.Receiver{Name: "w", Webhook: &config.WebhookReceiver{URL: "http://x", Headers: map[string]string{k: "forged"}}}, testOptions)
		if err == nil || !strings.Contains(err.Error(), "webhook.headers") {
			t.Errorf("header %s: New() = %v, want a webhook.headers error", k, err)
		}
	}
	for _, h := range []map[string]string{{"Bad Name": "x"}, {"X-Ok": "a\r\nInjected: 1"}} {
		if _, err := New(config.Receiver{Name: "w", Webhook: &config.WebhookReceiver{URL: "http://x", Headers: h}}, testOptions); err == nil {
			t.Errorf("headers %q: no error", h)
		}
	}

	// Even a sender built around validation cannot be made to send
	// forged values: Vigil's own headers are set last.
	srv := newRecorder(t, nil)
	s := newTestWebhook(t, srv.URL, nil)
	s.p.header = http.Header{
		"X-Vigil-Signature": {"sha256=forged"}, "X-Vigil-Timestamp": {"1"}, "Content-Type": {"text/plain"},
	}
	if err := s.Send(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	req := srv.only(t)
	if !VerifyWebhook(webhookSecret, req.Header.Get(WebhookTimestampHeader), req.Body, req.Header.Get(WebhookSignatureHeader)) ||
		req.Header.Get("Content-Type") != "application/json" || len(req.Header.Values(WebhookSignatureHeader)) != 1 {
		t.Errorf("forged headers went through: %v", req.Header)
	}
}

func TestWebhookStatus(t *testing.T) {
	mk := func(t *testing.T, u string) Sender { return newTestWebhook(t, u, nil) }
	runStatusCases(t, mk, testNotification())
	runTransportCases(t, mk, testNotification())
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add("secret", "1700000000", []byte(`{"version":"1"}`), "sha256=00")
	f.Add("", "", []byte{}, "")
	f.Fuzz(func(t *testing.T, secret, ts string, body []byte, sig string) {
		VerifyWebhook(secret, ts, body, sig) // must not panic
		if secret != "" && !VerifyWebhook(secret, ts, body, signWebhook([]byte(secret), ts, body)) {
			t.Errorf("VerifyWebhook refuses its own signature")
		}
	})
}

func TestSendConcurrently(t *testing.T) {
	srv := newRecorder(t, nil)
	senders := []Sender{newTestWebhook(t, srv.URL, map[string]string{"X-Team": "sec"}), newTestSlack(t, srv.URL), newTestPD(t, srv.URL), newTestAM(t, srv.URL)[0]}
	done := make(chan error)
	for _, s := range senders {
		for range 10 {
			go func() { done <- s.Send(context.Background(), testNotification()) }()
		}
	}
	for range 10 * len(senders) {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if got := len(srv.requests()); got != 10*len(senders) {
		t.Errorf("%d requests, want %d", got, 10*len(senders))
	}
}
