package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/vigil-sec/vigil/internal/accessanalyzer"
	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/flowlog"
	"github.com/vigil-sec/vigil/internal/guardduty"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// eventBridge decodes an EventBridge (CloudWatch Events) event. The event's
// Raw is the whole envelope, which carries the delivery's id and time.
func (d *Decoder) eventBridge(b []byte, k *keys, o event.Origin, depth int, yield Yield) bool {
	dt := jsonscan.Str(k.get("detail-type"))
	detail := k.get("detail")
	var (
		ev  *event.Event
		err error
	)
	switch strings.ToLower(strings.ReplaceAll(dt, " ", "")) {
	case "awsapicallviacloudtrail", "awsconsolesigninviacloudtrail", "awsserviceeventviacloudtrail",
		"awsconsoleactionviacloudtrail", "awsinsightviacloudtrail":
		if jsonscan.KindOf(detail) != jsonscan.Object {
			return yield(nil, recordErr(o, event.FieldErr("detail", "missing or not an object")))
		}
		ev, err = cloudtrail.Parse(detail)
		if errors.Is(err, cloudtrail.ErrNotCloudTrail) {
			err = errors.New("not a CloudTrail record (no eventVersion or eventName)")
		}
	case "guarddutyfinding":
		if jsonscan.KindOf(detail) != jsonscan.Object {
			return yield(nil, recordErr(o, event.FieldErr("detail", "missing or not an object")))
		}
		ev, err = guardduty.Parse(detail)
	case "accessanalyzerfinding":
		if jsonscan.KindOf(detail) != jsonscan.Object {
			return yield(nil, recordErr(o, event.FieldErr("detail", "missing or not an object")))
		}
		ev, err = accessanalyzer.Parse(detail)
	default:
		src := jsonscan.Str(k.get("source"))
		return yield(nil, &Unsupported{Origin: o, Reason: fmt.Sprintf("EventBridge event %q from %s", dt, src)})
	}
	if err != nil {
		return yield(nil, recordErr(o, &event.FieldError{Field: "detail", Err: err}))
	}
	ev.Raw = b
	ev.Origin = o
	if ev.Account == "" {
		ev.Account = jsonscan.Scalar(k.get("account"))
	}
	if ev.Region == "" {
		ev.Region = jsonscan.Str(k.get("region"))
	}
	return yield(ev, nil)
}

// sns decodes an SNS message (HTTP/S delivery, SQS body, or the Sns member
// of a Lambda event). A notification's Message is decoded as a record.
// Signatures are verified by the HTTP input, which receives messages from
// the network; files and queues are trusted as their storage is.
func (d *Decoder) sns(k *keys, o event.Origin, depth int, yield Yield) bool {
	switch t := jsonscan.Str(k.get("Type")); t {
	case "Notification":
		msg := k.get("Message")
		if jsonscan.KindOf(msg) != jsonscan.String {
			return yield(nil, recordErr(o, event.FieldErr("Message", "missing or not a string")))
		}
		return d.nested(msg, o.Within("Message"), depth, yield)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		return yield(nil, &Unsupported{Origin: o, Reason: "SNS " + t})
	default:
		return yield(nil, recordErr(o, event.FieldErr("Type", "unknown SNS message type %q", t)))
	}
}

// awslogs decodes a CloudWatch Logs subscription as Lambda receives it:
// {"awslogs":{"data":base64(gzip(DATA_MESSAGE))}}.
func (d *Decoder) awslogs(v []byte, o event.Origin, depth int, yield Yield) bool {
	var k keys
	if err := k.scan(v); err != nil {
		return yield(nil, recordErr(o, &event.FieldError{Field: "awslogs", Err: err}))
	}
	data := k.get("data")
	if jsonscan.KindOf(data) != jsonscan.String {
		return yield(nil, recordErr(o, event.FieldErr("awslogs.data", "missing or not a string")))
	}
	raw, err := d.unpack(jsonscan.Str(data))
	if err != nil {
		return yield(nil, recordErr(o, &event.FieldError{Field: "awslogs.data", Err: err}))
	}
	return d.text(raw, o.Within("awslogs.data"), depth+1, flowlog.Hint{}, yield)
}

// unpack decodes base64 and, when present, gzip, within MaxNestedBytes.
func (d *Decoder) unpack(s string) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > d.lim.MaxNestedBytes {
		return nil, fmt.Errorf("%w: %d bytes of base64", ErrTooLarge, len(s))
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	if !isGzip(raw) {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(d.lim.MaxNestedBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if len(out) > d.lim.MaxNestedBytes {
		return nil, fmt.Errorf("%w: decompressed data exceeds %d bytes", ErrTooLarge, d.lim.MaxNestedBytes)
	}
	return out, nil
}

// cloudWatchLogs decodes a CloudWatch Logs subscription message: each log
// event's message is a record (a CloudTrail record when the log group is
// CloudTrail's, a flow-log line when it is a flow log's).
func (d *Decoder) cloudWatchLogs(b []byte, o event.Origin, depth int, yield Yield) bool {
	var msg struct {
		MessageType string `json:"messageType"`
		Owner       string `json:"owner"`
		LogGroup    string `json:"logGroup"`
		LogEvents   []struct {
			ID        string          `json:"id"`
			Timestamp int64           `json:"timestamp"`
			Message   json.RawMessage `json:"message"`
		} `json:"logEvents"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		return yield(nil, recordErr(o, err))
	}
	switch msg.MessageType {
	case "DATA_MESSAGE":
	case "CONTROL_MESSAGE":
		return yield(nil, &Unsupported{Origin: o, Reason: "CloudWatch Logs control message"})
	default:
		return yield(nil, recordErr(o, event.FieldErr("messageType", "unknown %q", msg.MessageType)))
	}
	for i, le := range msg.LogEvents {
		lo := o.Within(fmt.Sprintf("logEvents[%d]", i))
		if jsonscan.KindOf(le.Message) != jsonscan.String {
			if !yield(nil, recordErr(lo, event.FieldErr("message", "missing or not a string"))) {
				return false
			}
			continue
		}
		s, err := jsonscan.Unquote(le.Message)
		if err != nil {
			if !yield(nil, recordErr(lo, err)) {
				return false
			}
			continue
		}
		if !d.text(bytesOf(s), lo, depth+1, flowlog.Hint{}, yield) {
			return false
		}
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
		Raw: b,
	}
	if ip, err := netip.ParseAddr(ev.SourceAddress); err == nil {
		ev.SourceIP = ip.Unmap()
	}
	if n.ResponseElements.RequestID != "" && n.S3.Object.Sequencer != "" {
		ev.ID = "s3:" + n.ResponseElements.RequestID + ":" + n.S3.Object.Sequencer
	}
	return ev, nil
}
