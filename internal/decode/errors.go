package decode

import (
	"errors"
	"fmt"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// Errors a payload can fail with as a whole.
var (
	// ErrTooLarge reports a record or a decompressed payload over its limit.
	ErrTooLarge = errors.New("decode: over size limit")
	// ErrGzipBomb reports a gzip stream that expands beyond the allowed ratio.
	ErrGzipBomb = errors.New("decode: gzip stream expands beyond the allowed ratio")
	// ErrUnknownFormat reports a payload whose content matches no supported
	// format.
	ErrUnknownFormat = errors.New("decode: unrecognised format")
	// ErrTruncated reports a payload that ends in the middle of a record.
	ErrTruncated = errors.New("decode: unexpected end of payload")
)

// RecordError describes one record that could not be decoded. Decoding goes
// on with the next record.
type RecordError struct {
	Origin event.Origin
	// Field names the offending field when it is known, as a dotted path
	// such as "userIdentity.type" or a flow-log field name.
	Field string
	Err   error
}

func (e *RecordError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", e.Origin, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Origin, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// recordErr builds a RecordError, lifting the field name out of an
// *event.FieldError and making JSON syntax offsets absolute.
func recordErr(o event.Origin, err error) *RecordError {
	re := &RecordError{Origin: o, Err: err}
	var fe *event.FieldError
	if errors.As(err, &fe) {
		re.Field, re.Err = fe.Field, fe.Err
		if inner, ok := fe.Err.(*event.FieldError); ok {
			re.Field += "." + inner.Field
			re.Err = inner.Err
		}
	}
	var se *jsonscan.SyntaxError
	if errors.As(re.Err, &se) && o.Path == "" {
		// Offsets in a top-level record are relative to the record; say so.
		re.Err = fmt.Errorf("invalid JSON at byte %d of the record: %s", se.Offset, se.Msg)
	}
	return re
}

// Unsupported describes a well-formed record that is not an event Vigil
// decodes. It is counted and reported, never silently dropped.
type Unsupported struct {
	Origin event.Origin
	// Reason is one of the Reason constants: a fixed category, so that
	// summaries stay small whatever the input holds.
	Reason string
	// Detail says more, from the record itself (a detail-type, the keys of
	// an unrecognised object); it is input, so escape it before printing.
	Detail string
}

// The reasons a record is unsupported.
const (
	ReasonDigest        = "CloudTrail digest file (integrity data, no events)"
	ReasonEventBridge   = "EventBridge event of another type"
	ReasonSNSControl    = "SNS subscription message"
	ReasonS3Test        = "S3 test event"
	ReasonCWLControl    = "CloudWatch Logs control message"
	ReasonLambdaEvent   = "Lambda event record of another service"
	ReasonUnknownObject = "unrecognised JSON object"
	ReasonNotObject     = "JSON value that is not an object"
	ReasonTextMessage   = "log message that is neither JSON nor a flow-log record"
	ReasonEmptyMessage  = "empty log message"
)

func (u *Unsupported) Error() string {
	if u.Detail == "" {
		return fmt.Sprintf("%s: unsupported: %s", u.Origin, u.Reason)
	}
	return fmt.Sprintf("%s: unsupported: %s: %s", u.Origin, u.Reason, u.Detail)
}
