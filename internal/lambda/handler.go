package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/vigil-sec/vigil/internal/source"
)

// Processor runs payloads through decode → enrich → detect → deliver.
//
// Process is given every payload of one invocation at once. It calls each
// job's Done exactly once: with nil when every event of the payload has
// been evaluated and its alerts handed durably to delivery (bad records in
// it are reported, not failures), or with the payload's failure as a whole
// (it could not be opened or read, or its alerts could not be handed on
// before ctx ended). Done may be called from any goroutine.
//
// Process returns once it has finished with the jobs. It returns an error
// only when the run as a whole failed; every job whose Done had not been
// called by then counts as failed with that error, and so does a job whose
// Done is never called. ctx ends before the invocation's deadline (see
// [Handler.Reserve]), so that there is time left to report the outcome.
//
// Lambda runs one invocation at a time in an execution environment, but a
// Processor shared by several Handlers must be safe for concurrent use.
type Processor interface {
	Process(ctx context.Context, jobs []source.Job) error
}

// ObjectOpener opens S3 objects. OpenObject is called when the pipeline
// reads the payload, possibly from several goroutines at once; the reader
// it returns must stream the object (not hold all of it) and is closed by
// the pipeline. An error is a failure of that payload, which is retried.
type ObjectOpener interface {
	OpenObject(ctx context.Context, bucket, key string) (io.ReadCloser, error)
}

// DefaultReserve is the default for [Handler.Reserve].
const DefaultReserve = 2 * time.Second

// Handler serves Lambda invocations: it implements the aws-lambda-go
// lambda.Handler interface. Its zero value is not usable: Processor must be
// set, and Objects too when any trigger can point at S3 objects. A Handler
// is safe for concurrent use if its Processor and Objects are.
type Handler struct {
	// Processor runs the payloads of each invocation.
	Processor Processor
	// Objects opens the S3 objects that S3, SNS, SQS and EventBridge
	// events point at. Without it such payloads fail.
	Objects ObjectOpener
	// Logger receives one line per failed payload and per unrecognised
	// event; nil discards.
	Logger *slog.Logger
	// Reserve is how long before the invocation's deadline Process's
	// context ends, leaving time to report which payloads failed rather
	// than have Lambda time the whole invocation out (which, for SQS,
	// retries every message of the batch). Default [DefaultReserve],
	// capped at half the time the invocation has.
	Reserve time.Duration
}

var _ awslambda.Handler = (*Handler)(nil)

// Sentinel errors. Errors returned by Invoke wrap one of them.
var (
	// ErrUnrecognized is returned for an event that is none of the
	// triggers Vigil handles, or is malformed.
	ErrUnrecognized = errors.New("lambda: unrecognized event")
	// ErrTooLarge is a CloudWatch Logs subscription whose data
	// decompresses to more than MaxLogBytes.
	ErrTooLarge = errors.New("lambda: decompressed data too large")
	// ErrNoObjectOpener is a payload pointing at an S3 object when the
	// Handler has no Objects.
	ErrNoObjectOpener = errors.New("lambda: no S3 object opener configured")
	// ErrNotProcessed is the failure of a payload whose Done the
	// Processor did not call.
	ErrNotProcessed = errors.New("lambda: payload not processed")
	// ErrPayloadsFailed is returned by asynchronous invocations (SNS, S3,
	// EventBridge, CloudWatch Logs) in which a payload failed, so that
	// Lambda retries the event.
	ErrPayloadsFailed = errors.New("lambda: payloads failed")
)

// Start hands h to the Lambda runtime, which calls h.Invoke for each
// invocation. It does not return; outside Lambda (no
// AWS_LAMBDA_RUNTIME_API) it exits the process with an error.
func Start(h *Handler) { awslambda.Start(h) }

// invocation is what one event turned into: the items the trigger
// answers for as wholes.
type invocation struct {
	trigger string // "sqs", "sns", "s3", "eventbridge", "cloudwatch-logs", "s3-test"
	items   []item
}

// item is one thing Lambda delivered and retries as a whole: an SQS
// message, an SNS record, the event itself for the other triggers.
type item struct {
	id     string // SQS messageId, for batchItemFailures
	name   string // for logs
	inputs []source.Input
	// err is the item's failure: set while reading the event (the item
	// is malformed, no object opener) or from its payloads' outcomes.
	err error
}

// Invoke handles one invocation: payload is the event's JSON. For SQS it
// returns an events.SQSEventResponse listing the failed messages and a nil
// error; for the other triggers JSON null, and an error wrapping
// [ErrPayloadsFailed] when a payload failed. An event it does not
// recognise is an error wrapping [ErrUnrecognized].
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	log := h.logger()
	if h.Processor == nil {
		return nil, errors.New("lambda: Handler has no Processor")
	}
	// The runtime reuses its buffer for the next invocation, while names
	// and payloads cut from this one may outlive the call.
	payload = bytes.Clone(payload)
	pctx, cancel := h.processContext(ctx)
	defer cancel()

	inv, err := h.classify(pctx, payload)
	if err != nil {
		log.Error("lambda: unrecognized event", "err", err, "bytes", len(payload))
		return nil, err
	}
	h.process(pctx, inv)

	failed := 0
	for _, it := range inv.items {
		if it.err != nil {
			failed++
			log.Warn("lambda: payload failed", "trigger", inv.trigger, "item", it.name, "err", it.err)
		}
	}
	log.Debug("lambda: invocation", "trigger", inv.trigger, "items", len(inv.items), "failed", failed)

	if inv.trigger == "sqs" {
		return sqsResponse(inv)
	}
	if failed > 0 {
		return nil, asyncError(inv, failed)
	}
	return []byte("null"), nil
}

// sqsResponse reports the failed messages. An empty list is sent as [], not
// null.
func sqsResponse(inv *invocation) ([]byte, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	seen := make(map[string]bool)
	for _, it := range inv.items {
		if it.err == nil {
			continue
		}
		if it.id == "" {
			// Lambda cannot retry a message it cannot name; failing the
			// invocation retries the whole batch instead.
			return nil, fmt.Errorf("lambda: SQS %s failed and has no messageId, so the whole batch fails: %w", it.name, it.err)
		}
		if !seen[it.id] {
			seen[it.id] = true
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: it.id})
		}
	}
	return json.Marshal(resp)
}

// maxErrorsListed bounds how many failures an invocation's error spells
// out; all of them are logged.
const maxErrorsListed = 5

// asyncError is the error of an asynchronous invocation with failed items.
func asyncError(inv *invocation, failed int) error {
	var errs []error
	for _, it := range inv.items {
		if it.err == nil {
			continue
		}
		if len(errs) == maxErrorsListed {
			errs = append(errs, fmt.Errorf("and %d more", failed-maxErrorsListed))
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", it.name, it.err))
	}
	return fmt.Errorf("%w: %d of %d from %s: %w", ErrPayloadsFailed, failed, len(inv.items), inv.trigger, errors.Join(errs...))
}

// processContext returns the context Process runs under: ctx, ending
// Reserve before ctx's deadline.
func (h *Handler) processContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := h.Reserve
	if reserve <= 0 {
		reserve = DefaultReserve
	}
	if left := time.Until(dl); reserve > left/2 {
		reserve = max(left/2, 0)
	}
	return context.WithDeadline(ctx, dl.Add(-reserve))
}

// process runs the items' inputs through the Processor and sets each
// item's err from its payloads' outcomes.
func (h *Handler) process(ctx context.Context, inv *invocation) {
	var jobs []source.Job
	var owner []int // owner[j] is the item of jobs[j]
	now := time.Now()
	for i, it := range inv.items {
		if it.err != nil {
			continue
		}
		for _, in := range it.inputs {
			jobs = append(jobs, source.Job{Input: in, Source: "lambda", Received: now})
			owner = append(owner, i)
		}
	}
	if len(jobs) == 0 {
		return
	}
	out := newOutcomes(len(jobs))
	for j := range jobs {
		jobs[j].Done = out.done(j)
	}
	perr := h.Processor.Process(ctx, jobs)
	errs := out.close(perr)
	for j, err := range errs {
		it := &inv.items[owner[j]]
		if err != nil && it.err == nil {
			it.err = fmt.Errorf("%s: %w", jobs[j].Input.Name, err)
		}
	}
}

// outcomes collects what Done reports for each job of one Process call.
type outcomes struct {
	mu       sync.Mutex
	finished []bool
	errs     []error
	closed   bool
}

func newOutcomes(n int) *outcomes {
	return &outcomes{finished: make([]bool, n), errs: make([]error, n)}
}

// done returns job j's Done. Only its first call counts, and none after
// Process has returned.
func (o *outcomes) done(j int) func(error) {
	return func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.closed || o.finished[j] {
			return
		}
		o.finished[j] = true
		o.errs[j] = err
	}
}

// close ends the collection and returns each job's outcome: a job not
// done failed with perr, or ErrNotProcessed.
func (o *outcomes) close(perr error) []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if perr == nil {
		perr = ErrNotProcessed
	} else {
		perr = fmt.Errorf("%w: %w", ErrNotProcessed, perr)
	}
	for j, d := range o.finished {
		if !d {
			o.errs[j] = perr
		}
	}
	return o.errs
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
