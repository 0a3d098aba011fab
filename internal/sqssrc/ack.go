package sqssrc

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// batchSize is the most entries an SQS batch call takes.
const batchSize = 10

// ackLoop settles the messages whose jobs are all done, ten a call, until
// stop is closed; then it settles those still queued and returns.
func (p *Poller) ackLoop(ctx context.Context, stop <-chan struct{}) {
	for {
		stopping := false
		select {
		case <-p.ackWake:
		case <-stop:
			stopping = true
		}
		for {
			p.mu.Lock()
			n := min(len(p.acks), batchSize)
			batch := append([]*message(nil), p.acks[:n]...)
			p.acks = p.acks[n:]
			if len(p.acks) == 0 {
				p.acks = nil // let the backing array go
			}
			p.mu.Unlock()
			if n == 0 {
				break
			}
			p.settle(ctx, batch)
		}
		if stopping {
			return
		}
	}
}

// settle deletes the messages of batch whose jobs all succeeded (and the
// dead-lettered and job-less ones), and leaves the others to come back.
func (p *Poller) settle(ctx context.Context, batch []*message) {
	var ok, failed []*message
	for _, m := range batch {
		if m.err == nil {
			ok = append(ok, m)
		} else {
			failed = append(failed, m)
		}
	}
	if len(ok) > 0 {
		p.delete(ctx, ok)
	}
	if len(failed) == 0 {
		return
	}
	p.obs.Failed(len(failed))
	for _, m := range failed {
		p.remember(m.id(), m.err)
		p.log.Warn("sqs: a job failed; the message will be delivered again", "message_id", m.id(), "receives", m.receives, "err", m.err)
	}
	if p.o.RetryDelay > 0 {
		p.changeVisibility(ctx, failed, false, p.retryDelay)
	}
}

// retryDelay is how long a failed message stays invisible: RetryDelay,
// doubled for each receive after the first, at most maxRetryDelay.
func (p *Poller) retryDelay(m *message) time.Duration {
	d := p.o.RetryDelay
	for i := 1; i < m.receives && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// delete deletes msgs (at most ten) from the queue.
func (p *Poller) delete(ctx context.Context, msgs []*message) {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.m.ReceiptHandle}
	}
	out, err := p.c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.o.QueueURL), Entries: entries})
	if err != nil {
		p.obs.Error(StageDeleting, err)
		p.log.Warn("sqs: delete failed; the messages will be delivered again", "messages", len(msgs), "err", err)
		return
	}
	for _, f := range out.Failed {
		err := fmt.Errorf("delete: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		p.obs.Error(StageDeleting, err)
		if i, convErr := strconv.Atoi(aws.ToString(f.Id)); convErr == nil && i < len(msgs) {
			p.log.Warn("sqs: delete failed; the message will be delivered again", "message_id", msgs[i].id(), "err", err)
		}
	}
	if len(out.Successful) > 0 {
		p.obs.Deleted(len(out.Successful))
	}
	p.mu.Lock()
	for _, s := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i < len(msgs) {
			delete(p.lastErrs, msgs[i].id())
			p.log.Debug("sqs: message deleted", "message_id", msgs[i].id())
		}
	}
	p.mu.Unlock()
}

// extendLoop pushes back the visibility of the messages in flight before
// it expires, until ctx is done. Every VisibilityTimeout/4 it extends, by
// VisibilityTimeout, those due to become visible within half of it.
func (p *Poller) extendLoop(ctx context.Context) {
	vt := p.o.VisibilityTimeout
	t := time.NewTicker(vt / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var due []*message
			p.mu.Lock()
			for m := range p.msgs {
				if m.visible.Sub(now) < vt/2 {
					due = append(due, m)
				}
			}
			p.mu.Unlock()
			if len(due) > 0 {
				p.changeVisibility(ctx, due, true, func(*message) time.Duration { return vt })
			}
		}
	}
}

// changeVisibility makes each message of msgs visible again after
// timeout(m), ten a call, and records when. When extending, it does not
// report failures for messages no longer in flight: one settled meanwhile
// cannot be changed, and need not be.
func (p *Poller) changeVisibility(ctx context.Context, msgs []*message, extending bool, timeout func(*message) time.Duration) {
	for len(msgs) > 0 {
		n := min(len(msgs), batchSize)
		chunk := msgs[:n]
		msgs = msgs[n:]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, n)
		start := time.Now()
		for i, m := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.m.ReceiptHandle,
				VisibilityTimeout: int32(timeout(m) / time.Second),
			}
		}
		out, err := p.c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(p.o.QueueURL), Entries: entries})
		if err != nil {
			if ctx.Err() == nil {
				p.obs.Error(StageExtending, err)
				p.log.Warn("sqs: changing visibility failed", "messages", n, "err", err)
			}
			continue
		}
		p.mu.Lock()
		for _, s := range out.Successful {
			if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i < n {
				chunk[i].visible = start.Add(timeout(chunk[i]))
			}
		}
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil || i >= n {
				continue
			}
			if _, inFlight := p.msgs[chunk[i]]; extending && !inFlight {
				continue
			}
			err = fmt.Errorf("change visibility: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			p.obs.Error(StageExtending, err)
			p.log.Warn("sqs: changing visibility failed", "message_id", chunk[i].id(), "err", err)
		}
		p.mu.Unlock()
	}
}
