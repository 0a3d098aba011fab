package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/flowlog"
)

// form says how a frame's bytes are to be decoded.
type form uint8

const (
	formJSON     form = iota // a JSON value of any shape
	formFlowLine             // a flow-log record line
	formError                // a record the splitter had to reject
)

// Frame is one record cut from a payload, not yet decoded. Its Data is
// never modified once the frame is built, so decoded events may alias it.
type Frame struct {
	Data   []byte
	Origin event.Origin
	form   form
	flow   *flowlog.Format
	hint   flowlog.Hint
	err    error
	chunk  *chunk       // the pooled buffer Data lies in, if any
	ev     *event.Event // the record, when the splitter decoded it
}

// Info describes a payload once it has been split.
type Info struct {
	// Format names how the payload was framed: "records" (a
	// {"Records":[...]} document: a CloudTrail log file or a Lambda event
	// batch), "json-array", "json", "ndjson", "flowlog" or "empty", with
	// "+gzip" when it was compressed.
	Format string
	// Records is the number of frames cut from the payload.
	Records int
}

// batch sizes: frames are handed on in batches to amortise channel and
// scheduling costs.
const (
	batchFrames = 512
	batchBytes  = 1 << 20
)

// splitter accumulates frames into batches.
type splitter struct {
	ctx    context.Context
	rd     *reader
	source string
	emit   func([]Frame) error
	frames []Frame
	bytes  int // frame bytes in the current batch
	// misses counts the elements in a row that were not CloudTrail
	// records: after a few, the payload holds something else, and the
	// splitter stops trying to decode its elements itself.
	misses int
	n      int
}

func (s *splitter) add(data []byte, o event.Origin, fm form, flow *flowlog.Format, hint flowlog.Hint, err error) error {
	return s.addFrame(Frame{Data: data, Origin: o, form: fm, flow: flow, hint: hint, err: err})
}

func (s *splitter) addFrame(fr Frame) error {
	// Data comes from the reader, which never overwrites what it has
	// returned: the frame keeps it without a copy.
	fr.Data = fr.Data[:len(fr.Data):len(fr.Data)]
	if c := s.rd.ck; c != nil && c.holds(fr.Data) {
		c.refs.Add(1)
		fr.chunk = c
	}
	s.frames = append(s.frames, fr)
	s.n++
	s.bytes += len(fr.Data)
	if len(s.frames) >= batchFrames || s.bytes >= batchBytes-4096 {
		return s.flush()
	}
	return nil
}

// maxMisses is how many elements in a row may fail to decode as
// CloudTrail records before the splitter stops trying (see record).
const maxMisses = 4

// record cuts the next element when it is a CloudTrail record lying whole
// in the reader's buffer, decoding it in the pass that finds its end: the
// splitter would otherwise scan it for its end and the decoder read it
// again. It reports false, with nothing consumed, for anything else (an
// element that goes on past the buffer, another kind of record, one that
// is broken): the caller cuts it unread, and decoding it says what it is.
func (s *splitter) record(rd *reader, index int) (bool, error) {
	if s.misses >= maxMisses {
		return false, nil
	}
	if c, ok := rd.peek(); !ok || c != '{' {
		return false, nil
	}
	var ev *event.Event
	if rd.ck != nil {
		ev = rd.ck.events.New() // lives as long as the buffer
	} else {
		ev = new(event.Event)
	}
	ev, n, err := cloudtrail.ParseFrom(ev, rd.buf[rd.r:rd.w])
	switch {
	case errors.Is(err, cloudtrail.ErrNotCloudTrail):
		s.misses++
		return false, nil
	case err != nil || n > rd.max:
		return false, nil
	}
	s.misses = 0
	off := rd.offset()
	v := rd.buf[rd.r : rd.r+n : rd.r+n]
	rd.r += n
	rd.lent = true
	return true, s.addFrame(Frame{Data: v, Origin: s.origin(index, 0, off), form: formJSON, ev: ev})
}

func (s *splitter) flush() error {
	if len(s.frames) == 0 {
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	b := s.frames
	if s.rd.pool != nil {
		s.frames = s.rd.pool.batch()
	} else {
		s.frames = make([]Frame, 0, batchFrames)
	}
	s.bytes = 0
	return s.emit(b)
}

// Split reads one payload and calls emit with batches of frames, in order.
// source names the payload in origins (a path, s3://bucket/key, ...). emit
// owns each batch it is given. Split returns an error only when the payload
// as a whole is unusable (I/O, gzip, limits, unknown format); records
// already emitted stay valid.
func Split(ctx context.Context, r io.Reader, source string, lim Limits, emit func([]Frame) error) (Info, error) {
	return split(ctx, r, source, lim, nil, emit)
}

func split(ctx context.Context, r io.Reader, source string, lim Limits, pool *BufferPool, emit func([]Frame) error) (Info, error) {
	lim = lim.withDefaults()
	var info Info
	var inf *inflater
	if pool != nil {
		inf = pool.inflater()
		defer pool.putInflater(inf) // once this payload is read: frames hold none of it
	}
	dr, compression, err := decompress(r, lim, inf)
	if err != nil {
		return info, err
	}
	var rd *reader
	if pool != nil {
		rd = newPooledReader(dr, lim.MaxRecordBytes, pool)
	} else {
		rd = newReader(dr, lim.MaxRecordBytes)
	}
	s := &splitter{ctx: ctx, rd: rd, source: source, emit: emit}
	if pool != nil {
		s.frames = pool.batch()
	} else {
		s.frames = make([]Frame, 0, batchFrames)
	}
	format, err := s.split(rd)
	if ferr := s.flush(); err == nil {
		err = ferr
	}
	rd.close()
	info.Format, info.Records = format, s.n
	if compression != "" && format != "" {
		info.Format += "+" + compression
	}
	return info, err
}

func (s *splitter) split(rd *reader) (string, error) {
	c, ok := rd.peek()
	if !ok {
		if err := rd.readErr(); err != nil {
			return "", err
		}
		return "empty", nil
	}
	if c == '{' || c == '[' {
		return s.splitJSON(rd)
	}
	return s.splitText(rd)
}

func (s *splitter) origin(index int, line int, off int64) event.Origin {
	return event.Origin{Source: s.source, Index: index, Line: line, Offset: off}
}

// splitJSON frames a JSON payload: NDJSON one line at a time, so that a
// broken line costs only itself; otherwise a sequence of values (one, or
// several concatenated as Firehose writes them), where CloudTrail log
// files ({"Records":[...]}) and top-level arrays are streamed element by
// element, every one of them, not only the first.
func (s *splitter) splitJSON(rd *reader) (string, error) {
	index := 0
	if looksLikeNDJSON(rd) {
		return "ndjson", s.splitLines(rd, &index)
	}
	format := ""
	label := func(f string) {
		if format == "" {
			format = f
		}
	}
	for {
		c, ok := rd.peek()
		if !ok {
			return format, rd.readErr()
		}
		switch {
		case recordsPrefix(rd):
			label("records")
			if err := s.streamArray(rd, &index, "the Records array"); err != nil {
				return format, err
			}
			if err := finishObject(rd); err != nil {
				return format, err
			}
		case c == '[':
			label("json-array")
			rd.consume(1)
			if err := s.streamArray(rd, &index, "the top-level array"); err != nil {
				return format, err
			}
		default:
			label("json")
			v, off, err := rd.value()
			if err == io.EOF {
				return format, nil
			}
			if err != nil {
				if err := s.valueErr(err, v, index, off); err != nil {
					return format, err
				}
				index++
				continue
			}
			if err := s.add(v, s.origin(index, 0, off), formJSON, nil, flowlog.Hint{}, nil); err != nil {
				return format, err
			}
			index++
		}
	}
}

// ndjsonLookahead bounds how far the splitter looks for the second line of
// an NDJSON payload. NDJSON with longer lines is read as a sequence of
// values, which decodes it the same, only without per-line recovery.
const ndjsonLookahead = 1 << 20

// looksLikeNDJSON reports whether the payload's first two non-blank lines
// each start with '{' in their first column: one object per line.
// Pretty-printed JSON indents its inner lines, and concatenated objects
// without newlines are one line. A CloudTrail log file is never NDJSON.
func looksLikeNDJSON(rd *reader) bool {
	if b := rd.ahead(16); bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(`{"Records"`)) {
		return false
	}
	lines := rd.peekLines(2, ndjsonLookahead)
	if len(lines) < 2 {
		return false
	}
	for _, l := range lines {
		l = bytes.TrimRight(l, " \t\r")
		if len(l) < 2 || l[0] != '{' {
			return false
		}
	}
	return true
}

// valueErr turns a framing error for one value into a record error frame
// when the stream can go on, and returns the error when it cannot.
func (s *splitter) valueErr(err error, v []byte, index int, off int64) error {
	o := s.origin(index, 0, off)
	var tl errTooLarge
	switch {
	case errors.As(err, &tl):
		return s.add(nil, o, formError, nil, flowlog.Hint{}, err)
	case errors.Is(err, ErrTruncated):
		if ferr := s.add(nil, o, formError, nil, flowlog.Hint{}, fmt.Errorf("payload ends inside this record (%d bytes read)", len(v))); ferr != nil {
			return ferr
		}
		return fmt.Errorf("%w at byte %d", ErrTruncated, off+int64(len(v)))
	}
	return err
}

// splitLines frames an NDJSON payload one line at a time.
func (s *splitter) splitLines(rd *reader, index *int) error {
	for {
		line, n, off, err := rd.nextLine()
		if err == io.EOF {
			return nil
		}
		o := s.origin(*index, n, off)
		if err != nil {
			var tl errTooLarge
			if !errors.As(err, &tl) {
				return err
			}
			if err := s.add(nil, o, formError, nil, flowlog.Hint{}, err); err != nil {
				return err
			}
			*index++
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := s.add(line, o, formJSON, nil, flowlog.Hint{}, nil); err != nil {
			return err
		}
		*index++
	}
}

// recordsPrefix reports whether the stream starts with {"Records":[ and, if
// so, consumes that prefix.
func recordsPrefix(rd *reader) bool {
	b := rd.ahead(64)
	i := 0
	next := func() byte {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		if i < len(b) {
			i++
			return b[i-1]
		}
		return 0
	}
	if next() != '{' {
		return false
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	if !bytes.HasPrefix(b[i:], []byte(`"Records"`)) {
		return false
	}
	i += len(`"Records"`)
	if next() != ':' || next() != '[' {
		return false
	}
	rd.consume(i)
	return true
}

// streamArray frames the elements of an array whose opening bracket has
// been consumed, and consumes the closing bracket.
func (s *splitter) streamArray(rd *reader, index *int, where string) error {
	c, ok := rd.peek()
	if !ok {
		return s.endErr(rd, "inside "+where)
	}
	if c == ']' {
		rd.consume(1)
		return nil
	}
	for {
		decoded, err := s.record(rd, *index)
		if err != nil {
			return err
		}
		if decoded {
			// cut and decoded
		} else if v, off, err := rd.value(); err != nil {
			if err == io.EOF {
				return s.endErr(rd, "inside "+where)
			}
			if err := s.valueErr(err, v, *index, off); err != nil {
				return err
			}
		} else if err := s.add(v, s.origin(*index, 0, off), formJSON, nil, flowlog.Hint{}, nil); err != nil {
			return err
		}
		*index++
		c, ok := rd.peek()
		if !ok {
			return s.endErr(rd, "inside "+where)
		}
		switch c {
		case ',':
			rd.consume(1)
		case ']':
			rd.consume(1)
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or ']' after record %d in %s at byte %d, found %q", errStructure, *index-1, where, rd.offset(), c)
		}
	}
}

func (s *splitter) endErr(rd *reader, where string) error {
	if err := rd.readErr(); err != nil {
		return err
	}
	return fmt.Errorf("%w %s at byte %d", ErrTruncated, where, rd.offset())
}

// finishObject consumes the members that follow the Records array in a
// CloudTrail file (there are normally none) and the closing brace.
func finishObject(rd *reader) error {
	for {
		c, ok := rd.peek()
		if !ok {
			if err := rd.readErr(); err != nil {
				return err
			}
			return fmt.Errorf("%w after the Records array at byte %d", ErrTruncated, rd.offset())
		}
		switch c {
		case '}':
			rd.consume(1)
			return nil
		case ',':
			rd.consume(1)
			if _, _, err := rd.value(); err != nil { // key
				return fmt.Errorf("%w: after the Records array: %w", errStructure, err)
			}
			if c, ok := rd.peek(); !ok || c != ':' {
				return fmt.Errorf("%w: expected ':' at byte %d", errStructure, rd.offset())
			}
			rd.consume(1)
			if _, _, err := rd.value(); err != nil {
				return fmt.Errorf("%w: after the Records array: %w", errStructure, err)
			}
		default:
			return fmt.Errorf("%w: expected ',' or '}' after the Records array at byte %d, found %q", errStructure, rd.offset(), c)
		}
	}
}

// splitText frames a text payload, which must be a VPC flow log.
func (s *splitter) splitText(rd *reader) (string, error) {
	hint := flowlog.HintFromName(s.source)
	first, n, off, err := rd.nextLine()
	if err != nil {
		return "", err
	}
	var format *flowlog.Format
	index := 0
	if f, herr := flowlog.ParseHeader(first); herr == nil {
		format = f
	} else {
		fields := bytes.Fields(first)
		if len(fields) == 0 || !isDigits(fields[0]) {
			return "", fmt.Errorf("%w: %s", ErrUnknownFormat, describeText(first))
		}
		format = flowlog.Positional(len(fields))
		if format == nil {
			return "", fmt.Errorf("%w: the first line has %d fields and no header; a VPC flow log without a header must have the fields of a format version in documented order (14, 21, 25, 29, 39 or 40)", ErrUnknownFormat, len(fields))
		}
		if err := s.add(first, s.origin(index, n, off), formFlowLine, format, hint, nil); err != nil {
			return "flowlog", err
		}
		index++
	}
	for {
		line, n, off, err := rd.nextLine()
		if err == io.EOF {
			return "flowlog", nil
		}
		o := s.origin(index, n, off)
		if err != nil {
			var tl errTooLarge
			if !errors.As(err, &tl) {
				return "flowlog", err
			}
			if err := s.add(nil, o, formError, nil, hint, err); err != nil {
				return "flowlog", err
			}
			index++
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := s.add(line, o, formFlowLine, format, hint, nil); err != nil {
			return "flowlog", err
		}
		index++
	}
}

// isBinary reports text that is not UTF-8 or holds control characters other
// than whitespace.
func isBinary(b []byte) bool {
	if !utf8.Valid(b) {
		return true
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return true
		}
	}
	return false
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// describeText says what an unrecognised text payload looks like, to make
// the error useful.
func describeText(line []byte) string {
	fields := bytes.Fields(line)
	switch {
	case isBinary(line[:min(len(line), 512)]):
		return "binary data (not JSON, gzip or a VPC flow log)"
	case len(fields) > 3 && len(fields[0]) == 64 && bytes.Contains(line, []byte(" [")):
		return "this looks like an S3 server access log, which Vigil does not read yet"
	case bytes.Count(line, []byte(",")) >= 3:
		return "this looks like CSV; Vigil reads AWS's native JSON and flow-log formats"
	}
	return "not JSON and not a VPC flow log"
}
