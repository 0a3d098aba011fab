package decode

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/vigil-sec/vigil/internal/accessanalyzer"
	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/flowlog"
	"github.com/vigil-sec/vigil/internal/guardduty"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// Yield receives each decoded event, or an error that is a *RecordError or
// an *Unsupported. It returns false to stop decoding the frame.
type Yield func(*event.Event, error) bool

// Decoder decodes frames. It is safe for concurrent use.
type Decoder struct {
	lim Limits
}

// NewDecoder returns a decoder with the given limits.
func NewDecoder(lim Limits) *Decoder { return &Decoder{lim: lim.withDefaults()} }

// Decode decodes one frame, calling yield for each event or problem. A frame
// may hold many events (an SQS batch, a CloudWatch Logs subscription).
func (d *Decoder) Decode(f *Frame, yield Yield) { d.DecodeIn(f, yield, nil) }

// DecodeIn is Decode taking CloudTrail events, the common kind, from
// arena when it is not nil: they are valid until the arena is reset.
func (d *Decoder) DecodeIn(f *Frame, yield Yield, arena *event.Arena) {
	if f.ev != nil { // the splitter decoded it
		f.ev.Origin = f.Origin
		yield(f.ev, nil)
		return
	}
	switch f.form {
	case formError:
		yield(nil, recordErr(f.Origin, f.err))
	case formFlowLine:
		ev, err := f.flow.Parse(f.Data, f.hint)
		if err != nil {
			yield(nil, recordErr(f.Origin, err))
			return
		}
		ev.Origin = f.Origin
		yield(ev, nil)
	default:
		w := &walk{d: d, yield: yield, inflate: d.lim.MaxNestedBytes, arena: arena}
		w.value(f.Data, f.Origin, 0)
	}
}

// walk is the state of decoding one frame. Envelopes can nest compressed
// data inside compressed data, so the bytes that may be inflated are a
// budget for the whole frame, not a limit per layer.
type walk struct {
	d       *Decoder
	yield   Yield
	inflate int // bytes that may still be decompressed from inside this frame
	arena   *event.Arena
}

// parseCloudTrail is cloudtrail.Parse into an event from the walk's arena.
func (w *walk) parseCloudTrail(b []byte) (*event.Event, error) {
	if w.arena == nil {
		return cloudtrail.Parse(b)
	}
	return cloudtrail.ParseInto(w.arena.New(), b)
}

func (w *walk) event(ev *event.Event, o event.Origin) bool {
	ev.Origin = o
	return w.yield(ev, nil)
}

func (w *walk) bad(o event.Origin, err error) bool { return w.yield(nil, recordErr(o, err)) }

func (w *walk) unsupported(o event.Origin, reason, detail string) bool {
	return w.yield(nil, &Unsupported{Origin: o, Reason: reason, Detail: detail})
}

// value decodes a JSON value of any supported shape.
func (w *walk) value(b []byte, o event.Origin, depth int) bool {
	if depth > w.d.lim.MaxDepth {
		return w.bad(o, fmt.Errorf("envelopes nested deeper than %d", w.d.lim.MaxDepth))
	}
	b = trimSpace(b)
	switch jsonscan.KindOf(b) {
	case jsonscan.Object:
	case jsonscan.Array:
		it := jsonscan.NewArrayIter(b)
		for it.Next() {
			if !w.value(it.Value(), o.Within(fmt.Sprintf("[%d]", it.Index())), depth+1) {
				return false
			}
		}
		if err := it.Err(); err != nil {
			return w.bad(o, err)
		}
		return true
	default:
		if jsonscan.Valid(b) {
			return w.unsupported(o, ReasonNotObject, jsonscan.KindOf(b).String())
		}
		_, err := jsonscan.Skip(b, 0)
		if err == nil {
			err = errors.New("unexpected data after JSON value")
		}
		return w.bad(o, err)
	}
	// The common case first: a CloudTrail record.
	ev, err := w.parseCloudTrail(b)
	if err == nil {
		return w.event(ev, o)
	}
	if !errors.Is(err, cloudtrail.ErrNotCloudTrail) {
		return w.bad(o, err)
	}
	var k jsonscan.Members
	if err := k.Scan(b); err != nil {
		return w.bad(o, err)
	}
	return w.object(b, &k, o, depth)
}

// object dispatches a JSON object on the keys it has.
func (w *walk) object(b []byte, k *jsonscan.Members, o event.Origin, depth int) bool {
	parsed := func(ev *event.Event, err error) bool {
		if err != nil {
			return w.bad(o, err)
		}
		return w.event(ev, o)
	}
	eventSource := jsonscan.Str(k.Get("eventSource"))
	switch {
	case k.Has("digestS3Object") || k.Has("digestStartTime"):
		return w.unsupported(o, ReasonDigest, "")
	case k.Kind("Records") == jsonscan.Array:
		return w.elements(k.Get("Records"), "Records", o, depth)
	case k.Has("detail-type"):
		return w.eventBridge(b, k, o)
	case k.Has("TopicArn") && k.Kind("Type") == jsonscan.String:
		return w.sns(k, o, depth)
	case k.Kind("Sns") == jsonscan.Object:
		return w.value(k.Get("Sns"), o.Within("Sns"), depth+1)
	case k.Kind("body") == jsonscan.String && (k.Has("messageId") || k.Has("receiptHandle") || k.Has("md5OfBody")):
		return w.nested(k.Get("body"), o.Within("body"), depth)
	case k.Kind("Body") == jsonscan.String && (k.Has("MessageId") || k.Has("ReceiptHandle") || k.Has("MD5OfBody")):
		return w.nested(k.Get("Body"), o.Within("Body"), depth)
	case k.Kind("Messages") == jsonscan.Array:
		return w.elements(k.Get("Messages"), "Messages", o, depth)
	case k.Kind("awslogs") == jsonscan.Object:
		return w.awslogs(k.Get("awslogs"), o, depth)
	case k.Has("messageType") && k.Has("logEvents"):
		return w.cloudWatchLogs(k, o, depth)
	case k.Has("eventVersion") && k.Has("s3") && eventSource == "aws:s3":
		return parsed(parseS3Notification(b))
	case jsonscan.Str(k.Get("Event")) == "s3:TestEvent":
		return w.unsupported(o, ReasonS3Test, "")
	case (k.Has("schemaVersion") || k.Has("SchemaVersion")) && (k.Has("severity") || k.Has("Severity")):
		return parsed(guardduty.Parse(b))
	case k.Kind("findings") == jsonscan.Array:
		return w.elements(k.Get("findings"), "findings", o, depth)
	case k.Kind("Findings") == jsonscan.Array:
		return w.elements(k.Get("Findings"), "Findings", o, depth)
	case k.Kind("finding") == jsonscan.Object:
		return w.value(k.Get("finding"), o.Within("finding"), depth+1)
	case k.Kind("Events") == jsonscan.Array:
		return w.elements(k.Get("Events"), "Events", o, depth)
	case k.Kind("CloudTrailEvent") == jsonscan.String:
		return w.nested(k.Get("CloudTrailEvent"), o.Within("CloudTrailEvent"), depth)
	case accessanalyzer.Looks(k.Has):
		return parsed(accessanalyzer.Parse(b))
	case len(eventSource) > 4 && eventSource[:4] == "aws:":
		// A Lambda event record of another service (DynamoDB, Kinesis...).
		return w.unsupported(o, ReasonLambdaEvent, eventSource)
	case k.Has("eventVersion") && (k.Has("eventSource") || k.Has("userIdentity")):
		// Looks like CloudTrail but cloudtrail.Parse refused it: say why.
		missing := "eventName"
		if k.Has("eventName") {
			missing = "eventVersion"
		}
		return w.bad(o, event.FieldErr(missing, "missing: a CloudTrail record needs eventVersion, eventName and eventTime"))
	}
	return w.unsupported(o, ReasonUnknownObject, "keys "+k.Describe())
}

// elements decodes each element of an array member of an envelope.
func (w *walk) elements(arr []byte, name string, o event.Origin, depth int) bool {
	it := jsonscan.NewArrayIter(arr)
	for it.Next() {
		if !w.value(it.Value(), o.Within(fmt.Sprintf("%s[%d]", name, it.Index())), depth+1) {
			return false
		}
	}
	if err := it.Err(); err != nil {
		return w.bad(o, err)
	}
	return true
}

// nested decodes a record carried as a JSON string (an SNS Message, an SQS
// body, a CloudWatch Logs message).
func (w *walk) nested(str []byte, o event.Origin, depth int) bool {
	s, err := jsonscan.Unquote(str)
	if err != nil {
		return w.bad(o, err)
	}
	return w.text(bytesOf(s), o, depth+1)
}

// maxFlowFields bounds the fields counted when deciding whether a message
// is a headerless flow-log record (the longest documented layout has 40).
const maxFlowFields = 41

// text decodes a record that arrived as text inside an envelope: JSON, or a
// flow-log line (CloudWatch Logs delivers flow logs without a header).
func (w *walk) text(b []byte, o event.Origin, depth int) bool {
	t := trimSpace(b)
	if len(t) == 0 {
		return w.unsupported(o, ReasonEmptyMessage, "")
	}
	// A message that opens like a JSON object is one, and is reported if
	// broken; one that opens with '[' may be a plain log line ("[ERROR] ...").
	if t[0] == '{' || (t[0] == '[' && jsonscan.Valid(t)) {
		return w.value(t, o, depth)
	}
	if t[0] >= '0' && t[0] <= '9' {
		if f := flowlog.Positional(countFields(t, maxFlowFields)); f != nil {
			ev, err := f.Parse(t, flowlog.Hint{})
			if err != nil {
				return w.bad(o, err)
			}
			return w.event(ev, o)
		}
	}
	return w.unsupported(o, ReasonTextMessage, "")
}

// countFields counts space-separated fields, stopping at max.
func countFields(b []byte, max int) int {
	n, in := 0, false
	for _, c := range b {
		sep := c == ' ' || c == '\t'
		if !sep && !in {
			n++
			if n == max {
				return n
			}
		}
		in = !sep
	}
	return n
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t') }

// bytesOf views an immutable string as bytes without copying. The decoders
// never write to their input.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
