package jsonscan

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Unquote returns the value of the JSON string token v (quotes included).
// When v has no escapes the result aliases v (see the package comment).
func Unquote(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", syntaxErr(0, "expected string, found %s", KindOf(v))
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return alias(inner), nil
	}
	out := appendUnescaped(make([]byte, 0, len(inner)), inner)
	return alias(out), nil
}

// Str returns the value of v if it is a JSON string and "" for anything else
// (null, numbers, objects). It is the lenient accessor decoders use for
// optional fields.
func Str(v []byte) string {
	if len(v) == 0 || v[0] != '"' {
		return ""
	}
	s, err := Unquote(v)
	if err != nil {
		return ""
	}
	return s
}

// Scalar returns a string for any scalar: strings are unquoted, numbers and
// booleans are returned as written, and null, objects and arrays give "".
// CloudTrail writes the same field as a string in one record and a number or
// boolean in another; Scalar reads both.
func Scalar(v []byte) string {
	switch KindOf(v) {
	case String:
		return Str(v)
	case Number, Boolean:
		return alias(v)
	}
	return ""
}

// Bool reads true/false written as a JSON boolean or as a string, in any
// letter case. ok is false for anything else.
func Bool(v []byte) (val, ok bool) {
	s := Scalar(v)
	switch {
	case len(s) == 4 && (s == "true" || s == "True" || s == "TRUE"):
		return true, true
	case len(s) == 5 && (s == "false" || s == "False" || s == "FALSE"):
		return false, true
	}
	return false, false
}

// Int reads an integer written as a JSON number or as a string.
func Int(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(Scalar(v), 10, 64)
	return n, err == nil
}

// Float reads a number written as a JSON number or as a string.
func Float(v []byte) (float64, bool) {
	f, err := strconv.ParseFloat(Scalar(v), 64)
	return f, err == nil
}

func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendUnescaped appends the unescaped form of the validated string body s.
// Invalid surrogates and invalid UTF-8 become U+FFFD, as with encoding/json.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				j = len(s) - i
			}
			dst = appendValidUTF8(dst, s[i:i+j])
			i += j
			continue
		}
		if i+1 >= len(s) {
			return append(dst, s[i:]...)
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return append(dst, s[i:]...)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok2 = hex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, s[i], s[i+1])
		}
		i += 2
	}
	return dst
}

func appendValidUTF8(dst, s []byte) []byte {
	if utf8.Valid(s) {
		return append(dst, s...)
	}
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return dst
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
