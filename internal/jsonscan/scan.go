package jsonscan

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// MaxDepth is the deepest nesting of objects and arrays the scanner accepts.
// AWS documents are at most a few dozen levels deep; anything deeper is
// hostile or broken.
const MaxDepth = 512

// Kind is the type of a JSON value, read from its first byte.
type Kind uint8

// The kinds of JSON value.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	Boolean
	Null
)

var kindNames = [...]string{"invalid", "object", "array", "string", "number", "bool", "null"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// KindOf reports the kind of the JSON value that starts at v[0]. It does not
// validate the value.
func KindOf(v []byte) Kind {
	if len(v) == 0 {
		return Invalid
	}
	switch v[0] {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't', 'f':
		return Boolean
	case 'n':
		return Null
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return Number
	}
	return Invalid
}

// SyntaxError is a JSON syntax error at a byte offset of the scanned input.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func unexpectedEnd(off int) error { return syntaxErr(off, "unexpected end of input") }

// isSpace reports JSON insignificant whitespace. Every byte above ' ' is
// not: one comparison decides the common case.
func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t') }

// SkipSpace returns the index of the first non-whitespace byte at or after i.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// Valid reports whether b holds exactly one JSON value, optionally surrounded
// by whitespace, nested at most [MaxDepth] deep.
func Valid(b []byte) bool {
	end, err := Skip(b, 0)
	return err == nil && SkipSpace(b, end) == len(b)
}

// Skip validates the JSON value that starts at or after b[i] (after
// whitespace) and returns the index just past it.
func Skip(b []byte, i int) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return i, unexpectedEnd(i)
	}
	switch c := b[i]; c {
	case '{', '[':
		return skipContainer(b, i)
	case '"':
		end, _, err := scanString(b, i)
		return end, err
	default:
		return skipScalar(b, i)
	}
}

// skipScalar skips a number or a literal.
func skipScalar(b []byte, i int) (int, error) {
	switch b[i] {
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return scanNumber(b, i)
	}
	return i, syntaxErr(i, "unexpected character %q", b[i])
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) {
		if string(b[i:]) == lit[:len(b)-i] {
			return len(b), unexpectedEnd(len(b))
		}
	} else if string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, syntaxErr(i, "invalid literal, want %s", lit)
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? .
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return i, unexpectedEnd(i)
		}
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, syntaxErr(i, "invalid number starting at byte %d", start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return i, unexpectedEnd(i)
		}
		if !isDigit(b[i]) {
			return i, syntaxErr(i, "invalid number: digit expected after decimal point")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return i, unexpectedEnd(i)
		}
		if !isDigit(b[i]) {
			return i, syntaxErr(i, "invalid number: digit expected in exponent")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// attentionMask sets the high bit of each byte of x (read little-endian)
// that is a quote, a backslash or a control character. Borrows can set bits
// above a true match, never below, so the lowest set bit is exact:
// bits.TrailingZeros64(m)/8 is the index of the first such byte.
func attentionMask(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (s-lsb)&^s | (x-lsb*0x20)&^x) & msb
}

// quoteOrBackslashMask is attentionMask without control characters, for
// input already validated.
func quoteOrBackslashMask(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (s-lsb)&^s) & msb
}

// strFlags describe a scanned string, so that reading it later needs no
// second pass.
type strFlags uint8

const (
	flagEscaped  strFlags = 1 << iota // has backslash escapes
	flagNonASCII                      // has bytes >= 0x80 (maybe invalid UTF-8)
)

// scanString validates the string starting at b[i] == '"' and returns the
// index just past its closing quote and what it contains.
func scanString(b []byte, i int) (end int, fl strFlags, err error) {
	start := i
	i++
	var hi uint64
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := attentionMask(x); m != 0 {
				j := bits.TrailingZeros64(m) >> 3
				hi |= x & (1<<(8*j) - 1) // the bytes before the match
				i += j
				break
			}
			hi |= x
			i += 8
		}
		if i >= len(b) {
			return i, fl, syntaxErr(start, "unterminated string")
		}
		c := b[i]
		switch {
		case c == '"':
			if hi&msb != 0 {
				fl |= flagNonASCII
			}
			return i + 1, fl, nil
		case c == '\\':
			fl |= flagEscaped
			if i+1 >= len(b) {
				return i + 1, fl, syntaxErr(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return len(b), fl, syntaxErr(start, "unterminated string")
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, fl, syntaxErr(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, fl, syntaxErr(i, "invalid escape \\%c", b[i+1])
			}
		case c < 0x20:
			return i, fl, syntaxErr(i, "control character 0x%02x in string", c)
		default:
			if c >= 0x80 {
				fl |= flagNonASCII
			}
			i++
		}
	}
}

// scanStringTrusted finds the end of the string starting at b[i] == '"' in
// input that has already been validated.
func scanStringTrusted(b []byte, i int) (end int, fl strFlags) {
	i++
	var hi uint64
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := quoteOrBackslashMask(x); m != 0 {
				j := bits.TrailingZeros64(m) >> 3
				hi |= x & (1<<(8*j) - 1)
				i += j
				break
			}
			hi |= x
			i += 8
		}
		if i >= len(b) {
			return len(b), fl
		}
		switch c := b[i]; {
		case c == '"':
			if hi&msb != 0 {
				fl |= flagNonASCII
			}
			return i + 1, fl
		case c == '\\':
			fl |= flagEscaped
			i += 2
		default:
			if c >= 0x80 {
				fl |= flagNonASCII
			}
			i++
		}
	}
}

// skipTrusted returns the index just past the value starting at b[i] in
// input that has already been validated.
func skipTrusted(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := scanStringTrusted(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = scanStringTrusted(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
			i++
		}
		return i
	}
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// skipContainer validates the object or array starting at b[i] and returns
// the index just past it. It is iterative, so hostile nesting cannot exhaust
// the goroutine stack.
func skipContainer(b []byte, i int) (int, error) {
	var isObj [MaxDepth/64 + 1]uint64 // bit set: the container at that depth is an object
	depth := 0
	const (
		stOpen  = iota // at '{' or '['
		stKey          // at the first byte of an object key
		stValue        // at the first byte of a value
		stAfter        // after a value, expecting ',' or a closing bracket
	)
	st := stOpen
	for {
		switch st {
		case stOpen:
			if depth == MaxDepth {
				return i, syntaxErr(i, "nesting deeper than %d", MaxDepth)
			}
			obj := b[i] == '{'
			if obj {
				isObj[depth/64] |= 1 << (depth % 64)
			} else {
				isObj[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i = SkipSpace(b, i+1)
			if i >= len(b) {
				return i, unexpectedEnd(i)
			}
			if (obj && b[i] == '}') || (!obj && b[i] == ']') {
				i++
				depth--
				if depth == 0 {
					return i, nil
				}
				st = stAfter
				continue
			}
			if obj {
				st = stKey
			} else {
				st = stValue
			}
		case stKey:
			if b[i] != '"' {
				return i, syntaxErr(i, "expected string key, found %q", b[i])
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return end, err
			}
			i = SkipSpace(b, end)
			if i >= len(b) {
				return i, unexpectedEnd(i)
			}
			if b[i] != ':' {
				return i, syntaxErr(i, "expected ':' after object key, found %q", b[i])
			}
			i = SkipSpace(b, i+1)
			if i >= len(b) {
				return i, unexpectedEnd(i)
			}
			st = stValue
		case stValue:
			switch b[i] {
			case '{', '[':
				st = stOpen
				continue
			case '"':
				end, _, err := scanString(b, i)
				if err != nil {
					return end, err
				}
				i = end
			default:
				end, err := skipScalar(b, i)
				if err != nil {
					return end, err
				}
				i = end
			}
			st = stAfter
		case stAfter:
			i = SkipSpace(b, i)
			if i >= len(b) {
				return i, unexpectedEnd(i)
			}
			d := depth - 1
			obj := isObj[d/64]&(1<<(d%64)) != 0
			switch c := b[i]; {
			case c == ',':
				i = SkipSpace(b, i+1)
				if i >= len(b) {
					return i, unexpectedEnd(i)
				}
				if obj {
					st = stKey
				} else {
					st = stValue
				}
			case (obj && c == '}') || (!obj && c == ']'):
				i++
				depth--
				if depth == 0 {
					return i, nil
				}
			case obj:
				return i, syntaxErr(i, "expected ',' or '}' in object, found %q", c)
			default:
				return i, syntaxErr(i, "expected ',' or ']' in array, found %q", c)
			}
		}
	}
}
