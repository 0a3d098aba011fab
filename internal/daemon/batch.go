package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/pipeline"
	"github.com/vigil-sec/vigil/internal/source"
)

// Batch processes the payloads of one invocation at a time, as a Lambda
// function does: it runs them through the pipeline, delivers their
// alerts before returning, and tells each job whether it is done. A job
// whose alerts could not all be delivered in time fails, so that the
// trigger retries it; the outbox's dedup absorbs what was sent already
// while the execution environment lives.
type Batch struct {
	Engine  *detect.Engine
	Enrich  pipeline.Enricher
	Workers int
	Limits  decode.Limits
	// Dispatcher delivers; nil prints alerts only.
	Dispatcher *notify.Dispatcher
	// Console gets each alert as a JSON line (CloudWatch Logs).
	Console io.Writer
	Logger  *slog.Logger
}

// batchResult collects a job's outcome.
type batchResult struct {
	job    *source.Job
	err    error
	alerts []*alert.Alert
}

type batchHandler struct {
	log     *slog.Logger
	pending []*alert.Alert
	results []batchResult
}

func (h *batchHandler) Finding(f *detect.Finding) { h.pending = append(h.pending, alert.New(f)) }
func (h *batchHandler) RecordError(err *decode.RecordError) {
	h.log.Warn("bad record", "err", err.Error())
}
func (h *batchHandler) Unsupported(u *decode.Unsupported) {
	h.log.Debug("unsupported record", "reason", u.Reason, "origin", u.Origin.String())
}
func (h *batchHandler) RuleError(err *detect.RuleError) { h.log.Warn("rule error", "err", err.Error()) }
func (h *batchHandler) PayloadDone(p pipeline.PayloadResult) {
	for _, a := range h.pending {
		a.ReceivedAt = p.Job.Received
	}
	if p.Err != nil {
		h.log.Warn("payload failed", "payload", p.Name, "err", p.Err)
	}
	h.results = append(h.results, batchResult{job: p.Job, err: p.Err, alerts: h.pending})
	h.pending = nil
}

// Process runs jobs and calls each one's Done.
func (b *Batch) Process(ctx context.Context, jobs []source.Job) error {
	log := cmp.Or(b.Logger, slog.New(slog.DiscardHandler))
	in := make(chan *source.Job)
	go func() {
		defer close(in)
		for i := range jobs {
			select {
			case in <- &jobs[i]:
			case <-ctx.Done():
				return
			}
		}
	}()
	h := &batchHandler{log: log}
	p := pipeline.New(b.Engine, pipeline.Options{Workers: b.Workers, Limits: b.Limits, Enrich: b.Enrich})
	if _, err := p.RunStream(ctx, in, h); err != nil {
		return err
	}
	var all []*alert.Alert
	for _, r := range h.results {
		all = append(all, r.alerts...)
	}
	if w := b.Console; w != nil {
		var line []byte
		for _, a := range all {
			var err error
			if line, err = a.MarshalLine(line[:0]); err == nil {
				w.Write(line)
			}
		}
	}
	var undelivered error
	if b.Dispatcher != nil && len(all) > 0 {
		undelivered = b.deliver(ctx, all, log)
	}
	for _, r := range h.results {
		if r.job.Done == nil {
			continue
		}
		switch {
		case r.err != nil:
			r.job.Done(r.err)
		case undelivered != nil && len(r.alerts) > 0:
			r.job.Done(errors.Join(errors.New("alerts not delivered"), undelivered))
		default:
			r.job.Done(nil)
		}
	}
	return nil
}

// deliver queues alerts and delivers everything queued before ctx ends.
// It fails if anything is left queued or was dead-lettered meanwhile
// (a destination refused it for good, or ran out of attempts).
func (b *Batch) deliver(ctx context.Context, alerts []*alert.Alert, log *slog.Logger) error {
	_, deadBefore, err := b.outboxCounts()
	if err != nil {
		return err
	}
	if _, err := b.Dispatcher.Notify(alerts); err != nil {
		return fmt.Errorf("queue alerts: %w", err)
	}
	st := b.Dispatcher.Flush(ctx)
	log.Info("delivered", "notifications", st.Delivered, "alerts", st.Alerts)
	queued, dead, err := b.outboxCounts()
	switch {
	case err != nil:
		return err
	case queued > 0:
		return fmt.Errorf("%d notifications not delivered before the deadline", queued)
	case dead > deadBefore:
		log.Error("notifications dead-lettered: their alerts are in the log above and in the outbox of this execution environment", "dead", dead-deadBefore)
		return fmt.Errorf("%d notifications refused or out of attempts", dead-deadBefore)
	}
	return nil
}

func (b *Batch) outboxCounts() (queued, dead int, err error) {
	status, err := b.Dispatcher.Status()
	for _, s := range status {
		queued += s.Queued
		dead += s.Dead
	}
	return queued, dead, err
}
