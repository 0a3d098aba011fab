package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// classify recognises the event in payload and turns it into items. It
// returns an error, wrapping ErrUnrecognized, only when the event as a
// whole is not one it handles; a malformed record is its item's error.
func (h *Handler) classify(ctx context.Context, payload []byte) (*invocation, error) {
	b := jsonscan.SkipSpaceBytes(payload)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrUnrecognized)
	}
	if !jsonscan.Valid(b) {
		return nil, fmt.Errorf("%w: not JSON (%s): %s", ErrUnrecognized, syntaxError(b), head(payload))
	}
	if k := jsonscan.KindOf(b); k != jsonscan.Object {
		return nil, fmt.Errorf("%w: a JSON %s, not an object: %s", ErrUnrecognized, k, head(payload))
	}
	var k jsonscan.Members
	if err := k.Scan(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnrecognized, err)
	}
	switch {
	case k.Kind("Records") == jsonscan.Array:
		recs := k.Get("Records")
		switch src := firstEventSource(recs); src {
		case "aws:sqs":
			return h.sqs(ctx, recs), nil
		case "aws:sns":
			return h.sns(ctx, recs), nil
		case "aws:s3":
			return h.s3(ctx, b, recs), nil
		case "":
			return nil, fmt.Errorf("%w: Records without an eventSource: %s", ErrUnrecognized, head(payload))
		default:
			return nil, fmt.Errorf("%w: Records from eventSource %q (Vigil handles aws:sqs, aws:sns and aws:s3)", ErrUnrecognized, src)
		}
	case k.Kind("awslogs") == jsonscan.Object:
		return h.logs(k.Get("awslogs")), nil
	case k.Kind("detail-type") == jsonscan.String && k.Get("detail") != nil:
		return h.eventBridge(ctx, b, &k), nil
	case isS3Test(&k):
		return &invocation{trigger: "s3-test"}, nil
	}
	return nil, fmt.Errorf("%w: an object with keys %s (not SQS, SNS, S3, EventBridge or CloudWatch Logs): %s",
		ErrUnrecognized, k.Describe(), head(payload))
}

// firstEventSource returns the event source of the first record: SQS and
// S3 records spell the key eventSource, SNS records EventSource.
func firstEventSource(records []byte) string {
	it := jsonscan.NewArrayIter(records)
	if !it.Next() || it.Kind() != jsonscan.Object {
		return ""
	}
	var k jsonscan.Members
	if k.Scan(it.Value()) != nil {
		return ""
	}
	if s := jsonscan.Str(k.Get("eventSource")); s != "" {
		return s
	}
	return jsonscan.Str(k.Get("EventSource"))
}

// isS3Test reports whether k is S3's test message, sent when a
// notification configuration is saved.
func isS3Test(k *jsonscan.Members) bool {
	return jsonscan.Str(k.Get("Event")) == "s3:TestEvent"
}

// headBytes is how much of an unrecognised payload an error quotes.
const headBytes = 64

// head quotes the first bytes of b for an error message: control
// characters and bytes that are not UTF-8 are escaped, so the message is
// one safe line.
func head(b []byte) string {
	s := b
	if len(s) > headBytes {
		s = s[:headBytes]
	}
	q := strconv.Quote(string(s))
	if len(b) > headBytes {
		q += fmt.Sprintf(" (%d bytes)", len(b))
	}
	return q
}

// syntaxError describes why b is not JSON, with the offset encoding/json
// reports.
func syntaxError(b []byte) string {
	err := json.Unmarshal(b, new(json.RawMessage))
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%v at offset %d", se, se.Offset)
	case err != nil:
		return err.Error()
	}
	return fmt.Sprintf("nested deeper than %d levels", jsonscan.MaxDepth)
}
