package notify

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/outbox"
)

// runWorkers starts d's workers and returns a stop that waits for them.
func runWorkers(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	// Prepare sends early only once a destination's worker has started.
	waitFor(t, "the workers", 5*time.Second, func() bool {
		for _, q := range d.early {
			if !q.isOpen() {
				return false
			}
		}
		return true
	})
	var once atomic.Bool
	stop = func() {
		if once.CompareAndSwap(false, true) {
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func queued(t *testing.T, ob *outbox.Outbox, dest string) int {
	t.Helper()
	q, _, _, err := ob.Count(dest)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestPrepareSendsBeforeCommit: an alert that is a notification of its
// own reaches its destination from Prepare, before Commit writes
// anything; Commit then leaves nothing queued, and the alert repeated
// within the repeat interval is not sent again, before or after the
// commit.
func TestPrepareSendsBeforeCommit(t *testing.T) {
	h := newHook(t, func(int) int { return http.StatusOK })
	ob := openOutbox(t, filepath.Join(t.TempDir(), "o.db"))
	d, err := NewDispatcher(fastRetries(webhookReceiver("w", h.URL)), ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runWorkers(t, d)
	p := d.Prepare(alerts("a", "b"))
	waitFor(t, "the early sends", 5*time.Second, func() bool { return len(h.keys()) == 2 })
	if n := queued(t, ob, d.Destinations("w")[0]); n != 0 {
		t.Fatalf("%d items queued before Commit", n)
	}
	// The same alert again before the first is committed, then after.
	again := d.Prepare(alerts("a"))
	if n, err := d.Commit([]*Prepared{p, again}); n != 2 || err != nil {
		t.Fatalf("Commit = %d, %v; want 2 (the repeat dropped)", n, err)
	}
	d.Commit([]*Prepared{d.Prepare(alerts("a", "c"))})
	waitFor(t, "c", 5*time.Second, func() bool { return len(h.keys()) == 3 })
	time.Sleep(50 * time.Millisecond)
	if got := strings.Join(h.keys(), ","); got != "a,b,c" && got != "b,a,c" {
		t.Errorf("received %s, want a, b and c once each", got)
	}
	waitFor(t, "the outbox to empty", 5*time.Second, func() bool { return queued(t, ob, d.Destinations("w")[0]) == 0 })
}

// TestPrepareCommitWhileSending: Commit runs while the early send is in
// flight; the item it queues is settled by the send, not sent again.
func TestPrepareCommitWhileSending(t *testing.T) {
	h := newHook(t, func(int) int { return http.StatusOK })
	h.delay = 300 * time.Millisecond
	ob := openOutbox(t, filepath.Join(t.TempDir(), "o.db"))
	d, err := NewDispatcher(fastRetries(webhookReceiver("w", h.URL)), ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runWorkers(t, d)
	p := d.Prepare(alerts("a"))
	if n, err := d.Commit([]*Prepared{p}); n != 1 || err != nil {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	if n := queued(t, ob, d.Destinations("w")[0]); n != 1 {
		t.Fatalf("%d items queued while sending, want 1", n)
	}
	waitFor(t, "the outbox to empty", 5*time.Second, func() bool { return queued(t, ob, d.Destinations("w")[0]) == 0 })
	time.Sleep(100 * time.Millisecond)
	if got := h.keys(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("received %v, want a once", got)
	}
}

// TestPrepareDestinationDown: an early send that fails is queued for a
// retry by Commit and delivered when the destination is back, once.
func TestPrepareDestinationDown(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	h := newHook(t, func(int) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ob := openOutbox(t, filepath.Join(t.TempDir(), "o.db"))
	cfg := fastRetries(webhookReceiver("w", h.URL))
	cfg.MaxAttempts = 1000
	d, err := NewDispatcher(cfg, ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runWorkers(t, d)
	p := d.Prepare(alerts("a"))
	waitFor(t, "the early attempt", 5*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.requests > 0
	})
	if _, err := d.Commit([]*Prepared{p}); err != nil {
		t.Fatal(err)
	}
	if n := queued(t, ob, d.Destinations("w")[0]); n != 1 {
		t.Fatalf("%d items queued after a failed early send, want 1", n)
	}
	down.Store(false)
	waitFor(t, "delivery after the outage", 5*time.Second, func() bool { return len(h.keys()) == 1 })
	waitFor(t, "the outbox to empty", 5*time.Second, func() bool { return queued(t, ob, d.Destinations("w")[0]) == 0 })
	if got := h.keys(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("received %v, want a once", got)
	}
}

// TestPrepareGroupedWaitsForCommit: alerts of a route that groups are
// not sent early; they go out together once committed.
func TestPrepareGroupedWaitsForCommit(t *testing.T) {
	h := newHook(t, func(int) int { return http.StatusOK })
	ob := openOutbox(t, filepath.Join(t.TempDir(), "o.db"))
	cfg := fastRetries(webhookReceiver("w", h.URL))
	cfg.Route = &config.Route{Receiver: "w", GroupBy: []string{"severity"}}
	d, err := NewDispatcher(cfg, ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runWorkers(t, d)
	p := d.Prepare(alerts("a", "b"))
	time.Sleep(100 * time.Millisecond)
	if got := h.keys(); len(got) != 0 {
		t.Fatalf("grouped alerts sent before Commit: %v", got)
	}
	d.Commit([]*Prepared{p})
	waitFor(t, "the group", 5*time.Second, func() bool { return len(h.keys()) == 2 })
	h.mu.Lock()
	requests := h.requests
	h.mu.Unlock()
	if requests != 1 {
		t.Errorf("%d requests, want the group in one", requests)
	}
}

// TestPrepareWithoutWorkers: with no worker running (a one-shot scan, or
// after shutdown began) Prepare sends nothing; Commit queues the alerts
// and Flush delivers them.
func TestPrepareWithoutWorkers(t *testing.T) {
	h := newHook(t, func(int) int { return http.StatusOK })
	ob := openOutbox(t, filepath.Join(t.TempDir(), "o.db"))
	d, err := NewDispatcher(fastRetries(webhookReceiver("w", h.URL)), ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := runWorkers(t, d)
	stop()
	p := d.Prepare(alerts("a"))
	time.Sleep(50 * time.Millisecond)
	if got := h.keys(); len(got) != 0 {
		t.Fatalf("sent without a worker: %v", got)
	}
	if n, err := d.Commit([]*Prepared{p}); n != 1 || err != nil {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st := d.Flush(ctx); st.Alerts != 1 {
		t.Fatalf("Flush delivered %d alerts, want 1", st.Alerts)
	}
}

// TestPrepareStopBeforeSend: early alerts still waiting when the workers
// stop are not lost: once committed, Flush delivers them.
func TestPrepareStopBeforeSend(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	h := newHook(t, func(int) int {
		if slow.Load() {
			time.Sleep(200 * time.Millisecond)
		}
		return http.StatusOK
	})
	ob := openOutbox(t, filepath.Join(t.TempDir(), "o.db"))
	d, err := NewDispatcher(fastRetries(config.Receiver{Name: "s", Slack: &config.SlackReceiver{WebhookURL: h.URL}}), ob, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := runWorkers(t, d)
	// Slack takes one at a time: the second and third wait for a slot.
	p := d.Prepare(alerts("a", "b", "c"))
	time.Sleep(50 * time.Millisecond)
	stop() // the first send is cut short, the others never start
	if n, err := d.Commit([]*Prepared{p}); n != 3 || err != nil {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	slow.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st := d.Flush(ctx); st.Alerts != 3 {
		t.Fatalf("Flush delivered %d alerts, want 3", st.Alerts)
	}
}
