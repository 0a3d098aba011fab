package jsonscan

import "unicode/utf8"

// ObjectIter walks the members of a JSON object, validating each value as it
// passes it. The zero value is not usable; create one with [NewObjectIter].
//
//	it := jsonscan.NewObjectIter(b)
//	for it.Next() {
//		switch string(it.Key()) { ... it.Value() ... }
//	}
//	if err := it.Err(); err != nil { ... }
type ObjectIter struct {
	b       []byte
	i       int
	key     []byte
	keyEsc  bool
	keyBuf  []byte
	val     []byte
	valStr  bool     // the value is a string
	valFl   strFlags // and what it holds
	err     error
	started bool
	done    bool
	trusted bool
	open    bool // the input may go on after the object
}

// NewObjectIter returns an iterator over the object in b. b may have leading
// and trailing whitespace; anything else after the object is an error.
func NewObjectIter(b []byte) ObjectIter { return ObjectIter{b: b} }

// NewObjectIterFrom returns an iterator over the object that starts at
// b[0] (after whitespace) and may be followed by more input, which it
// leaves alone: once Next has returned false without an error, End tells
// where the object ends. A reader cutting records from a stream uses it
// to decode a record and find its end in one pass.
func NewObjectIterFrom(b []byte) ObjectIter { return ObjectIter{b: b, open: true} }

// End returns the index just past the object, once an iterator made by
// NewObjectIterFrom has walked it without error.
func (it *ObjectIter) End() int { return it.i }

// NewTrustedObjectIter returns an iterator over an object that has already
// been validated: a Value (or a part of one) returned by a validating
// iterator or [Skip]. It skips the validation work and is several times
// faster on nested objects. On input that was not validated its results are
// unspecified, though it never reads outside b.
func NewTrustedObjectIter(b []byte) ObjectIter { return ObjectIter{b: b, trusted: true} }

// Next advances to the next member and reports whether there is one. It
// returns false at the end of the object or on the first error.
func (it *ObjectIter) Next() bool {
	if it.done {
		return false
	}
	b := it.b
	i := SkipSpace(b, it.i)
	if !it.started {
		it.started = true
		if i >= len(b) {
			return it.fail(unexpectedEnd(i))
		}
		if b[i] != '{' {
			return it.fail(syntaxErr(i, "expected object, found %s", KindOf(b[i:])))
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return it.end(i + 1)
		}
	} else {
		if i >= len(b) {
			return it.fail(unexpectedEnd(i))
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return it.end(i + 1)
		default:
			return it.fail(syntaxErr(i, "expected ',' or '}' in object, found %q", b[i]))
		}
	}
	if i >= len(b) {
		return it.fail(unexpectedEnd(i))
	}
	if b[i] != '"' {
		return it.fail(syntaxErr(i, "expected string key, found %q", b[i]))
	}
	var (
		kend int
		kfl  strFlags
		err  error
	)
	if it.trusted {
		kend, kfl = scanStringTrusted(b, i)
	} else if kend, kfl, err = scanString(b, i); err != nil {
		return it.fail(err)
	}
	if kend-1 < i+1 {
		return it.fail(unexpectedEnd(len(b)))
	}
	it.key, it.keyEsc = b[i+1:kend-1], kfl&flagEscaped != 0
	i = SkipSpace(b, kend)
	if i >= len(b) {
		return it.fail(unexpectedEnd(i))
	}
	if b[i] != ':' {
		return it.fail(syntaxErr(i, "expected ':' after object key, found %q", b[i]))
	}
	vstart := SkipSpace(b, i+1)
	if vstart >= len(b) {
		return it.fail(unexpectedEnd(vstart))
	}
	var vend int
	it.valStr = b[vstart] == '"'
	switch {
	case it.trusted && it.valStr:
		vend, it.valFl = scanStringTrusted(b, vstart)
	case it.trusted:
		vend = skipTrusted(b, vstart)
	case it.valStr:
		if vend, it.valFl, err = scanString(b, vstart); err != nil {
			return it.fail(err)
		}
	default:
		if vend, err = Skip(b, vstart); err != nil {
			return it.fail(err)
		}
	}
	it.val = b[vstart:vend]
	it.i = vend
	return true
}

// String returns the current value if it is a JSON string, unescaped, and
// "" otherwise; it is [Str] of [ObjectIter.Value] without a second scan.
func (it *ObjectIter) String() string {
	if !it.valStr || len(it.val) < 2 {
		return ""
	}
	inner := it.val[1 : len(it.val)-1]
	if it.valFl == 0 || (it.valFl == flagNonASCII && utf8.Valid(inner)) {
		return alias(inner)
	}
	return alias(appendUnescaped(make([]byte, 0, len(inner)), inner))
}

func (it *ObjectIter) end(i int) bool {
	it.done = true
	it.key, it.val = nil, nil
	if it.open {
		it.i = i
		return false
	}
	if j := SkipSpace(it.b, i); j != len(it.b) {
		it.err = syntaxErr(j, "unexpected data after object")
	}
	return false
}

func (it *ObjectIter) fail(err error) bool {
	it.done = true
	it.key, it.val = nil, nil
	it.err = err
	return false
}

// Key returns the current member's name, unescaped. The slice is valid until
// the next call to Next.
func (it *ObjectIter) Key() []byte {
	if !it.keyEsc {
		return it.key
	}
	it.keyBuf = appendUnescaped(it.keyBuf[:0], it.key)
	return it.keyBuf
}

// Value returns the current member's value: a validated sub-slice of the
// input, without surrounding whitespace.
func (it *ObjectIter) Value() []byte { return it.val }

// Kind returns the kind of the current member's value.
func (it *ObjectIter) Kind() Kind { return KindOf(it.val) }

// Offset returns the byte offset just past the current value in the input.
func (it *ObjectIter) Offset() int { return it.i }

// Err returns the first error met, or nil.
func (it *ObjectIter) Err() error { return it.err }

// ArrayIter walks the elements of a JSON array. Create one with
// [NewArrayIter].
type ArrayIter struct {
	b       []byte
	i       int
	n       int
	val     []byte
	err     error
	started bool
	done    bool
	trusted bool
}

// NewArrayIter returns an iterator over the array in b.
func NewArrayIter(b []byte) ArrayIter { return ArrayIter{b: b, n: -1} }

// NewTrustedArrayIter returns an iterator over an array that has already
// been validated, as NewTrustedObjectIter does for objects: it skips the
// validation work, and on input that was not validated its results are
// unspecified, though it never reads outside b.
func NewTrustedArrayIter(b []byte) ArrayIter { return ArrayIter{b: b, n: -1, trusted: true} }

// Next advances to the next element and reports whether there is one.
func (it *ArrayIter) Next() bool {
	if it.done {
		return false
	}
	b := it.b
	i := SkipSpace(b, it.i)
	if !it.started {
		it.started = true
		if i >= len(b) {
			return it.fail(unexpectedEnd(i))
		}
		if b[i] != '[' {
			return it.fail(syntaxErr(i, "expected array, found %s", KindOf(b[i:])))
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return it.end(i + 1)
		}
	} else {
		if i >= len(b) {
			return it.fail(unexpectedEnd(i))
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case ']':
			return it.end(i + 1)
		default:
			return it.fail(syntaxErr(i, "expected ',' or ']' in array, found %q", b[i]))
		}
	}
	if i >= len(b) {
		return it.fail(unexpectedEnd(i))
	}
	var end int
	if it.trusted {
		end = skipTrusted(b, i)
	} else {
		var err error
		if end, err = Skip(b, i); err != nil {
			return it.fail(err)
		}
	}
	it.val = b[i:end]
	it.i = end
	it.n++
	return true
}

func (it *ArrayIter) end(i int) bool {
	it.done = true
	it.val = nil
	if j := SkipSpace(it.b, i); j != len(it.b) {
		it.err = syntaxErr(j, "unexpected data after array")
	}
	return false
}

func (it *ArrayIter) fail(err error) bool {
	it.done = true
	it.val = nil
	it.err = err
	return false
}

// Value returns the current element: a validated sub-slice of the input.
func (it *ArrayIter) Value() []byte { return it.val }

// Kind returns the kind of the current element.
func (it *ArrayIter) Kind() Kind { return KindOf(it.val) }

// Index returns the 0-based index of the current element.
func (it *ArrayIter) Index() int { return it.n }

// Err returns the first error met, or nil.
func (it *ArrayIter) Err() error { return it.err }
