package notify

import (
	"context"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/outbox"
)

// Early delivery. An alert that is a notification of its own (its route
// neither groups nor waits) needs nothing from the outbox but the promise
// that it will be sent again if this send fails or the process dies. The
// daemon gives that promise another way: it does not tell an event's
// source that the event is done until Commit has queued its alerts, so a
// crash before then makes the alerts again. Prepare therefore hands such
// alerts to their destinations' workers at once, from memory, and Commit
// queues them durably at the same time; outbox.Early reconciles the two.
// An alert's way from its event to its destination then has no synced
// write on it.

// earlyBacklog bounds the alerts of one destination waiting for a slot to
// be sent early; beyond it they take the outbox's way.
const earlyBacklog = 1024

// earlyQueue holds one destination's alerts to send early.
type earlyQueue struct {
	mu   sync.Mutex
	open bool // a stream worker runs
	// start, set while open, starts sending s at once if one of the
	// destination's slots is free: most alerts go out from Prepare
	// without waiting for another goroutine to pick them up.
	start func(s *earlySend) bool
	ch    chan *earlySend // the rest, for the worker to send as slots free
}

type earlySend struct {
	x  *outbox.Early
	it *outbox.Item // what is sent: the alert, its receiver and group
}

func newEarlyQueue() *earlyQueue { return &earlyQueue{ch: make(chan *earlySend, earlyBacklog)} }

func (q *earlyQueue) isOpen() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.open
}

// push starts or queues s unless no worker runs or the backlog is full.
func (q *earlyQueue) push(s *earlySend) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.open {
		return false
	}
	if q.start(s) {
		return true
	}
	select {
	case q.ch <- s:
		return true
	default:
		return false
	}
}

// run opens the queue to push; start is called with the queue locked.
func (q *earlyQueue) run(start func(*earlySend) bool) {
	q.mu.Lock()
	q.open, q.start = true, start
	q.mu.Unlock()
}

// stop closes the queue to push and returns what waits in it. Once it
// returns, start is not called again.
func (q *earlyQueue) stop() []*earlySend {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.open, q.start = false, nil
	var left []*earlySend
	for {
		select {
		case s := <-q.ch:
			left = append(left, s)
		default:
			return left
		}
	}
}

// Prepared is alerts routed, those that go early already on their way;
// pass it to Commit.
type Prepared struct {
	entries []outbox.Entry
	recent  []recentKey // what Prepare noted in Dispatcher.recent
}

type recentKey struct {
	key string
	at  time.Time
}

// Prepare routes alerts and, for each destination whose worker is running
// (Run), starts sending at once, from memory, every alert that is a
// notification of its own; repeats within the route's repeat interval
// are dropped, as Notify drops them. Every Prepared must then go to
// Commit, and the alerts' source must not be told it is done before
// Commit returns. Prepare is meant for one goroutine (the daemon's
// pipeline) and may run while Commit does.
func (d *Dispatcher) Prepare(alerts []*alert.Alert) *Prepared {
	entries, alone := d.route(alerts)
	p := &Prepared{}
	if len(entries) == 0 {
		return p
	}
	now := d.now()
	// The early ones: their repeats are checked here, against what is on
	// disk and what earlier Prepares sent and Commit has not yet written.
	var check []outbox.Entry
	for i, e := range entries {
		if alone[i] = alone[i] && d.early[e.Dest].isOpen(); alone[i] && hasRepeat(e) {
			check = append(check, e)
		}
	}
	// Under the lock, so that Commit cannot forget a key between this
	// read of the disk and the look into recent.
	d.rmu.Lock()
	defer d.rmu.Unlock()
	var repeats []bool
	if len(check) > 0 {
		var err error
		if repeats, err = d.ob.Repeats(now, check); err != nil {
			d.log.Error("outbox", "err", err)
			clear(alone) // the outbox's way, which checks again
		}
	}
	for i, e := range entries {
		if !alone[i] {
			p.entries = append(p.entries, e)
			continue
		}
		if hasRepeat(e) {
			repeated := repeats[0]
			repeats = repeats[1:]
			k := e.Dest + "\x00" + e.Alert.DedupKey
			if at, ok := d.recent[k]; repeated || ok && now.Sub(at) < e.Repeat {
				continue
			}
			d.recent[k] = now
			p.recent = append(p.recent, recentKey{k, now})
		}
		e.Early = new(outbox.Early)
		it := &outbox.Item{Dest: e.Dest, Receiver: e.Receiver, GroupKey: e.GroupKey, Alerts: []*alert.Alert{e.Alert}, NAlerts: 1, Created: now}
		if !d.early[e.Dest].push(&earlySend{x: e.Early, it: it}) {
			e.Early = nil // backlog full: the outbox's way (its repeat is noted)
		}
		p.entries = append(p.entries, e)
	}
	return p
}

func hasRepeat(e outbox.Entry) bool { return e.Repeat > 0 && e.Alert.DedupKey != "" }

// Commit queues prepared alerts durably, in one transaction: when it
// returns nil they survive a crash (those already delivered early are
// only remembered for the repeat interval). It returns how many (alert,
// destination) pairs were queued or delivered early.
func (d *Dispatcher) Commit(ps []*Prepared) (int, error) {
	var entries []outbox.Entry
	for _, p := range ps {
		entries = append(entries, p.entries...)
	}
	n := 0
	if len(entries) > 0 {
		var err error
		if n, err = d.ob.Add(d.now(), entries); err != nil {
			return 0, err
		}
	}
	// The outbox has their repeats now.
	d.rmu.Lock()
	for _, p := range ps {
		for _, r := range p.recent {
			if at, ok := d.recent[r.key]; ok && at.Equal(r.at) {
				delete(d.recent, r.key)
			}
		}
	}
	d.rmu.Unlock()
	return n, nil
}

// sendEarly sends one early alert and hands its outcome to the outbox's
// item for it, through report, if Commit has queued it.
func (d *Dispatcher) sendEarly(ctx context.Context, dest string, s Sender, es *earlySend, report func(outbox.Result)) {
	r := d.attempt(ctx, dest, s, es.it)
	if r == nil {
		d.untried(es)
		return
	}
	if it := es.x.Finish(r.Err, r.Retry); it != nil {
		report(outbox.Result{Item: it, Err: r.Err, Retry: r.Retry})
	}
}

// untried gives back an early alert that was not sent.
func (d *Dispatcher) untried(es *earlySend) {
	if it := es.x.Untried(); it != nil {
		d.ob.Release([]*outbox.Item{it})
	}
}
