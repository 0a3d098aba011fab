package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/vigil-sec/vigil/internal/accessanalyzer"
	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/guardduty"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// eventBridge decodes an EventBridge (CloudWatch Events) event. The event's
// Raw is the whole envelope, which carries the delivery's id and time.
func (w *walk) eventBridge(b []byte, k *jsonscan.Members, o event.Origin) bool {
	dt := jsonscan.Str(k.Get("detail-type"))
	detail := k.Get("detail")
	var parse func([]byte) (*event.Event, error)
	switch strings.ToLower(strings.ReplaceAll(dt, " ", "")) {
	case "awsapicallviacloudtrail", "awsconsolesigninviacloudtrail", "awsserviceeventviacloudtrail",
		"awsconsoleactionviacloudtrail", "awsinsightviacloudtrail":
		parse = func(b []byte) (*event.Event, error) {
			ev, err := w.parseCloudTrail(b)
			if errors.Is(err, cloudtrail.ErrNotCloudTrail) {
				err = errors.New("not a CloudTrail record (no eventVersion or eventName)")
			}
			return ev, err
		}
	case "guarddutyfinding":
		parse = guardduty.Parse
	case "accessanalyzerfinding":
		parse = accessanalyzer.Parse
	default:
		return w.unsupported(o, ReasonEventBridge, fmt.Sprintf("%q from %q", dt, jsonscan.Str(k.Get("source"))))
	}
	if jsonscan.KindOf(detail) != jsonscan.Object {
		return w.bad(o, event.FieldErr("detail", "missing or not an object"))
	}
	ev, err := parse(detail)
	if err != nil {
		return w.bad(o, &event.FieldError{Field: "detail", Err: err})
	}
	ev.Raw = b
	if ev.Account == "" {
		ev.Account = jsonscan.Scalar(k.Get("account"))
	}
	if ev.Region == "" {
		ev.Region = jsonscan.Str(k.Get("region"))
	}
	return w.event(ev, o)
}

// sns decodes an SNS message (HTTP/S delivery, SQS body, or the Sns member
// of a Lambda event). A notification's Message is decoded as a record.
// Signatures are verified by the HTTP input, which receives messages from
// the network; files and queues are trusted as their storage is.
func (w *walk) sns(k *jsonscan.Members, o event.Origin, depth int) bool {
	switch t := jsonscan.Str(k.Get("Type")); t {
	case "Notification":
		msg := k.Get("Message")
		if jsonscan.KindOf(msg) != jsonscan.String {
			return w.bad(o, event.FieldErr("Message", "missing or not a string"))
		}
		return w.nested(msg, o.Within("Message"), depth)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		return w.unsupported(o, ReasonSNSControl, t)
	default:
		return w.bad(o, event.FieldErr("Type", "unknown SNS message type %q", t))
	}
}

// awslogs decodes a CloudWatch Logs subscription as Lambda receives it:
// {"awslogs":{"data":base64(gzip(DATA_MESSAGE))}}.
func (w *walk) awslogs(v []byte, o event.Origin, depth int) bool {
	var k jsonscan.Members
	if err := k.Scan(v); err != nil {
		return w.bad(o, &event.FieldError{Field: "awslogs", Err: err})
	}
	data := k.Get("data")
	if jsonscan.KindOf(data) != jsonscan.String {
		return w.bad(o, event.FieldErr("awslogs.data", "missing or not a string"))
	}
	raw, err := w.unpack(jsonscan.Str(data))
	if err != nil {
		return w.bad(o, &event.FieldError{Field: "awslogs.data", Err: err})
	}
	return w.text(raw, o.Within("awslogs.data"), depth+1)
}

// unpack decodes base64 and, when present, gzip, charging what it produces
// to the frame's budget: nesting compressed data inside compressed data
// cannot multiply the work.
func (w *walk) unpack(s string) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > w.inflate {
		return nil, fmt.Errorf("%w: %d bytes of base64 with %d bytes of the record's decompression budget left", ErrTooLarge, len(s), w.inflate)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	if !isGzip(raw) {
		w.inflate -= len(raw)
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	limit := min(int64(w.inflate), w.d.lim.MaxGzipRatio*int64(len(raw))+1<<20)
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("%w: data decompressed inside the record exceeds %d bytes (%d compressed)", ErrTooLarge, limit, len(raw))
	}
	w.inflate -= len(out)
	return out, nil
}

// cloudWatchLogs decodes a CloudWatch Logs subscription message: each log
// event's message is a record (a CloudTrail record when the log group is
// CloudTrail's, a flow-log line when it is a flow log's). A bad log event
// costs only itself.
func (w *walk) cloudWatchLogs(k *jsonscan.Members, o event.Origin, depth int) bool {
	switch mt := jsonscan.Str(k.Get("messageType")); mt {
	case "DATA_MESSAGE":
	case "CONTROL_MESSAGE":
		return w.unsupported(o, ReasonCWLControl, "")
	default:
		return w.bad(o, event.FieldErr("messageType", "unknown %q", mt))
	}
	if k.Kind("logEvents") != jsonscan.Array {
		return w.bad(o, event.FieldErr("logEvents", "not a list"))
	}
	it := jsonscan.NewArrayIter(k.Get("logEvents"))
	for it.Next() {
		lo := o.Within(fmt.Sprintf("logEvents[%d]", it.Index()))
		var le jsonscan.Members
		if err := le.Scan(it.Value()); err != nil {
			if !w.bad(lo, err) {
				return false
			}
			continue
		}
		msg := le.Get("message")
		if jsonscan.KindOf(msg) != jsonscan.String {
			if !w.bad(lo, event.FieldErr("message", "missing or not a string")) {
				return false
			}
			continue
		}
		if !w.nested(msg, lo, depth) {
			return false
		}
	}
	if err := it.Err(); err != nil {
		return w.bad(o, &event.FieldError{Field: "logEvents", Err: err})
	}
	return true
}

// parseS3Notification decodes one record of an S3 event notification. The
// event points at an object; it does not hold it.
func parseS3Notification(b []byte) (*event.Event, error) {
	var n struct {
		AWSRegion    string `json:"awsRegion"`
		EventTime    string `json:"eventTime"`
		EventName    string `json:"eventName"`
		UserIdentity struct {
			PrincipalID string `json:"principalId"`
		} `json:"userIdentity"`
		RequestParameters struct {
			SourceIPAddress string `json:"sourceIPAddress"`
		} `json:"requestParameters"`
		ResponseElements struct {
			RequestID string `json:"x-amz-request-id"`
		} `json:"responseElements"`
		S3 struct {
			Bucket struct {
				Name string `json:"name"`
				ARN  string `json:"arn"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				Size      int64  `json:"size"`
				VersionID string `json:"versionId"`
				ETag      string `json:"eTag"`
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	if n.S3.Bucket.Name == "" {
		return nil, event.FieldErr("s3.bucket.name", "missing")
	}
	t, err := time.Parse(time.RFC3339Nano, n.EventTime)
	if err != nil {
		return nil, event.FieldErr("eventTime", "not an RFC 3339 time: %q", n.EventTime)
	}
	// Object keys are form-encoded ("+" for space).
	key, err := url.QueryUnescape(n.S3.Object.Key)
	if err != nil {
		key = n.S3.Object.Key
	}
	bucketARN := n.S3.Bucket.ARN
	if bucketARN == "" {
		bucketARN = "arn:aws:s3:::" + n.S3.Bucket.Name
	}
	ev := &event.Event{
		Kind:          event.KindS3Notification,
		Time:          t,
		Region:        n.AWSRegion,
		Service:       "s3.amazonaws.com",
		Action:        n.EventName,
		Actor:         event.Actor{PrincipalID: n.UserIdentity.PrincipalID},
		SourceAddress: n.RequestParameters.SourceIPAddress,
		Object: &event.S3Object{
			Bucket: n.S3.Bucket.Name, Key: key, Size: n.S3.Object.Size,
			VersionID: n.S3.Object.VersionID, ETag: n.S3.Object.ETag, Sequencer: n.S3.Object.Sequencer,
		},
		Resources: []event.Resource{
			{ARN: bucketARN, Type: "AWS::S3::Bucket"},
			{ARN: "arn:aws:s3:::" + n.S3.Bucket.Name + "/" + key, Type: "AWS::S3::Object"},
		},
		Raw:    b,
		Record: b,
	}
	if ip, ok := event.ParseAddr(ev.SourceAddress); ok {
		ev.SourceIP = ip.Unmap()
	}
	if n.ResponseElements.RequestID != "" && n.S3.Object.Sequencer != "" {
		ev.ID = "s3:" + n.ResponseElements.RequestID + ":" + n.S3.Object.Sequencer
	}
	return ev, nil
}
