package decode

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// errTooLarge is returned by the reader for one record over the record
// limit; the record has been consumed and the stream can go on.
type errTooLarge struct{ limit int }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("record larger than %d bytes; skipped", e.limit)
}

func (e errTooLarge) Is(target error) bool { return target == ErrTooLarge }

// reader frames a decompressed stream into JSON values or lines. The
// slices value and nextLine return stay valid and unchanged for good: the
// reader moves on to a new buffer instead of overwriting them.
type reader struct {
	src   io.Reader
	buf   []byte
	r, w  int   // buf[r:w] is unread
	base  int64 // stream offset of buf[0]
	err   error // sticky read error; io.EOF at the end
	max   int   // record limit
	line  int   // lines fully consumed so far (line mode only)
	fills int   // reads so far
	lent  bool  // buf holds bytes returned to the caller
	pool  *BufferPool
	ck    *chunk // the pooled buffer buf is, if any
}

// A reader starts with a small buffer, for the many small payloads (an
// SQS message, a test event), and grows it to readChunk once the payload
// proves long.
const (
	firstChunk = 16 << 10
	readChunk  = 256 << 10
)

func newReader(src io.Reader, max int) *reader {
	return &reader{src: src, buf: make([]byte, firstChunk), max: max}
}

// newPooledReader is newReader reading into p's buffers.
func newPooledReader(src io.Reader, max int, p *BufferPool) *reader {
	ck := p.get()
	return &reader{src: src, buf: ck.b, max: max, pool: p, ck: ck}
}

// offset returns the stream offset of the next unread byte.
func (rd *reader) offset() int64 { return rd.base + int64(rd.r) }

// fill reads more input into the buffer, keeping buf[r:w]. It reports
// whether any input was added.
//
// Bytes the reader has returned are never overwritten: once a record has
// been handed out (lent), a full buffer is replaced by a new one rather
// than compacted, so the splitter can keep records without copying them.
func (rd *reader) fill() bool {
	if rd.err != nil {
		return false
	}
	rd.fills++
	full := rd.w == len(rd.buf)
	size := len(rd.buf)
	if full || (rd.fills > 2 && size < readChunk) {
		// Grow a small buffer, and one that a single record fills
		// more than half of; never past the record limit.
		if size < readChunk || rd.w-rd.r > size/2 {
			size = min(2*size, rd.max+readChunk)
		}
	}
	switch {
	case size > len(rd.buf) || (full && rd.r > 0 && rd.lent):
		var nck *chunk
		var nb []byte
		if rd.pool != nil && size == readChunk {
			nck = rd.pool.get()
			nb = nck.b
		} else {
			nb = make([]byte, size)
		}
		copy(nb, rd.buf[rd.r:rd.w])
		rd.base += int64(rd.r)
		rd.buf, rd.w, rd.r = nb, rd.w-rd.r, 0
		rd.lent = false
		if rd.ck != nil {
			rd.ck.release(1)
		}
		rd.ck = nck
	case !rd.lent && rd.r > 0 && (full || rd.r >= len(rd.buf)/2):
		n := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.base += int64(rd.r)
		rd.r, rd.w = 0, n
	case full:
		return false // the caller handles the record limit
	}
	for tries := 0; tries < 100; tries++ {
		n, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += n
		if err != nil {
			rd.err = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
	rd.err = io.ErrNoProgress
	return false
}

// close gives back the reader's buffer; the reader must not be used
// afterwards.
func (rd *reader) close() {
	if rd.ck != nil {
		rd.ck.release(1)
		rd.ck = nil
	}
	rd.buf = nil
}

// readErr returns the stream's error, or nil at a clean end.
func (rd *reader) readErr() error {
	if rd.err == io.EOF {
		return nil
	}
	return rd.err
}

// peek returns the first unread byte after skipping whitespace and a UTF-8
// byte order mark, or false at the end of the stream.
func (rd *reader) peek() (byte, bool) {
	for {
		for rd.r < rd.w {
			c := rd.buf[rd.r]
			switch {
			case c == ' ' || c == '\n' || c == '\r' || c == '\t':
				if c == '\n' {
					rd.line++
				}
				rd.r++
				continue
			case c == 0xEF && rd.w-rd.r >= 3 && rd.buf[rd.r+1] == 0xBB && rd.buf[rd.r+2] == 0xBF:
				rd.r += 3
				continue
			}
			return c, true
		}
		if !rd.fill() {
			return 0, false
		}
	}
}

// ahead returns buf[r:r+n] without consuming it, reading more input as
// needed; it returns fewer bytes at the end of the stream.
func (rd *reader) ahead(n int) []byte {
	for rd.w-rd.r < n && rd.fill() {
	}
	if rd.w-rd.r < n {
		n = rd.w - rd.r
	}
	return rd.buf[rd.r : rd.r+n]
}

// value reads the next JSON value, without validating it (decoding does),
// and returns its bytes and stream offset. It returns io.EOF when the
// stream has no more values, errTooLarge for a value over the record limit
// (consumed), and ErrTruncated when the stream ends inside a value.
func (rd *reader) value() ([]byte, int64, error) {
	if _, ok := rd.peek(); !ok {
		if err := rd.readErr(); err != nil {
			return nil, rd.offset(), err
		}
		return nil, rd.offset(), io.EOF
	}
	off := rd.offset()
	var b jsonscan.Boundary
	scanned := 0
	for {
		end, done := b.Scan(rd.buf[rd.r:rd.w], scanned)
		if done {
			v := rd.buf[rd.r : rd.r+end : rd.r+end]
			rd.r += end
			rd.lent = true
			if end > rd.max {
				return nil, off, errTooLarge{rd.max}
			}
			return v, off, nil
		}
		scanned = end
		if scanned > rd.max {
			return nil, off, rd.discardValue(&b)
		}
		if !rd.fill() {
			if scanned > rd.max {
				return nil, off, rd.discardValue(&b)
			}
			v := rd.buf[rd.r:rd.w:rd.w]
			rd.r = rd.w
			rd.lent = true
			if b.Pending() && rd.readErr() == nil {
				return v, off, nil // a bare scalar ending the stream
			}
			if err := rd.readErr(); err != nil {
				return v, off, err
			}
			return v, off, ErrTruncated
		}
	}
}

// discardValue consumes the rest of an over-limit value.
func (rd *reader) discardValue(b *jsonscan.Boundary) error {
	rd.r = rd.w
	for rd.fill() {
		end, done := b.Scan(rd.buf[rd.r:rd.w], 0)
		if done {
			rd.r += end
			return errTooLarge{rd.max}
		}
		rd.r = rd.w
	}
	if err := rd.readErr(); err != nil {
		return err
	}
	return errTooLarge{rd.max}
}

// peekLines returns up to n of the next non-blank lines without consuming
// them, looking ahead at most limit bytes; a line that does not end within
// them is not returned.
func (rd *reader) peekLines(n, limit int) [][]byte {
	var lines [][]byte
	pos := 0 // relative to rd.r
	for len(lines) < n {
		buf := rd.buf[rd.r:rd.w]
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			if rd.w-rd.r > min(limit, rd.max) || !rd.fill() {
				if rd.err != nil && pos < rd.w-rd.r {
					// The last line of the payload, without a newline.
					if l := bytes.TrimSpace(rd.buf[rd.r+pos : rd.w]); len(l) > 0 {
						lines = append(lines, rd.buf[rd.r+pos:rd.w])
					}
				}
				return lines
			}
			continue
		}
		line := buf[pos : pos+i]
		pos += i + 1
		if len(bytes.TrimSpace(line)) > 0 {
			lines = append(lines, line)
		}
	}
	return lines
}

// consume skips n bytes that the caller has looked at.
func (rd *reader) consume(n int) { rd.r += n }

// nextLine reads the next line without its line ending and returns it with
// its 1-based line number and stream offset. It returns io.EOF at the end
// and errTooLarge for a line over the record limit (consumed).
func (rd *reader) nextLine() ([]byte, int, int64, error) {
	off := rd.offset()
	scanned := 0
	for {
		if i := bytes.IndexByte(rd.buf[rd.r+scanned:rd.w], '\n'); i >= 0 {
			end := rd.r + scanned + i
			line := rd.buf[rd.r:end:end]
			rd.r = end + 1
			rd.lent = true
			rd.line++
			if len(line) > rd.max {
				return nil, rd.line, off, errTooLarge{rd.max}
			}
			return trimCR(line), rd.line, off, nil
		}
		scanned = rd.w - rd.r
		if scanned > rd.max {
			return nil, rd.line + 1, off, rd.discardLine()
		}
		if !rd.fill() {
			if err := rd.readErr(); err != nil {
				return nil, rd.line + 1, off, err
			}
			if rd.r == rd.w {
				return nil, rd.line, off, io.EOF
			}
			line := rd.buf[rd.r:rd.w:rd.w]
			rd.r = rd.w
			rd.lent = true
			rd.line++
			if len(line) > rd.max {
				return nil, rd.line, off, errTooLarge{rd.max}
			}
			return trimCR(line), rd.line, off, nil
		}
	}
}

func (rd *reader) discardLine() error {
	for {
		if i := bytes.IndexByte(rd.buf[rd.r:rd.w], '\n'); i >= 0 {
			rd.r += i + 1
			rd.line++
			return errTooLarge{rd.max}
		}
		rd.r = rd.w
		if !rd.fill() {
			if err := rd.readErr(); err != nil {
				return err
			}
			rd.line++
			return errTooLarge{rd.max}
		}
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

var errStructure = errors.New("decode: malformed container")
