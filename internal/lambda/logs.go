package lambda

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/vigil-sec/vigil/internal/jsonscan"
	"github.com/vigil-sec/vigil/internal/source"
)

// MaxLogBytes bounds the decompressed data of a CloudWatch Logs
// subscription. CloudWatch Logs sends at most about 1 MB compressed per
// invocation, which real logs inflate 5 to 30 times.
const MaxLogBytes = 64 << 20

// logs turns a CloudWatch Logs subscription ({"awslogs":{"data":
// base64(gzip(DATA_MESSAGE))}}) into one item, whose payload is the
// decompressed DATA_MESSAGE.
func (h *Handler) logs(awslogs []byte) *invocation {
	m := item{name: "lambda:cloudwatch-logs"}
	data, err := logData(awslogs)
	if err != nil {
		m.err = err
	} else {
		m.name = logsName(data)
		m.inputs = []source.Input{source.Bytes(m.name, data)}
	}
	return &invocation{trigger: "cloudwatch-logs", items: []item{m}}
}

// logData decodes awslogs.data, within MaxLogBytes.
func logData(awslogs []byte) ([]byte, error) {
	var k jsonscan.Members
	if err := k.Scan(awslogs); err != nil {
		return nil, fmt.Errorf("awslogs: %w", err)
	}
	if k.Kind("data") != jsonscan.String {
		return nil, fmt.Errorf("awslogs.data: missing or not a string")
	}
	raw, err := base64.StdEncoding.DecodeString(k.Str("data"))
	if err != nil {
		return nil, fmt.Errorf("awslogs.data: base64: %w", err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return nil, fmt.Errorf("awslogs.data: not gzip (starts %s)", head(raw[:min(len(raw), 8)]))
	}
	// Measure first, without keeping anything, so that a gzip bomb costs
	// time but no memory; then decompress into a buffer of the right size.
	n, err := gunzip(io.Discard, raw, MaxLogBytes)
	if err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, n))
	if _, err := gunzip(out, raw, n); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// gunzip writes the decompressed raw to w and returns its size, failing
// with ErrTooLarge beyond limit bytes.
func gunzip(w io.Writer, raw []byte, limit int64) (int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return 0, fmt.Errorf("awslogs.data: gzip: %w", err)
	}
	n, err := io.Copy(w, io.LimitReader(zr, limit+1))
	if err != nil {
		return n, fmt.Errorf("awslogs.data: gzip: %w", err)
	}
	if n > limit {
		return n, fmt.Errorf("%w: awslogs.data decompresses to more than %d bytes (%d compressed)", ErrTooLarge, limit, len(raw))
	}
	return n, nil
}

// logsName names a subscription payload after its log group and stream
// and its first log event's id, which together are stable across retries.
func logsName(data []byte) string {
	var k jsonscan.Members
	if jsonscan.KindOf(data) != jsonscan.Object || k.Scan(data) != nil {
		return "lambda:cloudwatch-logs"
	}
	first := ""
	if k.Kind("logEvents") == jsonscan.Array {
		it := jsonscan.NewTrustedArrayIter(k.Get("logEvents"))
		var e jsonscan.Members
		if it.Next() && it.Kind() == jsonscan.Object && e.Scan(it.Value()) == nil {
			first = e.Str("id")
		}
	}
	return "lambda:cloudwatch-logs/" + k.Str("logGroup") + "/" + k.Str("logStream") + "/" + first
}
