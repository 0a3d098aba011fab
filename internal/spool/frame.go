package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

const (
	segMagic      = "VGLSPOOL"
	segHeaderSize = 32
	formatVersion = 1

	frameHeaderSize = 36
	flagBatchEnd    = 1 << 0

	maxSource = 255
	maxName   = 64 << 10
	// maxRecordLimit bounds Options.MaxRecord and the largest body a segment
	// header may declare.
	maxRecordLimit = 1 << 30

	// readBufSize is the read-ahead of a frameReader; larger frames are read
	// into a buffer of their own.
	readBufSize = 256 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameSize is the number of bytes r takes in a segment.
func frameSize(r *Record) int64 {
	return frameHeaderSize + int64(len(r.Source)) + int64(len(r.Name)) + int64(len(r.Body))
}

// appendFrame appends r's frame to buf with a zero sequence number, CRC and
// flags, and returns the CRC-32C of its payload; sealFrame completes it.
func appendFrame(buf []byte, r *Record) ([]byte, uint32) {
	off := len(buf)
	buf = append(buf, make([]byte, frameHeaderSize)...)
	h := buf[off:]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(r.Body)))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(r.Name)))
	h[12] = byte(len(r.Source))
	binary.LittleEndian.PutUint64(h[24:], uint64(r.Received.Unix()))
	binary.LittleEndian.PutUint32(h[32:], uint32(r.Received.Nanosecond()))
	buf = append(buf, r.Source...)
	buf = append(buf, r.Name...)
	buf = append(buf, r.Body...)
	return buf, crc32.Update(0, castagnoli, buf[off+frameHeaderSize:])
}

// sealFrame sets the sequence number and flags of the frame header h, whose
// payload has the CRC payloadCRC, and its CRC.
func sealFrame(h []byte, seq uint64, flags byte, payloadCRC uint32) {
	h[13] = flags
	binary.LittleEndian.PutUint64(h[16:], seq)
	binary.LittleEndian.PutUint32(h[0:], crc32.Update(payloadCRC, castagnoli, h[4:frameHeaderSize]))
}

// frame is a decoded frame. Its slices point into the reader's buffer and
// are valid until the next read, unless owned is set.
type frame struct {
	seq                uint64
	flags              byte
	sec                int64
	nsec               uint32
	source, name, body []byte
	size               int64
	owned              bool
}

func (f *frame) received() time.Time {
	return time.Unix(f.sec, int64(f.nsec)).UTC()
}

// frameError describes data that is not a valid frame. short is set when the
// data ends before the frame does.
type frameError struct {
	reason string
	short  bool
}

func (e *frameError) Error() string { return e.reason }

func badFrame(format string, args ...any) error {
	return &frameError{reason: fmt.Sprintf(format, args...)}
}

// frameReader reads frames from a segment file with read-ahead. Reads never
// go beyond the limit given, so a reader of a segment being appended to
// reads only what was committed.
type frameReader struct {
	f     *os.File
	buf   []byte
	start int64 // file offset of buf[0]
	n     int   // valid bytes in buf
}

func newFrameReader() *frameReader {
	return &frameReader{buf: make([]byte, readBufSize)}
}

func (r *frameReader) reset(f *os.File) {
	r.f, r.start, r.n = f, 0, 0
}

// window returns the file's bytes [off, off+need), which must end at or
// before limit. owned reports a buffer of its own, not the read-ahead.
func (r *frameReader) window(off int64, need int, limit int64) (b []byte, owned bool, err error) {
	if off >= r.start && off+int64(need) <= r.start+int64(r.n) {
		i := off - r.start
		return r.buf[i : i+int64(need)], false, nil
	}
	if need > len(r.buf) {
		b := make([]byte, need)
		if _, err := r.f.ReadAt(b, off); err != nil {
			return nil, false, shortRead(err)
		}
		return b, true, nil
	}
	want := min(int64(len(r.buf)), limit-off)
	n, err := r.f.ReadAt(r.buf[:want], off)
	if n < need {
		r.n = 0
		return nil, false, shortRead(err)
	}
	r.start, r.n = off, n
	return r.buf[:need], false, nil
}

// shortRead turns the end of a file that was shorter than expected into a
// short frameError, and keeps other errors.
func shortRead(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &frameError{reason: "file ends inside a frame", short: true}
	}
	return err
}

// next decodes the frame at off. The frame must end at or before limit, and
// its body may be at most maxBody bytes. It returns a *frameError for data
// that is not a valid frame and other errors for failed reads.
func (r *frameReader) next(off, limit, maxBody int64) (frame, error) {
	if limit-off < frameHeaderSize {
		return frame{}, &frameError{reason: fmt.Sprintf("%d bytes left, too few for a frame header", limit-off), short: true}
	}
	h, _, err := r.window(off, frameHeaderSize, limit)
	if err != nil {
		return frame{}, err
	}
	bodyLen := int64(binary.LittleEndian.Uint32(h[4:]))
	nameLen := int64(binary.LittleEndian.Uint32(h[8:]))
	srcLen := int64(h[12])
	fr := frame{
		flags: h[13],
		seq:   binary.LittleEndian.Uint64(h[16:]),
		sec:   int64(binary.LittleEndian.Uint64(h[24:])),
		nsec:  binary.LittleEndian.Uint32(h[32:]),
	}
	switch {
	case bodyLen > maxBody:
		return frame{}, badFrame("body length %d exceeds the segment's limit %d", bodyLen, maxBody)
	case nameLen > maxName:
		return frame{}, badFrame("name length %d exceeds %d", nameLen, maxName)
	case fr.flags&^flagBatchEnd != 0 || h[14] != 0 || h[15] != 0:
		return frame{}, badFrame("unknown flags %#x %#x %#x", h[13], h[14], h[15])
	case fr.nsec >= 1e9:
		return frame{}, badFrame("nanoseconds %d out of range", fr.nsec)
	}
	fr.size = frameHeaderSize + srcLen + nameLen + bodyLen
	if fr.size > limit-off {
		return frame{}, &frameError{reason: fmt.Sprintf("frame of %d bytes, only %d left", fr.size, limit-off), short: true}
	}
	b, owned, err := r.window(off, int(fr.size), limit)
	if err != nil {
		return frame{}, err
	}
	want := binary.LittleEndian.Uint32(b)
	got := crc32.Update(crc32.Update(0, castagnoli, b[frameHeaderSize:]), castagnoli, b[4:frameHeaderSize])
	if got != want {
		return frame{}, badFrame("CRC %#08x, want %#08x", got, want)
	}
	p := b[frameHeaderSize:]
	fr.source, p = p[:srcLen:srcLen], p[srcLen:]
	fr.name, p = p[:nameLen:nameLen], p[nameLen:]
	fr.body = p[:bodyLen:bodyLen]
	fr.owned = owned
	return fr, nil
}

// segHeader returns the 32-byte header of a segment whose first record has
// sequence number first and whose bodies are at most maxBody bytes.
func segHeader(first uint64, maxBody int64) []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic)
	binary.LittleEndian.PutUint16(h[8:], formatVersion)
	binary.LittleEndian.PutUint32(h[12:], uint32(maxBody))
	binary.LittleEndian.PutUint64(h[16:], first)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return h
}

// parseSegHeader checks the header h of the segment whose name says its
// first sequence number is first, and returns its largest body.
func parseSegHeader(h []byte, first uint64) (int64, error) {
	switch {
	case len(h) < segHeaderSize:
		return 0, badFrame("segment header is %d bytes, want %d", len(h), segHeaderSize)
	case string(h[:8]) != segMagic:
		return 0, badFrame("not a segment file (magic %q)", h[:8])
	case crc32.Checksum(h[:28], castagnoli) != binary.LittleEndian.Uint32(h[28:]):
		return 0, badFrame("segment header CRC mismatch")
	}
	if v := binary.LittleEndian.Uint16(h[8:]); v != formatVersion {
		return 0, badFrame("segment format version %d, want %d", v, formatVersion)
	}
	if got := binary.LittleEndian.Uint64(h[16:]); got != first {
		return 0, badFrame("segment header says first sequence number %d, file name %d", got, first)
	}
	maxBody := int64(binary.LittleEndian.Uint32(h[12:]))
	if maxBody > maxRecordLimit {
		return 0, badFrame("segment declares bodies of up to %d bytes, limit %d", maxBody, int64(maxRecordLimit))
	}
	return maxBody, nil
}

func allZero(b []byte) bool {
	return len(bytes.Trim(b, "\x00")) == 0
}
