package sqssrc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigil-sec/vigil/internal/s3src"
	"github.com/vigil-sec/vigil/internal/source"
)

// Options configure a Poller. Zero values mean defaults.
type Options struct {
	// QueueURL is the queue to poll; required.
	QueueURL string
	// Workers is how many receive loops long-poll the queue at once,
	// default 2.
	Workers int
	// WaitTime is each ReceiveMessage's long poll, default and at most 20s
	// (whole seconds).
	WaitTime time.Duration
	// MaxMessages is the most messages one ReceiveMessage asks for, default
	// and at most 10.
	MaxMessages int
	// VisibilityTimeout is asked for on every receive, overriding the
	// queue's, and is how far each extension pushes a message's
	// visibility while its jobs run (whole seconds), default 60s.
	VisibilityTimeout time.Duration
	// MaxInFlight is how many jobs may be outstanding before the poller
	// stops receiving, default 100. A receive asks for no more messages
	// than there are free slots; an S3 notification naming several
	// objects may still take the count past it.
	MaxInFlight int
	// MaxReceives is how many times a message may be received: one
	// received more often is dead-lettered instead of processed, default
	// 5.
	MaxReceives int
	// RetryDelay, when set, is how soon a message whose job failed is
	// delivered again after the first receive; it doubles with each
	// further receive, up to 15 minutes. When zero the message comes back
	// when its visibility timeout expires.
	RetryDelay time.Duration
	// DeadLetterDir is the directory that poisoned messages are written
	// to, one JSON file each (created if missing), such as
	// <data dir>/dead-letter/sqs. It or DeadLetterQueueURL is required.
	DeadLetterDir string
	// DeadLetterQueueURL, if set, is a queue that poisoned messages are
	// also sent to, with their body unchanged (so that SQS's redrive can
	// move them back), and their reason in message attributes.
	DeadLetterQueueURL string
	// S3 reads the objects that S3 notifications name. Without it such
	// messages fail, are redelivered, and are eventually dead-lettered.
	S3 s3src.Client
	// MaxObjectSize, when positive, fails the job of a larger S3 object.
	MaxObjectSize int64
	// Logger receives what happens to messages; nil discards. Give it the
	// queue's name (Logger.With("queue", name)): the poller's lines name
	// messages, not the queue.
	Logger *slog.Logger
	// Observer, if set, is told what happens, for metrics.
	Observer Observer
}

// Defaults of Options.
const (
	DefaultWorkers           = 2
	DefaultWaitTime          = 20 * time.Second
	DefaultMaxMessages       = 10
	DefaultVisibilityTimeout = 60 * time.Second
	DefaultMaxInFlight       = 100
	DefaultMaxReceives       = 5

	maxRetryDelay   = 15 * time.Minute
	maxRecvBackoff  = time.Minute
	shutdownTimeout = 5 * time.Second // for the deletes and releases after ctx is done
	maxLastErrors   = 1000            // last errors remembered for dead letters
)

// Poller polls one queue. Run is called at most once at a time; InFlight
// and the jobs' Done may be called from any goroutine.
type Poller struct {
	c     Client
	o     Options
	log   *slog.Logger
	obs   Observer
	queue string // the queue's name

	running  atomic.Bool
	inflight atomic.Int64  // slots taken: jobs outstanding, messages being received
	wake     chan struct{} // a job is done: capacity may be free

	mu       sync.Mutex
	closed   bool                  // Run has returned: Done changes nothing
	msgs     map[*message]struct{} // in flight: their visibility is extended
	acks     []*message            // all jobs done: to delete, or to retry
	ackWake  chan struct{}
	lastErrs map[string]string // message id → last job error, for dead letters
}

// message is a received message while its jobs are in flight.
type message struct {
	m        types.Message
	receives int
	visible  time.Time // when its visibility is due to expire; guarded by Poller.mu
	pending  int       // jobs not yet done; guarded by Poller.mu
	err      error     // the first job error; guarded by Poller.mu
	// abandoned is set when Run stopped before all jobs were sent; guarded
	// by Poller.mu.
	abandoned bool
}

func (m *message) id() string { return aws.ToString(m.m.MessageId) }

// New returns a poller for opts.QueueURL.
func New(c Client, opts Options) (*Poller, error) {
	o := opts
	o.Workers = cmp.Or(o.Workers, DefaultWorkers)
	o.WaitTime = cmp.Or(o.WaitTime, DefaultWaitTime)
	o.MaxMessages = cmp.Or(o.MaxMessages, DefaultMaxMessages)
	o.VisibilityTimeout = cmp.Or(o.VisibilityTimeout, DefaultVisibilityTimeout)
	o.MaxInFlight = cmp.Or(o.MaxInFlight, DefaultMaxInFlight)
	o.MaxReceives = cmp.Or(o.MaxReceives, DefaultMaxReceives)
	var errs []error
	if c == nil {
		errs = append(errs, errors.New("no SQS client"))
	}
	if o.QueueURL == "" {
		errs = append(errs, errors.New("no queue URL"))
	} else if queueName(o.QueueURL) == "" {
		errs = append(errs, fmt.Errorf("queue URL %q has no queue name", o.QueueURL))
	}
	if o.DeadLetterDir == "" && o.DeadLetterQueueURL == "" {
		errs = append(errs, errors.New("neither a dead-letter directory nor a dead-letter queue"))
	}
	if o.Workers < 0 || o.MaxInFlight < 0 || o.MaxReceives < 0 || o.RetryDelay < 0 || o.MaxObjectSize < 0 {
		errs = append(errs, errors.New("negative workers, max in flight, max receives, retry delay or max object size"))
	}
	if o.WaitTime < 0 || o.WaitTime > 20*time.Second {
		errs = append(errs, fmt.Errorf("wait time %v, want at most 20s", o.WaitTime))
	}
	if o.MaxMessages < 0 || o.MaxMessages > 10 {
		errs = append(errs, fmt.Errorf("max messages %d, want 1 to 10", o.MaxMessages))
	}
	if o.VisibilityTimeout < time.Second || o.VisibilityTimeout > 12*time.Hour {
		errs = append(errs, fmt.Errorf("visibility timeout %v, want 1s to 12h", o.VisibilityTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sqssrc: %w", err)
	}
	// SQS counts whole seconds.
	o.WaitTime = o.WaitTime.Truncate(time.Second)
	o.VisibilityTimeout = o.VisibilityTimeout.Truncate(time.Second)
	p := &Poller{
		c: c, o: o, queue: queueName(o.QueueURL),
		obs:      o.Observer,
		wake:     make(chan struct{}, 1),
		ackWake:  make(chan struct{}, 1),
		msgs:     map[*message]struct{}{},
		lastErrs: map[string]string{},
	}
	if p.obs == nil {
		p.obs = nopObserver{}
	}
	p.log = cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	return p, nil
}

// InFlight returns how many received messages have jobs not yet done, and
// how many such jobs there are.
func (p *Poller) InFlight() (messages, jobs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for m := range p.msgs {
		jobs += m.pending
	}
	return len(p.msgs), jobs
}

// Run polls the queue and sends jobs to out until ctx is cancelled; then
// it settles what it can (see the package documentation) and returns ctx's
// error, or at once an error if Run is already running. It does not close
// out, which other sources may share; out is the channel
// pipeline.RunStream reads. Run may be called again after it returned;
// jobs of the earlier run still out hold their slots until they are done.
func (p *Poller) Run(ctx context.Context, out chan<- *source.Job) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("sqssrc: Run called while running")
	}
	defer p.running.Store(false)
	p.mu.Lock()
	p.closed = false
	p.mu.Unlock()

	// Deletes go on a little after ctx is done, to settle what finished.
	ackCtx, cancelAcks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAcks()
	ackStop := make(chan struct{})
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		p.ackLoop(ackCtx, ackStop)
	}()

	var wg sync.WaitGroup
	wg.Go(func() { p.extendLoop(ctx) })
	for range p.o.Workers {
		wg.Go(func() { p.receiveLoop(ctx, out) })
	}
	p.log.Debug("sqs: polling", "url", p.o.QueueURL, "workers", p.o.Workers, "visibility_timeout", p.o.VisibilityTimeout)
	wg.Wait()

	// Shut down: no more acks after this; settle those queued, and make
	// the messages still in flight visible again for whoever polls next.
	p.mu.Lock()
	p.closed = true
	var release []*message
	for m := range p.msgs {
		release = append(release, m)
	}
	clear(p.msgs)
	p.mu.Unlock()
	timer := time.AfterFunc(shutdownTimeout, cancelAcks)
	defer timer.Stop()
	close(ackStop)
	<-ackDone
	if len(release) > 0 {
		p.changeVisibility(ackCtx, release, false, func(*message) time.Duration { return 0 })
		p.log.Info("sqs: stopped with messages in flight; they will be delivered again", "messages", len(release))
	}
	return ctx.Err()
}

// receiveLoop receives messages and hands them on until ctx is done.
func (p *Poller) receiveLoop(ctx context.Context, out chan<- *source.Job) {
	var backoff time.Duration
	for {
		slots := p.reserve(ctx)
		if slots == 0 {
			return
		}
		res, err := p.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.o.QueueURL),
			MaxNumberOfMessages:         int32(slots),
			WaitTimeSeconds:             int32(p.o.WaitTime / time.Second),
			VisibilityTimeout:           int32(p.o.VisibilityTimeout / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if ctx.Err() != nil {
			// A receive cut short may have taken messages: they come back
			// after the visibility timeout.
			p.release(slots)
			return
		}
		if err != nil {
			p.release(slots)
			backoff = min(max(2*backoff, time.Second), maxRecvBackoff)
			p.obs.Error(StageReceiving, err)
			p.log.Warn("sqs: receive failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		p.release(slots - len(res.Messages))
		if len(res.Messages) == 0 {
			continue
		}
		p.obs.Received(len(res.Messages))
		now := time.Now()
		for _, m := range res.Messages {
			p.handle(ctx, m, now, out) // each holds one of the slots
		}
	}
}

// reserve waits until fewer than MaxInFlight slots are taken, takes up to
// MaxMessages of the free ones for a receive, and returns how many it took,
// or 0 when ctx is done. A received message holds one slot until it is
// settled or has jobs, and then one per job.
func (p *Poller) reserve(ctx context.Context) int {
	for {
		if ctx.Err() != nil {
			return 0
		}
		cur := p.inflight.Load()
		if free := int64(p.o.MaxInFlight) - cur; free > 0 {
			n := min(free, int64(p.o.MaxMessages))
			if !p.inflight.CompareAndSwap(cur, cur+n) {
				continue
			}
			if free > n {
				p.signal(p.wake) // another waiting loop may take the rest
			}
			return int(n)
		}
		select {
		case <-ctx.Done():
			return 0
		case <-p.wake:
		}
	}
}

// release gives back n slots.
func (p *Poller) release(n int) {
	if n > 0 {
		p.inflight.Add(-int64(n))
		p.signal(p.wake)
	}
}

// signal wakes whoever waits on ch, without blocking.
func (p *Poller) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// receiveCount returns a message's ApproximateReceiveCount, or 0 if absent.
func receiveCount(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	return n
}
