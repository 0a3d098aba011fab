// Package pipeline wires sources to decoders to the detection engine and
// hands results on in a deterministic order. It owns all the goroutines:
// payload readers cut payloads into batches of frames, workers decode and
// evaluate batches on every core, and the caller's goroutine receives
// results in input order, however the work was scheduled.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/source"
)

// Handler receives results. Its methods are called from the goroutine that
// called Run, one at a time, in input order: all results of a payload come
// after those of the payloads before it, and in record order within it.
type Handler interface {
	Finding(f *detect.Finding)
	RecordError(err *decode.RecordError)
	Unsupported(u *decode.Unsupported)
	RuleError(err *detect.RuleError)
	PayloadDone(p PayloadResult)
}

// PayloadResult reports a payload once all its records are handled.
type PayloadResult struct {
	Name string
	// Job is the payload as RunStream was given it; nil in Run.
	Job    *source.Job
	Info   decode.Info
	Events int
	// Kinds counts the payload's events by kind.
	Kinds [event.NumKinds]int64
	// Err is set when the payload as a whole failed (open, read, gzip,
	// unknown format, limits). Records before the failure were processed.
	Err error
}

// Options tune a Pipeline. Zero values mean defaults.
type Options struct {
	// Workers is how many goroutines decode and evaluate; default
	// GOMAXPROCS.
	Workers int
	Limits  decode.Limits
	// Enrich, if set, adds context (where an address is, who owns it) to
	// each event before the rules see it. It is called from many
	// goroutines at once.
	Enrich Enricher
	// Buffers, if set, recycles the buffers payloads are read into, and
	// the pipeline recycles the events decoded from them. Then a finding,
	// its event and the errors a Handler is given are valid only during
	// the call: a Handler that keeps one copies it (alert.New does).
	Buffers *decode.BufferPool
}

// pruneEvery is how much event time passes between prunings of stateful
// rules' memory.
const pruneEvery = 10 * time.Minute

// Enricher adds context to an event in place.
type Enricher interface {
	Enrich(ev *event.Event)
}

// Pipeline runs inputs through decoding and detection.
type Pipeline struct {
	engine  *detect.Engine
	decoder *decode.Decoder
	opts    Options

	events   atomic.Int64
	payloads atomic.Int64
	arenas   chan *event.Arena // free arenas, with Options.Buffers
}

// New returns a pipeline evaluating engine's rules.
func New(engine *detect.Engine, opts Options) *Pipeline {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	p := &Pipeline{engine: engine, decoder: decode.NewDecoder(opts.Limits), opts: opts}
	if opts.Buffers != nil {
		// Batches in flight: queued work and results, and what the
		// workers and the collector hold.
		p.arenas = make(chan *event.Arena, 6*opts.Workers+4)
	}
	return p
}

// arena returns a free arena, or nil when events are not recycled.
func (p *Pipeline) arena() *event.Arena {
	if p.arenas == nil {
		return nil
	}
	select {
	case a := <-p.arenas:
		return a
	default:
		return new(event.Arena)
	}
}

// release gives back what a reported batch holds: its read buffers and
// its events.
func (p *Pipeline) release(b *result) {
	decode.Release(b.frames)
	if b.arena != nil {
		b.arena.Reset()
		select {
		case p.arenas <- b.arena:
		default:
		}
	}
}

// Progress reports the events decoded and payloads finished so far. It may
// be called from any goroutine while Run works.
func (p *Pipeline) Progress() (events, payloads int64) {
	return p.events.Load(), p.payloads.Load()
}

// Stats summarises a run.
type Stats struct {
	Payloads       int
	PayloadsFailed int
	Events         int64
	EventsByKind   map[event.Kind]int64
	Findings       map[string]int // by rule id
	RecordErrors   int
	Unsupported    map[string]int // by reason
	RuleErrors     int
	Duration       time.Duration
}

// work is one batch of frames of one payload.
type work struct {
	payload int
	seq     int
	credit  bool // the batch holds a read-ahead credit, given back when it is reported
	frames  []decode.Frame
}

// result is the outcome of one batch, or the end of a payload (done).
type result struct {
	payload int
	seq     int
	credit  bool
	frames  []decode.Frame // released once the batch is reported
	arena   *event.Arena   // the batch's CloudTrail events, reset then
	items   []item
	kinds   [event.NumKinds]int64
	events  int

	done    bool
	job     *source.Job
	batches int
	info    decode.Info
	err     error
}

// item is one ordered result: exactly one field is set.
type item struct {
	finding     *detect.Finding
	recordErr   *decode.RecordError
	unsupported *decode.Unsupported
	ruleErr     *detect.RuleError
}

// credits bound the batches that payloads may queue ahead of the payload
// being reported. The reported payload itself never waits for a credit, so
// a slow early input cannot make the others pile results up without limit,
// nor can it be starved by them.
type credits struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int
	cur  int // the payload being reported
	done bool
}

func newCredits(ctx context.Context, n int) *credits {
	c := &credits{free: n}
	c.cond = sync.NewCond(&c.mu)
	context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.done = true
		c.mu.Unlock()
		c.cond.Broadcast()
	})
	return c
}

// acquire waits until payload may queue a batch. It reports whether the
// batch took a credit, and false for ok when the run is cancelled.
func (c *credits) acquire(payload int) (took, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.done && payload != c.cur && c.free == 0 {
		c.cond.Wait()
	}
	switch {
	case c.done:
		return false, false
	case payload == c.cur:
		return false, true
	}
	c.free--
	return true, true
}

func (c *credits) release() {
	c.mu.Lock()
	c.free++
	c.mu.Unlock()
	c.cond.Signal()
}

func (c *credits) advance(cur int) {
	c.mu.Lock()
	c.cur = cur
	c.mu.Unlock()
	c.cond.Broadcast()
}

// Run processes inputs and calls h with the results. It returns when every
// input is done, or as soon as ctx is cancelled (then with ctx's error,
// leaving any reader blocked in a read to finish on its own).
func (p *Pipeline) Run(ctx context.Context, inputs []source.Input, h Handler) (Stats, error) {
	jobs := make(chan *source.Job)
	go func() {
		defer close(jobs)
		for i := range inputs {
			select {
			case jobs <- &source.Job{Input: inputs[i]}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return p.run(ctx, jobs, h, false)
}

// RunStream processes jobs as they arrive, until jobs is closed and every
// job taken is done, or ctx is cancelled. Results come in the order the
// jobs were received; PayloadDone carries the job, and the Handler calls
// its Done once it has put the payload's alerts somewhere safe. Closing
// jobs is the graceful way to stop: what was taken is finished first.
func (p *Pipeline) RunStream(ctx context.Context, jobs <-chan *source.Job, h Handler) (Stats, error) {
	return p.run(ctx, jobs, h, true)
}

func (p *Pipeline) run(ctx context.Context, jobs <-chan *source.Job, h Handler, stream bool) (Stats, error) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	workers := p.opts.Workers
	// At most this many payloads are open at once.
	window := make(chan struct{}, 2*workers+2)
	type todoItem struct {
		idx int
		job *source.Job
	}
	todo := make(chan todoItem)
	workCh := make(chan work, 2*workers)
	results := make(chan result, 4*workers)
	cr := newCredits(ctx, 4*workers)

	var readers, decoders sync.WaitGroup
	go func() {
		defer close(todo)
		for i := 0; ; i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			var job *source.Job
			select {
			case j, ok := <-jobs:
				if !ok {
					return
				}
				job = j
			case <-ctx.Done():
				return
			}
			select {
			case todo <- todoItem{i, job}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Cutting payloads (gunzip, finding record boundaries) costs from a
	// third of the whole (a full rule catalogue on alert-dense input) to
	// two thirds (few rules): one reader per worker, so that gunzip never
	// waits for a single core while the workers wait for it. Readers block
	// on the bounded work queue when the workers are the slower side.
	for range workers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for t := range todo {
				n, info, err := p.split(ctx, t.idx, t.job.Input, workCh, cr)
				select {
				case results <- result{payload: t.idx, done: true, job: t.job, batches: n, info: info, err: err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for range workers {
		decoders.Add(1)
		go func() {
			defer decoders.Done()
			for w := range workCh {
				r := p.process(ctx, w)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		readers.Wait()
		close(workCh)
		decoders.Wait()
		close(results)
	}()

	st := p.collect(ctx, results, window, cr, h, stream)
	st.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return st, err
	}
	return st, nil
}

// split reads one payload and queues its batches.
func (p *Pipeline) split(ctx context.Context, idx int, in source.Input, out chan<- work, cr *credits) (int, decode.Info, error) {
	rc, err := in.Open()
	if err != nil {
		return 0, decode.Info{}, err
	}
	defer rc.Close()
	seq := 0
	splitFn := decode.Split
	if p.opts.Buffers != nil {
		splitFn = p.opts.Buffers.Split
	}
	info, err := splitFn(ctx, rc, in.Name, p.opts.Limits, func(frames []decode.Frame) error {
		took, ok := cr.acquire(idx)
		if !ok {
			return ctx.Err()
		}
		select {
		case out <- work{payload: idx, seq: seq, credit: took, frames: frames}:
			seq++
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		err = fmt.Errorf("%s: %w", in.Name, err)
	}
	return seq, info, err
}

// process decodes and evaluates one batch. A panic while decoding a frame
// is a bug, but it is reported as that record's error rather than allowed
// to end the run.
func (p *Pipeline) process(ctx context.Context, w work) result {
	r := result{payload: w.payload, seq: w.seq, credit: w.credit, frames: w.frames, arena: p.arena()}
	var findings, slab []detect.Finding
	yield := func(ev *event.Event, err error) bool {
		if err != nil {
			var re *decode.RecordError
			var un *decode.Unsupported
			switch {
			case errors.As(err, &re):
				r.items = append(r.items, item{recordErr: re})
			case errors.As(err, &un):
				r.items = append(r.items, item{unsupported: un})
			default:
				r.items = append(r.items, item{recordErr: &decode.RecordError{Err: err}})
			}
			return true
		}
		r.events++
		if int(ev.Kind) < len(r.kinds) {
			r.kinds[ev.Kind]++
		}
		if p.opts.Enrich != nil {
			ev.SetEnricher(p.opts.Enrich) // looked up when first read
		}
		var errs []error
		findings, errs = p.engine.Eval(ctx, ev, findings[:0])
		for j := range findings {
			// Findings are kept in blocks, not one allocation each.
			if len(slab) == cap(slab) {
				slab = make([]detect.Finding, 0, 64)
			}
			slab = append(slab, findings[j])
			r.items = append(r.items, item{finding: &slab[len(slab)-1]})
		}
		for _, e := range errs {
			var re *detect.RuleError
			if errors.As(e, &re) {
				r.items = append(r.items, item{ruleErr: re})
			}
		}
		return true
	}
	for i := range w.frames {
		p.decodeFrame(&w.frames[i], yield, &r)
	}
	p.events.Add(int64(r.events))
	return r
}

func (p *Pipeline) decodeFrame(f *decode.Frame, yield decode.Yield, r *result) {
	defer func() {
		if v := recover(); v != nil {
			r.items = append(r.items, item{recordErr: &decode.RecordError{Origin: f.Origin, Err: fmt.Errorf("internal error decoding this record (please report it): %v", v)}})
		}
	}()
	p.decoder.DecodeIn(f, yield, r.arena)
}

// collect reorders results into input order and hands them to h.
func (p *Pipeline) collect(ctx context.Context, results <-chan result, window <-chan struct{}, cr *credits, h Handler, stream bool) Stats {
	st := Stats{
		EventsByKind: map[event.Kind]int64{},
		Findings:     map[string]int{},
		Unsupported:  map[string]int{},
	}
	type pending struct {
		batches map[int]result
		done    *result
		next    int
		events  int
		kinds   [event.NumKinds]int64
	}
	state := map[int]*pending{}
	get := func(i int) *pending {
		ps := state[i]
		if ps == nil {
			ps = &pending{batches: map[int]result{}}
			state[i] = ps
		}
		return ps
	}
	// Stateful rules forget what their windows no longer cover as event
	// time advances, so a long scan's state stays bounded.
	var latest, pruned time.Time
	cur := 0
	for {
		var r result
		select {
		case rr, ok := <-results:
			if !ok {
				return st
			}
			r = rr
		case <-ctx.Done():
			return st
		}
		ps := get(r.payload)
		if r.done {
			rr := r
			ps.done = &rr
		} else {
			ps.batches[r.seq] = r
		}
		// Emit everything that is now in order.
		for {
			ps := get(cur)
			for {
				b, ok := ps.batches[ps.next]
				if !ok {
					break
				}
				delete(ps.batches, ps.next)
				ps.next++
				if b.credit {
					cr.release()
				}
				ps.events += b.events
				st.Events += int64(b.events)
				for k, n := range b.kinds {
					if n > 0 {
						st.EventsByKind[event.Kind(k)] += n
						ps.kinds[k] += n
					}
				}
				for _, it := range b.items {
					switch {
					case it.finding != nil && it.finding.Pending != nil:
						if t := it.finding.Event.Time; t.After(latest) {
							latest = t
						}
						fs, err := p.engine.Settle(ctx, *it.finding)
						if err != nil {
							var re *detect.RuleError
							if errors.As(err, &re) {
								st.RuleErrors++
								h.RuleError(re)
							}
						}
						for i := range fs {
							st.Findings[fs[i].Rule]++
							h.Finding(&fs[i])
						}
					case it.finding != nil:
						st.Findings[it.finding.Rule]++
						h.Finding(it.finding)
					case it.recordErr != nil:
						st.RecordErrors++
						h.RecordError(it.recordErr)
					case it.unsupported != nil:
						st.Unsupported[it.unsupported.Reason]++
						h.Unsupported(it.unsupported)
					case it.ruleErr != nil:
						st.RuleErrors++
						h.RuleError(it.ruleErr)
					}
				}
				p.release(&b)
				if latest.Sub(pruned) >= pruneEvery {
					p.engine.Prune(latest)
					pruned = latest
				}
			}
			if ps.done == nil || ps.next < ps.done.batches {
				break
			}
			st.Payloads++
			if ps.done.err != nil {
				st.PayloadsFailed++
			}
			pr := PayloadResult{Name: ps.done.job.Input.Name, Info: ps.done.info, Events: ps.events, Kinds: ps.kinds, Err: ps.done.err}
			if stream {
				pr.Job = ps.done.job
			}
			h.PayloadDone(pr)
			p.payloads.Add(1)
			delete(state, cur)
			cur++
			cr.advance(cur)
			select {
			case <-window:
			case <-ctx.Done():
			}
		}
	}
}
