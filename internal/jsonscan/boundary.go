package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// Boundary finds where a JSON value ends in a stream that arrives in pieces,
// without validating it: it tracks only strings and bracket depth. It lets a
// reader cut a large array into elements cheaply; each element is validated
// later, when it is decoded, so a broken element costs only itself.
//
// The zero value is ready to scan a new value.
type Boundary struct {
	depth   int
	inStr   bool
	esc     bool
	scalar  bool
	started bool
}

// Reset prepares s for a new value.
func (s *Boundary) Reset() { *s = Boundary{} }

// Scan continues the scan at b[i], where b holds the value's bytes seen so
// far (the value's first byte must be the first byte scanned). It returns the
// index just past the value and true when the value ends inside b, or len(b)
// and false when more input is needed. A bare number or literal ends at the
// first delimiter; at the end of the input, call [Boundary.Pending] to learn
// whether a scalar was in progress.
func (s *Boundary) Scan(b []byte, i int) (int, bool) {
	if !s.started {
		if i >= len(b) {
			return i, false
		}
		s.started = true
		switch b[i] {
		case '{', '[':
			s.depth = 1
		case '"':
			s.inStr = true
		default:
			s.scalar = true
			// The first byte belongs to the scalar even if it is odd; the
			// decoder reports it.
		}
		i++
	}
	for i < len(b) {
		switch {
		case s.inStr:
			if s.esc {
				s.esc = false
				i++
				continue
			}
			for i+8 <= len(b) {
				if m := quoteOrBackslashMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					break
				}
				i += 8
			}
			for i < len(b) && b[i] != '"' && b[i] != '\\' {
				i++
			}
			if i == len(b) {
				return i, false
			}
			if b[i] == '\\' {
				s.esc = true
				i++
				continue
			}
			s.inStr = false
			i++
			if s.depth == 0 {
				return i, true
			}
		case s.scalar:
			switch b[i] {
			case ' ', '\t', '\r', '\n', ',', ']', '}', '[', '{', '"', ':':
				return i, true
			}
			i++
		default:
			switch b[i] {
			case '"':
				s.inStr = true
			case '{', '[':
				s.depth++
			case '}', ']':
				s.depth--
				if s.depth <= 0 {
					return i + 1, true
				}
			}
			i++
		}
	}
	return i, false
}

// Pending reports whether the value is a bare scalar still in progress, which
// ends at the end of the input.
func (s *Boundary) Pending() bool { return s.scalar }
