package sns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// The message types SNS sends to HTTP/HTTPS endpoints, as in the Type field
// and the x-amz-sns-message-type header.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// ErrMalformed is returned (wrapped, with the field at fault) by [Parse]
// and [Verifier.Verify] for a body that is not a well-formed SNS message.
var ErrMalformed = errors.New("sns: malformed message")

// Message is one SNS HTTP/HTTPS message: a notification, a subscription
// confirmation or an unsubscribe confirmation. Field names follow SNS's
// JSON keys, with Go's spelling of ID and URL.
type Message struct {
	Type      string
	MessageID string // the MessageId key; the same on every retry
	Token     string // confirmations only
	TopicArn  string
	// Subject is the notification's subject. SNS omits the key when the
	// publisher set none; HasSubject tells an absent subject from an empty
	// one, which the signature distinguishes.
	Subject          string
	HasSubject       bool
	Message          string
	Timestamp        string // as sent (RFC 3339, UTC); the signature covers this text
	SignatureVersion string // "1" (SHA1withRSA) or "2" (SHA256withRSA)
	Signature        string // base64
	SigningCertURL   string
	SubscribeURL     string // confirmations only
	UnsubscribeURL   string // notifications only
	// MessageAttributes are the publisher's attributes. SNS does not sign
	// them: do not base a decision on them.
	MessageAttributes map[string]Attribute
}

// Attribute is one message attribute: Type is "String", "String.Array",
// "Number" or "Binary" (Value is then base64).
type Attribute struct {
	Type  string
	Value string
}

// fields lists the string-valued keys of an SNS message, with where each
// is stored. Keys match exactly: encoding/json's case-insensitive matching
// would let "message" stand in for "Message".
var fields = [...]struct {
	key string
	ptr func(*Message) *string
}{
	{"Type", func(m *Message) *string { return &m.Type }},
	{"MessageId", func(m *Message) *string { return &m.MessageID }},
	{"Token", func(m *Message) *string { return &m.Token }},
	{"TopicArn", func(m *Message) *string { return &m.TopicArn }},
	{"Subject", func(m *Message) *string { return &m.Subject }},
	{"Message", func(m *Message) *string { return &m.Message }},
	{"Timestamp", func(m *Message) *string { return &m.Timestamp }},
	{"SignatureVersion", func(m *Message) *string { return &m.SignatureVersion }},
	{"Signature", func(m *Message) *string { return &m.Signature }},
	{"SigningCertURL", func(m *Message) *string { return &m.SigningCertURL }},
	{"SubscribeURL", func(m *Message) *string { return &m.SubscribeURL }},
	{"UnsubscribeURL", func(m *Message) *string { return &m.UnsubscribeURL }},
}

const attributesKey = "MessageAttributes"

// required lists, per message type, the keys Parse insists on: those the
// signature covers and those needed to act on the message.
var required = map[string][]string{
	TypeNotification: {"MessageId", "TopicArn", "Message", "Timestamp",
		"SignatureVersion", "Signature", "SigningCertURL"},
	TypeSubscriptionConfirmation: {"MessageId", "Token", "TopicArn", "Message",
		"SubscribeURL", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"},
	TypeUnsubscribeConfirmation: {"MessageId", "Token", "TopicArn", "Message",
		"SubscribeURL", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"},
}

// Parse reads one SNS message from body, which the caller has already
// bounded in size. It is strict: body must be one JSON object in UTF-8,
// keys are matched exactly and may not repeat, known keys must hold
// strings (null counts as absent), and every field the type requires
// must be present and non-empty. Unknown keys are ignored. Errors wrap
// [ErrMalformed] and name the field at fault.
func Parse(body []byte) (*Message, error) {
	m, err := decode(body)
	if err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Unwrap reports whether body is an SNS message envelope (as SNS writes to
// an SQS queue without raw message delivery) and returns it. It requires
// less than [Parse]: a known Type, MessageId and TopicArn, and a Message
// for notifications; signature fields may be missing. It does no I/O.
func Unwrap(body []byte) (*Message, bool) {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	m, err := decode(b)
	if err != nil {
		return nil, false
	}
	if _, ok := required[m.Type]; !ok || m.MessageID == "" || m.TopicArn == "" {
		return nil, false
	}
	if m.Type == TypeNotification && m.Message == "" {
		return nil, false
	}
	return m, true
}

// decode reads the JSON object into a Message, checking syntax and types
// but not which fields are present.
func decode(body []byte) (*Message, error) {
	if !utf8.Valid(body) {
		return nil, malformed("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, malformed("body is not a JSON object")
	}
	m := new(Message)
	var seen uint16 // bit i: fields[i]; bit len(fields): MessageAttributes
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed("%v", err)
		}
		key, _ := tok.(string) // object keys are always strings
		i := fieldIndex(key)
		if i < 0 {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, malformed("%s: %v", clip(key), err)
			}
			continue
		}
		if seen&(1<<i) != 0 {
			return nil, malformed("%s: repeated key", key)
		}
		seen |= 1 << i
		if i == len(fields) {
			if err := dec.Decode(&m.MessageAttributes); err != nil {
				return nil, malformed("%s: %v", key, err)
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, malformed("%s: %v", key, err)
		}
		switch v := tok.(type) {
		case string:
			*fields[i].ptr(m) = v
			if key == "Subject" {
				m.HasSubject = true
			}
		case nil:
			// Absent, as Lambda's form of SNS writes a missing Subject.
		default:
			return nil, malformed("%s: not a string", key)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, malformed("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("data after the JSON object")
	}
	return m, nil
}

// fieldIndex returns key's index in fields, len(fields) for
// MessageAttributes, or -1 for a key SNS messages do not have.
func fieldIndex(key string) int {
	for i, f := range fields {
		if f.key == key {
			return i
		}
	}
	if key == attributesKey {
		return len(fields)
	}
	return -1
}

// check verifies that m has every field its type requires, and a
// well-formed Timestamp.
func (m *Message) check() error {
	if m.Type == "" {
		return malformed("Type: required")
	}
	req, ok := required[m.Type]
	if !ok {
		return malformed("Type: unknown message type %q", clip(m.Type))
	}
	var missing []string
	for _, key := range req {
		if *fields[fieldIndex(key)].ptr(m) == "" {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return malformed("%s without %s", m.Type, strings.Join(missing, ", "))
	}
	if _, err := m.time(); err != nil {
		return err
	}
	return nil
}

// time returns the message's Timestamp as a time.
func (m *Message) time() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil {
		return time.Time{}, malformed("Timestamp: not an RFC 3339 time")
	}
	return t, nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// clip shortens s, which came from the network, for an error or a log line.
func clip(s string) string {
	const max = 320 // longer than any topic ARN
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
