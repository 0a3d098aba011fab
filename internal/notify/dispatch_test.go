package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/outbox"
)

// hook is a local webhook receiver that answers what answer says and
// records the alerts of every notification it accepted.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	got      []string // dedup keys accepted, in order
	answer   func(n int) int
	delay    time.Duration
}

func newHook(t *testing.T, answer func(n int) int) *hook {
	h := &hook{answer: answer}
	h.Server = httptest.NewServer(h)
	t.Cleanup(h.Close)
	return h
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(h.delay)
	var p WebhookPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	code := h.answer(h.requests)
	if code == http.StatusOK {
		for _, a := range p.Alerts {
			h.got = append(h.got, a.DedupKey)
		}
	}
	w.WriteHeader(code)
}

func (h *hook) keys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func alerts(keys ...string) []*alert.Alert {
	var out []*alert.Alert
	for _, k := range keys {
		out = append(out, &alert.Alert{Rule: "r-" + k, Severity: detect.High, Title: "alert " + k, DedupKey: k})
	}
	return out
}

func fastRetries(receivers ...config.Receiver) config.Notify {
	return config.Notify{Receivers: receivers, MaxAttempts: 4, RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond}
}

func webhookReceiver(name, url string) config.Receiver {
	return config.Receiver{Name: name, Webhook: &config.WebhookReceiver{URL: url}}
}

func openOutbox(t *testing.T, path string) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// TestDispatcherDeliversRetriesAndDeadLetters runs four destinations at
// once: one healthy, one failing twice (503) before it accepts, one
// refusing the payload (400) and one slow. The healthy one gets every
// alert while the slow one is still busy; the flaky one gets every alert
// after retries; the refusing one's notifications are dead letters at
// once; an event delivered again does not notify again.
func TestDispatcherDeliversRetriesAndDeadLetters(t *testing.T) {
	ok := newHook(t, func(int) int { return http.StatusOK })
	flaky := newHook(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	bad := newHook(t, func(int) int { return http.StatusBadRequest })
	slow := newHook(t, func(int) int { return http.StatusOK })
	slow.delay = 300 * time.Millisecond

	ob := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	defer ob.Close()
	d, err := NewDispatcher(fastRetries(webhookReceiver("ok", ok.URL), webhookReceiver("flaky", flaky.URL),
		webhookReceiver("bad", bad.URL), webhookReceiver("slow", slow.URL)), ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	n, err := d.Notify(alerts("a", "b", "c"))
	if err != nil || n != 12 {
		t.Fatalf("Notify = %d, %v; want 12 queued", n, err)
	}
	start := time.Now()
	waitFor(t, "the healthy destination", 5*time.Second, func() bool { return len(ok.keys()) == 3 })
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Errorf("the healthy destination took %v: held back by the slow one?", took)
	}
	waitFor(t, "the flaky destination", 5*time.Second, func() bool { return len(flaky.keys()) == 3 })
	waitFor(t, "the slow destination", 5*time.Second, func() bool { return len(slow.keys()) == 3 })
	waitFor(t, "dead letters", 5*time.Second, func() bool { dead, _ := ob.Dead("bad"); return len(dead) == 3 })
	dead, _ := ob.Dead("bad")
	if dead[0].Attempts != 1 || dead[0].LastError == "" {
		t.Errorf("a refused notification was retried or has no error: %+v", dead[0])
	}

	if n, _ := d.Notify(alerts("a", "b", "c")); n != 0 {
		t.Errorf("the same alerts again queued %d, want 0 (dedup)", n)
	}
	time.Sleep(50 * time.Millisecond)
	if got := len(ok.keys()); got != 3 {
		t.Errorf("healthy destination got %d alerts, want 3", got)
	}

	// Retrying the dead letters after the receiver is fixed delivers them.
	bad.mu.Lock()
	bad.answer = func(int) int { return http.StatusOK }
	bad.mu.Unlock()
	if moved, err := ob.Retry(time.Now(), nil); err != nil || len(moved) != 3 {
		t.Fatalf("Retry = %d, %v", len(moved), err)
	}
	waitFor(t, "retried dead letters", 5*time.Second, func() bool { return len(bad.keys()) == 3 })
}

// TestDispatcherRunsOutOfAttempts: a destination that keeps failing gets
// MaxAttempts tries, then the notification is a dead letter.
func TestDispatcherRunsOutOfAttempts(t *testing.T) {
	down := newHook(t, func(int) int { return http.StatusBadGateway })
	ob := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	defer ob.Close()
	d, err := NewDispatcher(fastRetries(webhookReceiver("down", down.URL)), ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(alerts("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.Flush(ctx)
	dead, _ := ob.Dead("down")
	if len(dead) != 1 || dead[0].Attempts != 4 {
		t.Fatalf("dead = %+v, want one after 4 attempts", dead)
	}
	down.mu.Lock()
	defer down.mu.Unlock()
	if down.requests != 4 {
		t.Errorf("%d requests, want 4", down.requests)
	}
}

// TestOutboxSurvivesRestart: alerts queued while the destination is down
// are delivered by the next process, once it is back.
func TestOutboxSurvivesRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	url := fmt.Sprintf("http://%s/hook", addr)
	path := filepath.Join(t.TempDir(), "outbox.db")
	cfg := fastRetries(webhookReceiver("w", url))
	cfg.MaxAttempts = 1000

	ob := openOutbox(t, path)
	d, err := NewDispatcher(cfg, ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(alerts("p", "q"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	d.Flush(ctx) // fails, retries, gives up at the deadline
	cancel()
	ob.Close()

	// The receiver comes back on the same address; a new process delivers.
	h := &hook{answer: func(int) int { return http.StatusOK }}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	ob = openOutbox(t, path)
	defer ob.Close()
	if q, _ := ob.Queued("w"); len(q) != 2 || q[0].Attempts == 0 {
		t.Fatalf("queued after restart: %+v", q)
	}
	d, err = NewDispatcher(cfg, ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.Flush(ctx)
	if got := h.keys(); len(got) != 2 {
		t.Errorf("delivered after restart: %q", got)
	}
	if q, _ := ob.Queued("w"); len(q) != 0 {
		t.Errorf("still queued: %d", len(q))
	}
}

// TestDispatcherSendsInParallel: a destination that takes 100 ms to answer
// gets up to DefaultParallel notifications at once, so 2×DefaultParallel
// alerts take about two round trips, not one per alert; Slack gets one at
// a time.
func TestDispatcherSendsInParallel(t *testing.T) {
	var inFlight, most atomic.Int32
	track := func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		inFlight.Add(-1)
	}
	slow := httptest.NewServer(http.HandlerFunc(track))
	defer slow.Close()
	d, err := NewDispatcher(fastRetries(webhookReceiver("slow", slow.URL)), openOutbox(t, filepath.Join(t.TempDir(), "o.db")), Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2 * DefaultParallel
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	if _, err := d.Notify(alerts(keys...)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st := d.Flush(context.Background())
	if st.Alerts != n {
		t.Fatalf("delivered %d alerts, want %d", st.Alerts, n)
	}
	if took := time.Since(start); took > 1500*time.Millisecond || most.Load() != DefaultParallel {
		t.Errorf("%d notifications took %v with at most %d at once; want about 200ms with %d", n, took, most.Load(), DefaultParallel)
	}

	var s Sender = &slack{}
	if p, ok := s.(parallel); !ok || p.Parallel() != 1 {
		t.Error("Slack is not sent one message at a time")
	}
}
