package decode

import (
	"errors"
	"fmt"
	"strings"
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
func (d *Decoder) Decode(f *Frame, yield Yield) {
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
		d.value(f.Data, f.Origin, 0, yield)
	}
}

// value decodes a JSON value of any supported shape.
func (d *Decoder) value(b []byte, o event.Origin, depth int, yield Yield) bool {
	if depth > d.lim.MaxDepth {
		return yield(nil, recordErr(o, fmt.Errorf("envelopes nested deeper than %d", d.lim.MaxDepth)))
	}
	b = trimSpace(b)
	switch jsonscan.KindOf(b) {
	case jsonscan.Object:
	case jsonscan.Array:
		it := jsonscan.NewArrayIter(b)
		for it.Next() {
			if !d.value(it.Value(), o.Within(fmt.Sprintf("[%d]", it.Index())), depth+1, yield) {
				return false
			}
		}
		if err := it.Err(); err != nil {
			return yield(nil, recordErr(o, err))
		}
		return true
	default:
		if jsonscan.Valid(b) {
			return yield(nil, &Unsupported{Origin: o, Reason: "JSON " + jsonscan.KindOf(b).String() + " (not an event)"})
		}
		_, err := jsonscan.Skip(b, 0)
		if err == nil {
			err = errors.New("unexpected data after JSON value")
		}
		return yield(nil, recordErr(o, err))
	}
	// The common case first: a CloudTrail record.
	ev, err := cloudtrail.Parse(b)
	if err == nil {
		ev.Origin = o
		return yield(ev, nil)
	}
	if !errors.Is(err, cloudtrail.ErrNotCloudTrail) {
		return yield(nil, recordErr(o, err))
	}
	var k keys
	if err := k.scan(b); err != nil {
		return yield(nil, recordErr(o, err))
	}
	return d.object(b, &k, o, depth, yield)
}

// object dispatches a JSON object on the keys it has.
func (d *Decoder) object(b []byte, k *keys, o event.Origin, depth int, yield Yield) bool {
	switch {
	case k.has("digestS3Object") || k.has("digestStartTime"):
		return yield(nil, &Unsupported{Origin: o, Reason: "CloudTrail digest file (integrity data, no events)"})
	case k.kind("Records") == jsonscan.Array:
		return d.elements(k.get("Records"), "Records", o, depth, yield)
	case k.has("detail-type"):
		return d.eventBridge(b, k, o, depth, yield)
	case k.has("TopicArn") && k.kind("Type") == jsonscan.String:
		return d.sns(k, o, depth, yield)
	case k.kind("Sns") == jsonscan.Object:
		return d.value(k.get("Sns"), o.Within("Sns"), depth+1, yield)
	case k.kind("body") == jsonscan.String && (k.has("messageId") || k.has("receiptHandle") || k.has("md5OfBody")):
		return d.nested(k.get("body"), o.Within("body"), depth, yield)
	case k.kind("Body") == jsonscan.String && (k.has("MessageId") || k.has("ReceiptHandle") || k.has("MD5OfBody")):
		return d.nested(k.get("Body"), o.Within("Body"), depth, yield)
	case k.kind("Messages") == jsonscan.Array:
		return d.elements(k.get("Messages"), "Messages", o, depth, yield)
	case k.kind("awslogs") == jsonscan.Object:
		return d.awslogs(k.get("awslogs"), o, depth, yield)
	case k.has("messageType") && k.has("logEvents"):
		return d.cloudWatchLogs(b, o, depth, yield)
	case k.has("eventVersion") && k.has("s3") && jsonscan.Str(k.get("eventSource")) == "aws:s3":
		ev, err := parseS3Notification(b)
		if err != nil {
			return yield(nil, recordErr(o, err))
		}
		ev.Origin = o
		return yield(ev, nil)
	case jsonscan.Str(k.get("Event")) == "s3:TestEvent":
		return yield(nil, &Unsupported{Origin: o, Reason: "S3 test event"})
	case (k.has("schemaVersion") || k.has("SchemaVersion")) && (k.has("severity") || k.has("Severity")):
		ev, err := guardduty.Parse(b)
		if err != nil {
			return yield(nil, recordErr(o, err))
		}
		ev.Origin = o
		return yield(ev, nil)
	case k.kind("findings") == jsonscan.Array:
		return d.elements(k.get("findings"), "findings", o, depth, yield)
	case k.kind("Findings") == jsonscan.Array:
		return d.elements(k.get("Findings"), "Findings", o, depth, yield)
	case k.kind("finding") == jsonscan.Object:
		return d.value(k.get("finding"), o.Within("finding"), depth+1, yield)
	case k.kind("Events") == jsonscan.Array:
		return d.elements(k.get("Events"), "Events", o, depth, yield)
	case k.kind("CloudTrailEvent") == jsonscan.String:
		return d.nested(k.get("CloudTrailEvent"), o.Within("CloudTrailEvent"), depth, yield)
	case accessanalyzer.Looks(k.has):
		ev, err := accessanalyzer.Parse(b)
		if err != nil {
			return yield(nil, recordErr(o, err))
		}
		ev.Origin = o
		return yield(ev, nil)
	case k.has("eventVersion") && (k.has("eventSource") || k.has("userIdentity")):
		// Looks like CloudTrail but cloudtrail.Parse refused it: say why.
		return yield(nil, recordErr(o, event.FieldErr("eventName", "missing: a CloudTrail record needs eventVersion, eventName and eventTime")))
	}
	return yield(nil, &Unsupported{Origin: o, Reason: "unrecognised JSON object with keys " + k.describe()})
}

// elements decodes each element of an array member of an envelope.
func (d *Decoder) elements(arr []byte, name string, o event.Origin, depth int, yield Yield) bool {
	it := jsonscan.NewArrayIter(arr)
	for it.Next() {
		if !d.value(it.Value(), o.Within(fmt.Sprintf("%s[%d]", name, it.Index())), depth+1, yield) {
			return false
		}
	}
	if err := it.Err(); err != nil {
		return yield(nil, recordErr(o, err))
	}
	return true
}

// nested decodes a record carried as a JSON string (an SNS Message, an SQS
// body, a CloudWatch Logs message).
func (d *Decoder) nested(str []byte, o event.Origin, depth int, yield Yield) bool {
	s, err := jsonscan.Unquote(str)
	if err != nil {
		return yield(nil, recordErr(o, err))
	}
	return d.text(bytesOf(s), o, depth+1, flowlog.Hint{}, yield)
}

// text decodes a record that arrived as text inside an envelope: JSON, or a
// flow-log line (CloudWatch Logs delivers flow logs without a header).
func (d *Decoder) text(b []byte, o event.Origin, depth int, hint flowlog.Hint, yield Yield) bool {
	t := trimSpace(b)
	if len(t) == 0 {
		return yield(nil, &Unsupported{Origin: o, Reason: "empty message"})
	}
	// A message that opens like a JSON object is one, and is reported if
	// broken; one that opens with '[' may be a plain log line ("[ERROR] ...").
	if t[0] == '{' || (t[0] == '[' && jsonscan.Valid(t)) {
		return d.value(t, o, depth, yield)
	}
	if f := flowlog.Positional(len(strings.Fields(string(t)))); f != nil && t[0] >= '0' && t[0] <= '9' {
		ev, err := f.Parse(t, hint)
		if err != nil {
			return yield(nil, recordErr(o, err))
		}
		ev.Origin = o
		return yield(ev, nil)
	}
	return yield(nil, &Unsupported{Origin: o, Reason: "message is neither JSON nor a flow-log record"})
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

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// bytesOf views an immutable string as bytes without copying. The decoders
// never write to their input.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
