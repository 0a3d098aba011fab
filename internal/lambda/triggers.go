package lambda

import (
	"context"
	"fmt"

	"github.com/vigil-sec/vigil/internal/jsonscan"
	"github.com/vigil-sec/vigil/internal/s3src"
	"github.com/vigil-sec/vigil/internal/source"
)

// sqs turns an SQS batch into one item per message, named by messageId.
func (h *Handler) sqs(ctx context.Context, records []byte) *invocation {
	inv := &invocation{trigger: "sqs"}
	it := jsonscan.NewTrustedArrayIter(records)
	for it.Next() {
		var k jsonscan.Members
		if it.Kind() != jsonscan.Object || k.Scan(it.Value()) != nil {
			inv.items = append(inv.items, item{
				name: fmt.Sprintf("lambda:sqs/Records[%d]", it.Index()),
				err:  fmt.Errorf("Records[%d]: not an object", it.Index()),
			})
			continue
		}
		m := item{id: k.Str("messageId")}
		m.name = "lambda:sqs/" + m.id
		if m.id == "" {
			m.name = fmt.Sprintf("lambda:sqs/Records[%d]", it.Index())
		}
		switch {
		case k.Str("eventSource") != "aws:sqs":
			m.err = fmt.Errorf("Records[%d]: eventSource %q in an SQS batch", it.Index(), k.Str("eventSource"))
		case k.Kind("body") != jsonscan.String:
			m.err = fmt.Errorf("Records[%d].body: missing or not a string", it.Index())
		default:
			m.inputs, m.err = h.expand(ctx, m.name, []byte(k.Str("body")))
		}
		inv.items = append(inv.items, m)
	}
	return inv
}

// sns turns an SNS event into one item per record, whose payload is the
// message, named by MessageId.
func (h *Handler) sns(ctx context.Context, records []byte) *invocation {
	inv := &invocation{trigger: "sns"}
	it := jsonscan.NewTrustedArrayIter(records)
	for it.Next() {
		m := item{name: fmt.Sprintf("lambda:sns/Records[%d]", it.Index())}
		var k, msg jsonscan.Members
		switch {
		case it.Kind() != jsonscan.Object || k.Scan(it.Value()) != nil:
			m.err = fmt.Errorf("Records[%d]: not an object", it.Index())
		case k.Str("EventSource") != "aws:sns":
			m.err = fmt.Errorf("Records[%d]: EventSource %q in an SNS event", it.Index(), k.Str("EventSource"))
		case k.Kind("Sns") != jsonscan.Object || msg.Scan(k.Get("Sns")) != nil:
			m.err = fmt.Errorf("Records[%d].Sns: missing or not an object", it.Index())
		case msg.Kind("Message") != jsonscan.String:
			m.err = fmt.Errorf("Records[%d].Sns.Message: missing or not a string", it.Index())
		default:
			if id := msg.Str("MessageId"); id != "" {
				m.name = "lambda:sns/" + id
			}
			m.inputs, m.err = h.expand(ctx, m.name, []byte(msg.Str("Message")))
		}
		inv.items = append(inv.items, m)
	}
	return inv
}

// s3 turns an S3 event notification into one item: the objects it names.
func (h *Handler) s3(ctx context.Context, payload, records []byte) *invocation {
	m := item{name: "lambda:s3"}
	if id := lookupStr(records, "responseElements", "x-amz-request-id"); id != "" {
		m.name += "/" + id
	}
	n, _, err := s3src.ParseNotification(payload)
	if err != nil {
		m.err = err
	} else {
		m.inputs, m.err = h.inputs(ctx, m.name, payload, n)
	}
	return &invocation{trigger: "s3", items: []item{m}}
}

// eventBridge turns an EventBridge event into one item: the event itself,
// or the object an S3 "Object Created" event names.
func (h *Handler) eventBridge(ctx context.Context, b []byte, k *jsonscan.Members) *invocation {
	m := item{name: "lambda:eventbridge/" + k.Str("id")}
	if n, ok, err := s3src.ParseNotification(b); ok {
		if err != nil {
			m.err = err
		} else {
			m.inputs, m.err = h.inputs(ctx, m.name, b, n)
		}
	} else {
		m.inputs = []source.Input{source.Bytes(m.name, b)}
	}
	return &invocation{trigger: "eventbridge", items: []item{m}}
}

// expand returns the payloads a message body (SQS) or message (SNS)
// stands for: the S3 objects it points at, or else the body itself, named
// name.
func (h *Handler) expand(ctx context.Context, name string, body []byte) ([]source.Input, error) {
	n, ok, err := s3src.ParseNotification(body)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []source.Input{source.Bytes(name, body)}, nil
	}
	return h.inputs(ctx, name, body, n)
}
