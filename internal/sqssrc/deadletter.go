package sqssrc

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// DeadLetter is the JSON file written for a poisoned message.
type DeadLetter struct {
	QueueURL     string    `json:"queue_url"`
	MessageID    string    `json:"message_id"`
	ReceiveCount int       `json:"receive_count"`
	Reason       string    `json:"reason"`
	LastError    string    `json:"last_error,omitempty"` // the last job error this process saw, if any
	Time         time.Time `json:"dead_lettered_at"`
	// Attributes are the message's system attributes (SentTimestamp,
	// SenderId, ApproximateFirstReceiveTimestamp...).
	Attributes        map[string]string         `json:"attributes,omitempty"`
	MessageAttributes map[string]AttributeValue `json:"message_attributes,omitempty"`
	Body              string                    `json:"body"`
}

// AttributeValue is a message attribute in a [DeadLetter].
type AttributeValue struct {
	DataType    string `json:"data_type"`
	StringValue string `json:"string_value,omitempty"`
	BinaryValue []byte `json:"binary_value,omitempty"`
}

// Message attributes added to a message sent to the dead-letter queue.
const (
	AttrReason       = "VigilDeadLetterReason"
	AttrSourceQueue  = "VigilSourceQueue"
	AttrReceiveCount = "VigilReceiveCount"
)

// deadLetter writes m to the dead-letter directory and queue and, when
// both worked, queues it for deletion. When either fails, m stays in the
// queue and comes back.
func (p *Poller) deadLetter(ctx context.Context, m *message, reason string) {
	p.mu.Lock()
	last := p.lastErrs[m.id()]
	p.mu.Unlock()
	dl := DeadLetter{
		QueueURL: p.o.QueueURL, MessageID: m.id(), ReceiveCount: m.receives,
		Reason: reason, LastError: last, Time: time.Now().UTC(),
		Attributes: m.m.Attributes, Body: aws.ToString(m.m.Body),
	}
	if len(m.m.MessageAttributes) > 0 {
		dl.MessageAttributes = map[string]AttributeValue{}
		for k, v := range m.m.MessageAttributes {
			dl.MessageAttributes[k] = AttributeValue{DataType: aws.ToString(v.DataType), StringValue: aws.ToString(v.StringValue), BinaryValue: v.BinaryValue}
		}
	}
	var path string
	if p.o.DeadLetterDir != "" {
		var err error
		if path, err = p.writeDeadLetter(dl); err != nil {
			p.obs.Error(StageDeadLetter, err)
			p.log.Error("sqs: cannot write a poisoned message to the dead-letter directory; it stays in the queue", "message_id", m.id(), "reason", reason, "err", err)
			return
		}
	}
	if p.o.DeadLetterQueueURL != "" {
		if err := p.sendDeadLetter(ctx, m, reason); err != nil {
			p.obs.Error(StageDeadLetter, err)
			p.log.Error("sqs: cannot send a poisoned message to the dead-letter queue; it stays in the queue", "message_id", m.id(), "reason", reason, "err", err)
			return
		}
	}
	p.obs.DeadLettered(1)
	p.log.Warn("sqs: message dead-lettered", "message_id", m.id(), "receives", m.receives, "reason", reason,
		"last_error", last, "file", path, "dead_letter_queue", p.o.DeadLetterQueueURL)
	p.settleNow(m)
}

// writeDeadLetter writes dl as <dir>/<queue>_<message id>.json, durably:
// a temporary file, synced, renamed into place, and the directory synced.
// A message dead-lettered twice (its delete failed) overwrites its file.
func (p *Poller) writeDeadLetter(dl DeadLetter) (string, error) {
	dir := p.o.DeadLetterDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("dead letter: %w", err)
	}
	b, err := json.MarshalIndent(dl, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dead letter: %w", err)
	}
	path := filepath.Join(dir, fileName(p.queue)+"_"+fileName(dl.MessageID)+".json")
	f, err := os.CreateTemp(dir, ".dead-letter-*")
	if err != nil {
		return "", fmt.Errorf("dead letter: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("dead letter %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, nil
}

// fileName makes s safe as part of a file name: anything but letters,
// digits, '-' and '.' becomes '_'.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

// sendDeadLetter sends m's body, unchanged, to the dead-letter queue, with
// its message attributes and, as far as SQS's limit of ten allows, the
// reason, the source queue and the receive count.
func (p *Poller) sendDeadLetter(ctx context.Context, m *message, reason string) error {
	attrs := map[string]types.MessageAttributeValue{}
	for k, v := range m.m.MessageAttributes {
		attrs[k] = v
	}
	for _, a := range []struct{ name, dataType, value string }{
		{AttrReason, "String", reason},
		{AttrSourceQueue, "String", p.o.QueueURL},
		{AttrReceiveCount, "Number", strconv.Itoa(m.receives)},
	} {
		if len(attrs) < 10 {
			attrs[a.name] = types.MessageAttributeValue{DataType: aws.String(a.dataType), StringValue: aws.String(a.value)}
		}
	}
	in := &sqs.SendMessageInput{
		QueueUrl:          aws.String(p.o.DeadLetterQueueURL),
		MessageBody:       m.m.Body,
		MessageAttributes: attrs,
	}
	if strings.HasSuffix(p.o.DeadLetterQueueURL, ".fifo") {
		in.MessageGroupId = aws.String(cmp.Or(m.m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)], "vigil-dead-letter"))
		in.MessageDeduplicationId = m.m.MessageId
	}
	if _, err := p.c.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("dead letter: send to %s: %w", p.o.DeadLetterQueueURL, err)
	}
	return nil
}
