// Package daemon runs Vigil as a service (`vigil serve`): sources (the
// spool fed by HTTP ingest and SNS, the watched inbox, SQS queues) feed
// one stream through decode → enrich → detect. Each payload's alerts
// start on their way to their destinations at once, and are committed to
// the outbox and the alert store before its source is told it is done, so
// a crash in between makes and sends them again rather than losing them.
// Shutdown stops the sources first and finishes what was taken.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/metrics"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/pipeline"
	"github.com/vigil-sec/vigil/internal/source"
	"github.com/vigil-sec/vigil/internal/spool"
	"github.com/vigil-sec/vigil/internal/store"
)

// Source produces jobs until ctx ends.
type Source struct {
	Name string
	Run  func(ctx context.Context, out chan<- *source.Job) error
}

// Options are the daemon's parts, built and owned by the caller (which
// closes them after Run returns).
type Options struct {
	Engine  *detect.Engine
	Enrich  pipeline.Enricher
	Workers int
	Limits  decode.Limits
	// Spool holds what HTTP ingest and SNS received; the daemon reads it
	// as a source and acknowledges each record once its alerts are
	// committed.
	Spool *spool.Spool
	// SpoolMaxBytes is the spool's limit, for readiness.
	SpoolMaxBytes int64
	// Store keeps alerts for the API; nil keeps none.
	Store *store.Store
	// Dispatcher delivers alerts; nil when no receiver is configured.
	Dispatcher *notify.Dispatcher
	// Sources beside the spool.
	Sources []Source
	// Handler is the HTTP handler (ingest, API, metrics) served on the
	// listener given to Run.
	Handler http.Handler
	Metrics *metrics.Metrics
	// Console, if set, gets each alert as a JSON line.
	Console io.Writer
	Logger  *slog.Logger
	// DrainTimeout bounds the delivery of what is due at shutdown;
	// default 5s.
	DrainTimeout time.Duration
	// PruneEvery is how often the alert store drops expired alerts;
	// default 1h.
	PruneEvery time.Duration
}

// Daemon is a running service.
type Daemon struct {
	o       Options
	log     *slog.Logger
	running atomic.Bool
	fatal   chan error
}

// New checks the options.
func New(o Options) (*Daemon, error) {
	if o.Engine == nil {
		return nil, errors.New("daemon: no detection engine")
	}
	o.DrainTimeout = cmp.Or(o.DrainTimeout, 5*time.Second)
	o.PruneEvery = cmp.Or(o.PruneEvery, time.Hour)
	d := &Daemon{o: o, log: cmp.Or(o.Logger, slog.New(slog.DiscardHandler)), fatal: make(chan error, 1)}
	if o.Dispatcher != nil && o.Metrics != nil {
		o.Dispatcher.Observe(d.observeDelivery)
	}
	return d, nil
}

// Ready reports whether the daemon takes events: its pipeline runs and
// its spool has room.
func (d *Daemon) Ready() error {
	if !d.running.Load() {
		return errors.New("pipeline not running")
	}
	if d.o.Spool != nil {
		st := d.o.Spool.Stats()
		if m := d.o.SpoolMaxBytes; m > 0 && st.PendingBytes > m*9/10 {
			return fmt.Errorf("spool %d%% full", st.PendingBytes*100/m)
		}
	}
	return nil
}

// Run serves on ln and processes events until ctx ends, then shuts down
// gracefully: the listener stops taking requests (in-flight ones finish),
// the sources stop, the pipeline finishes every job it took, and what is
// due is delivered for up to DrainTimeout. It returns an error only when
// the daemon could not go on (the outbox or alert store failed).
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	// Unbuffered: the pipeline's own window (a few payloads per worker)
	// is the read-ahead, and a source holds at most the job it is handing
	// over, so payloads of up to 16 MiB do not pile up in memory.
	jobs := make(chan *source.Job)
	srcCtx, stopSources := context.WithCancel(context.Background())
	defer stopSources()
	var sources sync.WaitGroup
	all := d.o.Sources
	if d.o.Spool != nil {
		all = append([]Source{{Name: "spool", Run: d.readSpool}}, all...)
	}
	for _, s := range all {
		sources.Go(func() {
			if err := s.Run(srcCtx, jobs); err != nil && srcCtx.Err() == nil {
				d.log.Error("source stopped", "source", s.Name, "err", err)
			}
		})
	}
	go func() {
		sources.Wait()
		close(jobs)
	}()

	// Delivery runs until the pipeline has finished, then drains.
	deliverCtx, stopDelivery := context.WithCancel(context.Background())
	delivering := make(chan struct{})
	go func() {
		defer close(delivering)
		if d.o.Dispatcher != nil {
			d.o.Dispatcher.Run(deliverCtx)
		}
	}()

	c := newCommitter(d)
	committed := make(chan struct{})
	go func() { c.run(); close(committed) }()

	// The handler copies what it keeps (store.FromFinding), so read
	// buffers and events are recycled.
	p := pipeline.New(d.o.Engine, pipeline.Options{Workers: d.o.Workers, Limits: d.o.Limits, Enrich: d.o.Enrich, Buffers: decode.NewBufferPool()})
	pipeCtx, stopPipeline := context.WithCancel(context.Background())
	defer stopPipeline()
	piped := make(chan struct{})
	d.running.Store(true)
	go func() {
		defer close(piped)
		h := &handler{d: d, c: c}
		st, err := p.RunStream(pipeCtx, jobs, h)
		h.flush()
		close(c.in)
		d.log.Info("pipeline stopped", "payloads", st.Payloads, "events", st.Events, "err", err)
	}()

	srv := &http.Server{Handler: d.o.Handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	if ln != nil && d.o.Handler != nil {
		go func() { served <- srv.Serve(ln) }()
		d.log.Info("listening", "addr", ln.Addr().String())
	}
	prune := time.NewTicker(d.o.PruneEvery)
	defer prune.Stop()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-served:
			runErr = fmt.Errorf("http: %w", err)
			break loop
		case err := <-d.fatal:
			runErr = err
			break loop
		case <-prune.C:
			if d.o.Store != nil {
				if n, err := d.o.Store.Prune(time.Now()); err != nil {
					d.log.Error("alert store: prune", "err", err)
				} else if n > 0 {
					d.log.Info("alert store: pruned", "alerts", n)
				}
			}
		}
	}
	d.log.Info("shutting down")
	d.running.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	srv.Shutdown(sctx)
	cancel()
	stopSources()
	if runErr != nil {
		// A failed commit: stop at once; nothing after it is acknowledged.
		stopPipeline()
	}
	<-piped
	<-committed
	stopDelivery()
	<-delivering
	if d.o.Dispatcher != nil && runErr == nil {
		fctx, cancel := context.WithTimeout(context.Background(), d.o.DrainTimeout)
		st := d.o.Dispatcher.Flush(fctx)
		cancel()
		d.log.Info("delivery drained", "notifications", st.Delivered, "alerts", st.Alerts)
	}
	return runErr
}

// readSpool hands the spool's records to the pipeline in order; each is
// acknowledged when it is done. What was read but not acknowledged when
// the daemon stops is read again at the next start.
func (d *Daemon) readSpool(ctx context.Context, out chan<- *source.Job) error {
	for {
		e, err := d.o.Spool.Next(ctx)
		if err != nil {
			if errors.Is(err, spool.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		pos := e.Pos
		job := &source.Job{Input: source.Bytes(e.Name, e.Body), Source: e.Source, Received: e.Received,
			Done: func(error) {
				// A payload that failed as a whole (not a format Vigil
				// knows) fails again if retried: it was reported, and
				// it is acknowledged like the others.
				if err := d.o.Spool.Ack(pos); err != nil {
					d.log.Error("spool: ack", "err", err)
				}
			}}
		select {
		case out <- job:
		case <-ctx.Done():
			return nil
		}
	}
}

func (d *Daemon) fail(err error) {
	select {
	case d.fatal <- err:
	default:
	}
}

func (d *Daemon) observeDelivery(a notify.Attempt) {
	m := d.o.Metrics
	outcome := "sent"
	switch {
	case a.Dead:
		outcome = "dead"
	case a.Err != nil:
		outcome = "retry"
	}
	m.Deliveries.WithLabelValues(a.Receiver, a.Dest, outcome).Add(float64(len(a.Alerts)))
	if a.Err != nil {
		return
	}
	fromEvent := m.FromEvent.WithLabelValues(a.Dest)
	fromReceipt := m.FromReceipt.WithLabelValues(a.Dest)
	for _, al := range a.Alerts {
		if !al.EventTime.IsZero() {
			fromEvent.Observe(a.At.Sub(al.EventTime).Seconds())
		}
		if !al.ReceivedAt.IsZero() {
			fromReceipt.Observe(a.At.Sub(al.ReceivedAt).Seconds())
		}
	}
}

// handler receives the pipeline's results in order, starts each
// payload's alerts on their way (notify.Dispatcher.Prepare) and hands
// them, with the payload's Done, to the committer.
type handler struct {
	d        *Daemon
	c        *committer
	pending  []store.Stored
	prepared []*notify.Prepared // the pending alerts, routed and on their way
	dones    []done
	errs     int
	shown    int
}

// done is a finished payload waiting for its alerts to be committed.
type done struct {
	job *source.Job
	err error
	n   int // alerts of this payload at the end of the batch's alerts
}

func (h *handler) Finding(f *detect.Finding) {
	h.pending = append(h.pending, store.FromFinding(f))
	if m := h.d.o.Metrics; m != nil {
		m.RuleHits.WithLabelValues(f.Rule, f.Severity.String()).Inc()
	}
}

func (h *handler) RecordError(err *decode.RecordError) {
	h.errs++
	if h.shown < 5 {
		h.shown++
		h.d.log.Warn("bad record", "err", err.Error())
	}
}

func (h *handler) Unsupported(u *decode.Unsupported) {
	h.d.log.Debug("unsupported record", "reason", u.Reason, "origin", u.Origin.String())
}

func (h *handler) RuleError(err *detect.RuleError) {
	h.d.log.Warn("rule error", "err", err.Error())
	if m := h.d.o.Metrics; m != nil {
		m.RuleErrors.Inc()
	}
}

func (h *handler) PayloadDone(p pipeline.PayloadResult) {
	job := p.Job
	src := cmp.Or(job.Source, "unknown")
	if m := h.d.o.Metrics; m != nil {
		m.Payloads.WithLabelValues(src).Inc()
		for k, n := range p.Kinds {
			if n > 0 {
				m.Events.WithLabelValues(src, event.Kind(k).String()).Add(float64(n))
			}
		}
		if h.errs > 0 {
			m.DecodeErrors.WithLabelValues(src).Add(float64(h.errs))
		}
		if p.Err != nil {
			m.PayloadErrors.WithLabelValues(src).Inc()
		}
	}
	if p.Err != nil {
		h.d.log.Warn("payload failed", "source", src, "payload", p.Name, "err", p.Err)
	}
	if h.errs > h.shown {
		h.d.log.Warn("bad records", "payload", p.Name, "count", h.errs)
	}
	h.errs, h.shown = 0, 0
	// What is pending is this payload's alerts: each PayloadDone flushes.
	alerts := make([]*alert.Alert, len(h.pending))
	for i := range h.pending {
		if h.pending[i].Alert.ReceivedAt.IsZero() {
			h.pending[i].Alert.ReceivedAt = job.Received
		}
		alerts[i] = h.pending[i].Alert
	}
	// They go to their destinations now; the committer makes them durable
	// meanwhile, and the source hears it is done only after that.
	if disp := h.d.o.Dispatcher; disp != nil && len(alerts) > 0 {
		h.prepared = append(h.prepared, disp.Prepare(alerts))
	}
	h.dones = append(h.dones, done{job: job, err: p.Err, n: len(h.pending)})
	h.flush()
}

// flush passes what is pending to the committer. The committer takes
// everything queued at once, so commits group themselves under load.
func (h *handler) flush() {
	if len(h.dones) == 0 {
		return
	}
	h.c.in <- batch{stored: h.pending, prepared: h.prepared, dones: h.dones}
	h.pending, h.prepared, h.dones = nil, nil, nil
}

type batch struct {
	stored   []store.Stored
	prepared []*notify.Prepared
	dones    []done
}

// committer writes alerts to the outbox and the store, then tells the
// sources their payloads are done, in order. Whatever queued while a
// commit ran is committed together in the next.
type committer struct {
	d  *Daemon
	in chan batch
}

func newCommitter(d *Daemon) *committer { return &committer{d: d, in: make(chan batch, 256)} }

func (c *committer) run() {
	failed := false
	for b := range c.in {
		// Take everything already waiting.
		var bs []batch
		bs = append(bs, b)
	more:
		for {
			select {
			case nb, ok := <-c.in:
				if !ok {
					break more
				}
				bs = append(bs, nb)
			default:
				break more
			}
		}
		if failed {
			continue // nothing is acknowledged after a failed commit
		}
		if err := c.commit(bs); err != nil {
			failed = true
			c.d.log.Error("commit alerts: stopping so that nothing is acknowledged unsaved", "err", err)
			c.d.fail(err)
		}
	}
}

func (c *committer) commit(bs []batch) error {
	var stored []store.Stored
	var prepared []*notify.Prepared
	for _, b := range bs {
		stored = append(stored, b.stored...)
		prepared = append(prepared, b.prepared...)
	}
	if len(stored) > 0 {
		var wg sync.WaitGroup
		var storeErr, notifyErr error
		if c.d.o.Store != nil {
			wg.Go(func() { storeErr = c.d.o.Store.Put(stored) })
		}
		if c.d.o.Dispatcher != nil {
			_, notifyErr = c.d.o.Dispatcher.Commit(prepared)
		}
		wg.Wait()
		if err := errors.Join(notifyErr, storeErr); err != nil {
			return err
		}
		if w := c.d.o.Console; w != nil {
			var line []byte
			for i := range stored {
				var err error
				if line, err = stored[i].Alert.MarshalLine(line[:0]); err == nil {
					w.Write(line)
				}
			}
		}
	}
	now := time.Now()
	payloads := 0
	for _, b := range bs {
		for _, dn := range b.dones {
			if dn.job.Done != nil {
				dn.job.Done(dn.err)
			}
			if m := c.d.o.Metrics; m != nil && !dn.job.Received.IsZero() {
				m.Committed.Observe(now.Sub(dn.job.Received).Seconds())
			}
			payloads++
		}
	}
	if m := c.d.o.Metrics; m != nil {
		m.CommitBatch.Observe(float64(payloads))
	}
	return nil
}
