package decode

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// maxGzipLayers bounds gzip-inside-gzip (Firehose can compress data that
// CloudWatch Logs already gzipped).
const maxGzipLayers = 2

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// decompress returns the payload with any gzip layers (and a base64 layer
// around gzip) removed, behind limits on total size and expansion ratio, and
// the name of the encoding ("gzip", "gzip+gzip", "base64+gzip" or "").
func decompress(r io.Reader, lim Limits) (io.Reader, string, error) {
	counted := &countingReader{r: r}
	var out io.Reader = counted
	kind := ""
	for layer := 0; ; layer++ {
		under := out
		peekable, ok := out.(*bufio.Reader)
		if !ok {
			peekable = bufio.NewReaderSize(out, 64<<10)
			out = peekable
		}
		head, err := peekable.Peek(4)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, "", err
		}
		if string(head) == "H4sI" && layer < maxGzipLayers {
			// Base64 of a gzip stream, as in a CloudWatch Logs
			// subscription's awslogs.data or a Kinesis record copied to a
			// file. The decoder skips line breaks.
			out = bufio.NewReaderSize(base64.NewDecoder(base64.StdEncoding, peekable), 64<<10)
			kind += "base64+"
			continue
		}
		if !isGzip(head) {
			if !ok {
				// The buffer was only for peeking: read what it holds,
				// then the layer below directly, without copying every
				// byte through it.
				held, _ := peekable.Peek(peekable.Buffered())
				out = io.MultiReader(bytes.NewReader(held), under)
			}
			break
		}
		if layer == maxGzipLayers {
			return nil, "", fmt.Errorf("gzip nested more than %d deep", maxGzipLayers)
		}
		zr, err := gzip.NewReader(peekable)
		if err != nil {
			return nil, "", fmt.Errorf("gzip: %w", err)
		}
		if kind == "" || kind[len(kind)-1] == '+' {
			kind += "gzip"
		} else {
			kind += "+gzip"
		}
		out = &gzipLayer{zr: zr}
	}
	return &limitedReader{r: out, in: counted, lim: lim}, kind, nil
}

// gzipLayer reports gzip errors with context.
type gzipLayer struct{ zr *gzip.Reader }

func (g *gzipLayer) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// limitedReader enforces MaxPayloadBytes and MaxGzipRatio on the
// decompressed stream.
type limitedReader struct {
	r   io.Reader
	in  *countingReader
	n   int64
	lim Limits
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.lim.MaxPayloadBytes {
		return n, fmt.Errorf("%w: decompressed payload exceeds %d bytes", ErrTooLarge, l.lim.MaxPayloadBytes)
	}
	if l.n > 1<<20 && l.n > l.lim.MaxGzipRatio*l.in.n {
		return n, fmt.Errorf("%w: %d bytes from %d compressed (limit %dx)", ErrGzipBomb, l.n, l.in.n, l.lim.MaxGzipRatio)
	}
	return n, err
}
