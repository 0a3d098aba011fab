package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/outbox"
)

// Dispatcher delivers alerts: it routes each to its receivers, queues it
// in the outbox for each of their destinations, and runs one worker per
// destination that sends what is due, retries with exponential backoff
// and jitter, and dead-letters what runs out of attempts. A slow or
// failing destination holds up only its own worker.
type Dispatcher struct {
	ob      *outbox.Outbox
	router  *Router
	dests   map[string]Sender   // by destination name
	byRecv  map[string][]string // receiver -> its destinations
	recvs   []string
	max     int
	initial time.Duration
	maxWait time.Duration
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	delivered atomic.Int64 // notifications accepted by their destination
	alerts    atomic.Int64 // alerts in them
	observe   func(Attempt)

	// Early delivery (early.go): a queue per destination, and the dedup
	// keys sent early that Commit has not yet written, by destination
	// \x00 key.
	early  map[string]*earlyQueue
	rmu    sync.Mutex
	recent map[string]time.Time
}

// Attempt is one try at delivering a notification, as an observer (the
// daemon's metrics) sees it.
type Attempt struct {
	Dest     string
	Receiver string
	Alerts   []*alert.Alert
	// Err is nil when the destination accepted it; Dead says it will not
	// be tried again.
	Err  error
	Dead bool
	At   time.Time
}

// Observe makes the dispatcher call fn after every delivery attempt, from
// the destination's worker. Set it before Run.
func (d *Dispatcher) Observe(fn func(Attempt)) { d.observe = fn }

// Stats counts what a Flush delivered.
type Stats struct {
	Delivered int // notifications accepted
	Alerts    int // alerts in them
}

// Defaults for the dispatcher's settings.
const (
	DefaultMaxAttempts  = 20
	DefaultRetryInitial = time.Second
	DefaultRetryMax     = 5 * time.Minute
	// batch is how many due items a worker takes at once.
	batch = 64
)

// NewDispatcher builds the senders of every configured receiver and the
// route tree. tagsOf gives a rule's tags for routing.
func NewDispatcher(cfg config.Notify, ob *outbox.Outbox, o Options, tagsOf func(string) []string, log *slog.Logger) (*Dispatcher, error) {
	d := &Dispatcher{
		ob: ob, dests: map[string]Sender{}, byRecv: map[string][]string{},
		max:     cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts),
		initial: cmp.Or(cfg.RetryInitial, DefaultRetryInitial),
		maxWait: cmp.Or(cfg.RetryMax, DefaultRetryMax),
		timeout: 30 * time.Second,
		log:     cmp.Or(log, slog.New(slog.DiscardHandler)),
		now:     time.Now,
		early:   map[string]*earlyQueue{},
		recent:  map[string]time.Time{},
	}
	if o.ExternalURL == "" {
		o.ExternalURL = cfg.ExternalURL
	}
	for i, r := range cfg.Receivers {
		if r.Name == "" {
			return nil, fmt.Errorf("notify.receivers[%d]: a receiver needs a name", i)
		}
		if _, dup := d.byRecv[r.Name]; dup {
			return nil, fmt.Errorf("notify.receivers[%d]: receiver %q is configured twice", i, r.Name)
		}
		senders, err := New(r, o)
		if err != nil {
			return nil, err
		}
		d.recvs = append(d.recvs, r.Name)
		d.byRecv[r.Name] = nil
		for _, s := range senders {
			if _, dup := d.dests[s.Name()]; dup {
				return nil, fmt.Errorf("notify.receivers[%d]: destination %q is configured twice", i, s.Name())
			}
			d.dests[s.Name()] = s
			d.early[s.Name()] = newEarlyQueue()
			d.byRecv[r.Name] = append(d.byRecv[r.Name], s.Name())
		}
	}
	var err error
	if d.router, err = NewRouter(cfg.Route, d.recvs, tagsOf); err != nil {
		return nil, err
	}
	return d, nil
}

// Receivers returns the configured receivers' names, in order.
func (d *Dispatcher) Receivers() []string { return d.recvs }

// Destinations returns the destinations of a receiver (all when name is
// empty), sorted.
func (d *Dispatcher) Destinations(receiver string) []string {
	var out []string
	for r, ds := range d.byRecv {
		if receiver == "" || r == receiver {
			out = append(out, ds...)
		}
	}
	sort.Strings(out)
	return out
}

// Notify routes alerts and queues them durably; it returns how many
// (alert, destination) pairs were queued, duplicates within a route's
// repeat interval not counted. When it returns nil the alerts survive a
// crash.
func (d *Dispatcher) Notify(alerts []*alert.Alert) (int, error) {
	entries, _ := d.route(alerts)
	if len(entries) == 0 {
		return 0, nil
	}
	return d.ob.Add(d.now(), entries)
}

// route gives the outbox entries of alerts, and for each whether its
// route makes it a notification of its own at once.
func (d *Dispatcher) route(alerts []*alert.Alert) (entries []outbox.Entry, alone []bool) {
	for _, a := range alerts {
		for _, m := range d.router.Route(a) {
			for _, dest := range d.byRecv[m.Receiver] {
				entries = append(entries, outbox.Entry{Dest: dest, Receiver: m.Receiver, GroupKey: m.GroupKey,
					Alert: a, Wait: m.GroupWait, Repeat: m.Repeat})
				alone = append(alone, m.Alone)
			}
		}
	}
	return entries, alone
}

// Run delivers until ctx is done: one worker per destination.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for name := range d.dests {
		wg.Go(func() { d.worker(ctx, name, time.Time{}) })
	}
	wg.Wait()
}

// worker delivers what is due for dest until ctx is done, or, when
// until is set, until nothing is due before it.
func (d *Dispatcher) worker(ctx context.Context, dest string, until time.Time) {
	if until.IsZero() {
		d.stream(ctx, dest)
		return
	}
	wake := d.ob.Wake(dest)
	for ctx.Err() == nil {
		items, next, err := d.ob.Due(dest, d.now(), batch)
		if err != nil {
			d.log.Error("outbox", "dest", dest, "err", err)
			next = d.now().Add(time.Second)
		}
		if len(items) > 0 {
			results, unsent := d.deliver(ctx, dest, items)
			d.ob.Release(unsent)
			if len(results) > 0 {
				d.record(dest, results)
			}
			continue
		}
		if next.IsZero() || next.After(until) {
			return
		}
		if !d.sleep(ctx, wake, next, nil) {
			return
		}
	}
}

// record writes the outcomes of attempts.
func (d *Dispatcher) record(dest string, results []outbox.Result) {
	if err := d.ob.Done(d.now(), results); err != nil {
		d.log.Error("outbox", "dest", dest, "err", err)
	}
}

// sleep waits until next (an hour when zero), a wake-up, a free slot
// (when slots is set) or the end of ctx; it reports whether ctx is still
// going.
func (d *Dispatcher) sleep(ctx context.Context, wake <-chan struct{}, next time.Time, slot <-chan struct{}) bool {
	wait := time.Hour
	if !next.IsZero() {
		wait = max(next.Sub(d.now()), 0)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	case <-slot:
	}
	return true
}

// stream is the long-running worker: each item is sent as soon as it is
// due and one of the sender's slots is free, without waiting for the
// others in flight, and outcomes are recorded in groups (whatever
// finished while the last write was syncing), so that an alert's way from
// the outbox to its destination is one read and one request.
func (d *Dispatcher) stream(ctx context.Context, dest string) {
	s := d.dests[dest]
	n := DefaultParallel
	if p, ok := s.(parallel); ok {
		n = max(p.Parallel(), 1)
	}
	wake := d.ob.Wake(dest)
	free := make(chan struct{}, n) // a token per idle slot
	for range n {
		free <- struct{}{}
	}
	freed := make(chan struct{}, 1) // a slot came free
	// Outcomes wait here, unbounded, while the last ones are written: a
	// sender never waits for the disk.
	var mu sync.Mutex
	var outcomes []outbox.Result
	kick := make(chan struct{}, 1)
	stop := make(chan struct{})
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		for {
			stopping := false
			select {
			case <-kick:
			case <-stop:
				stopping = true
			}
			mu.Lock()
			batch := outcomes
			outcomes = nil
			mu.Unlock()
			if len(batch) > 0 {
				d.record(dest, batch)
			}
			if stopping {
				return
			}
		}
	}()
	report := func(r outbox.Result) {
		mu.Lock()
		outcomes = append(outcomes, r)
		mu.Unlock()
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	release := func() {
		free <- struct{}{}
		select {
		case freed <- struct{}{}:
		default:
		}
	}
	var sending sync.WaitGroup
	// Alerts sent early (Prepare) take the same slots as queued items:
	// Prepare starts them itself while a slot is free, and the feeder
	// sends the backlog as slots free.
	eq := d.early[dest]
	sendEarly := func(es *earlySend) { // with a slot taken
		sending.Go(func() {
			defer release()
			d.sendEarly(ctx, dest, s, es, report)
		})
	}
	eq.run(func(es *earlySend) bool {
		select {
		case <-free:
		default:
			return false
		}
		sendEarly(es)
		return true
	})
	var feeding sync.WaitGroup
	feeding.Go(func() {
		for {
			var es *earlySend
			select {
			case <-ctx.Done():
				return
			case es = <-eq.ch:
			}
			select {
			case <-free:
			case <-ctx.Done():
				d.untried(es)
				return
			}
			sendEarly(es)
		}
	})
	defer func() {
		// No send starts once the queue is stopped and the feeder is
		// gone; then wait for those in flight.
		left := eq.stop()
		feeding.Wait()
		sending.Wait()
		for _, es := range left {
			d.untried(es)
		}
		close(stop)
		<-recorded
	}()
	for ctx.Err() == nil {
		idle := len(free)
		if idle == 0 {
			if !d.sleep(ctx, nil, d.now().Add(time.Hour), freed) {
				return
			}
			continue
		}
		// More than the idle slots: the rest wait for a slot, marked
		// as being sent, and one read serves a burst.
		items, next, err := d.ob.Due(dest, d.now(), batch)
		if err != nil {
			d.log.Error("outbox", "dest", dest, "err", err)
			next = d.now().Add(time.Second)
		}
		for _, it := range items {
			<-free
			sending.Go(func() {
				defer release()
				r := d.attempt(ctx, dest, s, it)
				if r == nil {
					d.ob.Release([]*outbox.Item{it})
					return
				}
				report(*r)
			})
		}
		if len(items) > 0 {
			continue
		}
		if !d.sleep(ctx, wake, next, nil) {
			return
		}
	}
}

// attempt sends one item and judges the outcome; nil when ctx ended
// first (the item stays as it was).
func (d *Dispatcher) attempt(ctx context.Context, dest string, s Sender, it *outbox.Item) *outbox.Result {
	if s == nil { // a destination no longer configured
		return &outbox.Result{Item: it, Err: errors.New("destination not configured")}
	}
	sctx, cancel := context.WithTimeout(ctx, d.timeout)
	err := s.Send(sctx, &Notification{Receiver: it.Receiver, GroupKey: it.GroupKey, Alerts: it.Alerts, Test: it.Test})
	cancel()
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return d.outcome(ctx, dest, it, err)
}

// DefaultParallel is how many notifications a destination is sent at
// once, unless its sender says otherwise (Slack's webhooks take one
// message a second: one at a time). Alerts that are notifications of
// their own go out as they come, and a burst of them should not queue
// behind a destination's round trips: 32 in flight carry 300 alerts a
// second to a destination 100 ms away, and on loopback keep a
// receiver's pauses from adding up.
const DefaultParallel = 32

// parallel is implemented by senders that want fewer (or more)
// notifications in flight than DefaultParallel.
type parallel interface{ Parallel() int }

// deliver sends items, up to the sender's parallelism at once (a
// destination on the other side of the world answers in 100 ms or more,
// and alerts are independent of each other), and returns the outcomes,
// and the items not tried because ctx ended.
func (d *Dispatcher) deliver(ctx context.Context, dest string, items []*outbox.Item) (results []outbox.Result, unsent []*outbox.Item) {
	s := d.dests[dest]
	n := DefaultParallel
	if p, ok := s.(parallel); ok {
		n = max(p.Parallel(), 1)
	}
	outcomes := make([]*outbox.Result, len(items))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outcomes[i] = d.attempt(ctx, dest, s, it)
		})
	}
	wg.Wait()
	for i, r := range outcomes {
		if r != nil {
			results = append(results, *r)
		} else {
			unsent = append(unsent, items[i])
		}
	}
	return results, unsent
}

// outcome judges one attempt: delivered, to retry (when), or dead.
func (d *Dispatcher) outcome(ctx context.Context, dest string, it *outbox.Item, err error) *outbox.Result {
	r := &outbox.Result{Item: it, Err: err}
	if err != nil {
		attempts := it.Attempts + 1
		if !IsPermanent(err) && attempts < d.max {
			r.Retry = d.now().Add(d.backoff(attempts, RetryAfter(err)))
		}
		level := slog.LevelWarn
		if r.Retry.IsZero() {
			level = slog.LevelError
		}
		d.log.Log(ctx, level, "delivery failed", "dest", dest, "item", it.ID, "alerts", len(it.Alerts),
			"attempt", attempts, "err", err, "retry_at", r.Retry, "dead", r.Retry.IsZero())
	} else {
		d.delivered.Add(1)
		d.alerts.Add(int64(len(it.Alerts)))
		d.log.Debug("delivered", "dest", dest, "item", it.ID, "alerts", len(it.Alerts))
	}
	if d.observe != nil {
		d.observe(Attempt{Dest: dest, Receiver: it.Receiver, Alerts: it.Alerts, Err: err, Dead: err != nil && r.Retry.IsZero(), At: d.now()})
	}
	return r
}

// backoff is the wait before attempt n+1: exponential from the initial
// wait, capped, with jitter over its upper half; a longer wait the
// destination asked for wins, up to an hour.
func (d *Dispatcher) backoff(n int, asked time.Duration) time.Duration {
	w := d.initial
	for i := 1; i < n && w < d.maxWait; i++ {
		w *= 2
	}
	w = min(w, d.maxWait)
	w = w/2 + rand.N(w/2+1)
	if asked > w {
		w = min(asked, maxRetryAfter)
	}
	return w
}

// Flush delivers everything queued, without waiting for groups to fill,
// retrying with backoff until ctx is done; what is still undelivered then
// stays queued for the next run. It is for one-shot runs (`vigil scan
// --notify`).
func (d *Dispatcher) Flush(ctx context.Context) Stats {
	n, a := d.delivered.Load(), d.alerts.Load()
	now := d.now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(time.Hour)
	}
	var wg sync.WaitGroup
	for name := range d.dests {
		if err := d.ob.Expedite(name, now); err != nil {
			d.log.Error("outbox", "dest", name, "err", err)
		}
		wg.Go(func() { d.worker(ctx, name, deadline) })
	}
	wg.Wait()
	return Stats{Delivered: int(d.delivered.Load() - n), Alerts: int(d.alerts.Load() - a)}
}

// Status is what the outbox holds for one destination.
type Status struct {
	Dest   string
	Queued int // notifications waiting
	Dead   int
	// LastError is the latest failure of a queued notification.
	LastError string
}

// Status reports every configured destination's outbox.
func (d *Dispatcher) Status() ([]Status, error) {
	var out []Status
	for _, dest := range d.Destinations("") {
		queued, dead, lastErr, err := d.ob.Count(dest)
		if err != nil {
			return nil, err
		}
		out = append(out, Status{Dest: dest, Queued: queued, Dead: dead, LastError: lastErr})
	}
	return out, nil
}

// TestResult is one destination's answer to a test notification.
type TestResult struct {
	Receiver, Dest string
	Err            error
	Took           time.Duration
}

// Test sends a test notification to every destination of receiver (all
// receivers when empty) directly, not through the outbox, and reports each
// one's answer.
func (d *Dispatcher) Test(ctx context.Context, receiver string, a *alert.Alert) ([]TestResult, error) {
	if receiver != "" {
		if _, ok := d.byRecv[receiver]; !ok {
			return nil, fmt.Errorf("receiver %q is not configured", receiver)
		}
	}
	var mu sync.Mutex
	var out []TestResult
	var wg sync.WaitGroup
	for _, r := range d.recvs {
		if receiver != "" && r != receiver {
			continue
		}
		for _, dest := range d.byRecv[r] {
			wg.Go(func() {
				start := time.Now()
				sctx, cancel := context.WithTimeout(ctx, d.timeout)
				err := d.dests[dest].Send(sctx, &Notification{Receiver: r, GroupKey: "vigil-test", Alerts: []*alert.Alert{a}, Test: true})
				cancel()
				mu.Lock()
				out = append(out, TestResult{Receiver: r, Dest: dest, Err: err, Took: time.Since(start)})
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Dest < out[j].Dest })
	return out, nil
}
