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
//
// inf, if not nil, holds the outer layer's reader and gzip state from an
// earlier payload, reused for this one; it must not be used for another
// payload until this one is read.
func decompress(r io.Reader, lim Limits, inf *inflater) (io.Reader, string, error) {
	counted := &countingReader{r: r}
	var out io.Reader = counted
	kind := ""
	for layer := 0; ; layer++ {
		under := out
		peekable, ok := out.(*bufio.Reader)
		if !ok {
			switch {
			case layer > 0 || inf == nil:
				peekable = bufio.NewReaderSize(out, 64<<10)
			case inf.br == nil:
				inf.br = bufio.NewReaderSize(out, 64<<10)
				peekable = inf.br
			default:
				inf.br.Reset(out)
				peekable = inf.br
			}
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
		var zr *gzip.Reader
		switch {
		case layer > 0 || inf == nil:
			zr, err = gzip.NewReader(peekable)
		case inf.zr == nil:
			zr, err = gzip.NewReader(peekable)
			inf.zr = zr
		default:
			zr, err = inf.zr, inf.zr.Reset(peekable)
		}
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

// inflater is what reading a payload's outer layer needs (a read buffer,
// gzip's window and tables): a BufferPool keeps them from payload to
// payload, since new ones are fresh memory to fault in each time.
type inflater struct {
	br *bufio.Reader
	zr *gzip.Reader
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
