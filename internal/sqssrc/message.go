package sqssrc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigil-sec/vigil/internal/s3src"
	"github.com/vigil-sec/vigil/internal/source"
)

// ErrNoS3 is the error of a message that names S3 objects when the poller
// has no S3 client to read them with.
var ErrNoS3 = errors.New("sqssrc: the message names S3 objects and the poller has no S3 client")

// name returns the name of the input that holds a message's body.
func (p *Poller) name(m *message) string {
	return "sqs://" + p.queue + "/" + m.id()
}

// handle turns a received message into jobs and sends them to out, or
// settles it at once (test events, poison). The message holds one slot on
// entry: it becomes one per job, or is released.
func (p *Poller) handle(ctx context.Context, raw types.Message, now time.Time, out chan<- *source.Job) {
	m := &message{m: raw, receives: receiveCount(raw), visible: now.Add(p.o.VisibilityTimeout)}
	inputs := p.inputs(ctx, m)
	if len(inputs) == 0 {
		p.release(1)
		return
	}
	p.log.Debug("sqs: message received", "message_id", m.id(), "receives", m.receives, "jobs", len(inputs))
	m.pending = len(inputs)
	p.mu.Lock()
	p.msgs[m] = struct{}{}
	p.mu.Unlock()
	p.inflight.Add(int64(len(inputs) - 1))
	for i, in := range inputs {
		job := &source.Job{Input: in, Source: "sqs", Received: now, Done: p.doneFunc(m, in.Name)}
		select {
		case out <- job:
		case <-ctx.Done():
			p.abandon(m, len(inputs)-i)
			return
		}
	}
}

// inputs returns the payloads of m, or none when m was settled (S3 test
// events, dead letters, messages with nothing to read) or is left to come
// back (no S3 client).
func (p *Poller) inputs(ctx context.Context, m *message) []source.Input {
	if m.receives > p.o.MaxReceives {
		p.deadLetter(ctx, m, fmt.Sprintf("received %d times, more than max_receives %d", m.receives, p.o.MaxReceives))
		return nil
	}
	body := []byte(aws.ToString(m.m.Body))
	n, isS3, err := s3src.ParseNotification(body)
	switch {
	case !isS3:
		return []source.Input{source.Bytes(p.name(m), body)}
	case err != nil:
		p.deadLetter(ctx, m, "malformed S3 event: "+err.Error())
		return nil
	case n.Test:
		p.log.Info("sqs: S3 test event; deleting it", "message_id", m.id(), "via", n.Via)
		p.settleNow(m)
		return nil
	case len(n.Objects) > 0 && p.o.S3 == nil:
		p.obs.Error(StageProcessing, ErrNoS3)
		p.log.Error("sqs: a message names S3 objects, and no S3 client is configured; it will be delivered again", "message_id", m.id(), "receives", m.receives, "via", n.Via)
		p.remember(m.id(), ErrNoS3)
		return nil
	}
	var inputs []source.Input
	for _, r := range n.Objects {
		inputs = append(inputs, r.Input(ctx, p.o.S3, p.o.MaxObjectSize))
	}
	if n.Other {
		inputs = append(inputs, source.Bytes(p.name(m), body))
	}
	if len(inputs) == 0 {
		p.settleNow(m)
	}
	return inputs
}

// jobError is a job's failure, named by the job.
type jobError struct {
	job string
	err error
}

func (e *jobError) Error() string { return e.job + ": " + e.err.Error() }
func (e *jobError) Unwrap() error { return e.err }

// doneFunc returns the Done of a job of m.
func (p *Poller) doneFunc(m *message, job string) func(error) {
	var called atomic.Bool
	return func(err error) {
		if called.Swap(true) {
			p.log.Error("sqs: Done called twice for a job; ignored", "job", job, "message_id", m.id())
			return
		}
		if err != nil {
			err = &jobError{job: job, err: err}
		}
		p.jobDone(m, err)
	}
}

// jobDone records that a job of m is done and, after its last, queues m to
// be settled. It never blocks: it is called from the pipeline.
func (p *Poller) jobDone(m *message, err error) {
	p.release(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	m.pending--
	if err != nil && m.err == nil {
		m.err = err
	}
	if m.pending > 0 || m.abandoned {
		return
	}
	if _, ok := p.msgs[m]; !ok {
		return // released when Run stopped
	}
	delete(p.msgs, m)
	if !p.closed {
		p.acks = append(p.acks, m)
		p.signal(p.ackWake)
	}
}

// abandon gives up the last n jobs of m, never sent because Run is
// stopping: m is neither deleted nor retried, but stays in flight until Run
// makes it visible again.
func (p *Poller) abandon(m *message, n int) {
	p.release(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	m.pending -= n
	m.abandoned = true
}

// settleNow queues m, which has no jobs, to be deleted.
func (p *Poller) settleNow(m *message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.acks = append(p.acks, m)
		p.signal(p.ackWake)
	}
}

// remember keeps a message's last error for its dead letter, forgetting
// some other when too many are kept.
func (p *Poller) remember(id string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.lastErrs[id]; !ok && len(p.lastErrs) >= maxLastErrors {
		for k := range p.lastErrs {
			delete(p.lastErrs, k)
			break
		}
	}
	p.lastErrs[id] = err.Error()
}
