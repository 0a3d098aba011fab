package event

import (
	"strconv"
	"strings"
)

// Origin says where a record came from precisely enough for a person to find
// it again: the payload (file, object, message), the record's position in it
// and, for records nested in envelopes, the path through them.
type Origin struct {
	// Source names the payload: a file path, "-" for stdin, s3://bucket/key,
	// sqs:<message-id>.
	Source string `json:"source"`
	// Index is the 0-based position of the record in the payload's record
	// sequence (Records array element, line, or top-level value), or -1.
	Index int `json:"index"`
	// Line is the 1-based line of the record for line-oriented payloads
	// (NDJSON, flow logs), 0 when unknown.
	Line int `json:"line,omitempty"`
	// Offset is the byte offset of the record in the decompressed payload.
	Offset int64 `json:"offset"`
	// Path leads from the record at Index to the nested record, e.g.
	// "body>Message>detail" or "logEvents[3]".
	Path string `json:"path,omitempty"`
}

// String formats the origin as file:line, or file#index@offset for records
// without lines, followed by the envelope path.
func (o Origin) String() string {
	var b strings.Builder
	b.WriteString(o.Source)
	switch {
	case o.Line > 0:
		b.WriteString(":")
		b.WriteString(strconv.Itoa(o.Line))
	case o.Index >= 0:
		b.WriteString(" record ")
		b.WriteString(strconv.Itoa(o.Index))
		b.WriteString(" (byte ")
		b.WriteString(strconv.FormatInt(o.Offset, 10))
		b.WriteString(")")
	}
	if o.Path != "" {
		b.WriteString(" ")
		b.WriteString(o.Path)
	}
	return b.String()
}

// Within returns a copy of o for a record nested at path step inside it.
func (o Origin) Within(step string) Origin {
	if o.Path == "" {
		o.Path = step
	} else {
		o.Path += ">" + step
	}
	return o
}
