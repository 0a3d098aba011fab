package sigma

import (
	"bytes"
	"encoding/json"
	"unsafe"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// Doc is what a rule is matched against: one record, seen through the
// field paths rules name.
//
// Values calls fn with each JSON value (raw, validated) at path, a step
// applied to an array applying to each element and an array at the end
// yielding its elements; fn returns false to stop, and Values returns true
// if fn stopped. An empty path yields the whole record. Present reports
// whether the field exists (even if null).
//
// Implementations must be safe for concurrent reads if rules are matched
// concurrently against the same Doc.
type Doc interface {
	Values(path []string, fn func(v []byte) bool) bool
	Present(path []string) bool
}

// JSONDoc is a Doc over one JSON object, read with [jsonscan.Lookup]. The
// bytes must be valid JSON (as a decoder that validated them hands out);
// on anything else results are unspecified, though nothing panics.
type JSONDoc = jsonscan.Doc

// value is one JSON value of a record as matchers see it.
type value struct {
	kind jsonscan.Kind
	raw  []byte
	// text is what string matching compares: a string's unescaped value,
	// a number's or boolean's JSON text, an object's compact JSON text.
	text string
}

// makeValue prepares raw for matching; ok is false for null, which no
// value matcher matches (Sigma's null is handled apart).
func makeValue(raw []byte) (v value, ok bool) {
	v = value{kind: jsonscan.KindOf(raw), raw: raw}
	switch v.kind {
	case jsonscan.Null, jsonscan.Invalid:
		return v, false
	case jsonscan.String:
		v.text = jsonscan.Str(raw)
	case jsonscan.Object, jsonscan.Array:
		// Compared as compact JSON, so that a rule's '"key":"value"' finds
		// it however the record was laid out.
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			v.text = buf.String()
		} else {
			v.text = string(raw)
		}
	default:
		// The text is used only while matching, never kept, and jsonscan
		// buffers are never modified once scanned (see package jsonscan),
		// so aliasing is safe and saves an allocation per value.
		v.text = unsafe.String(unsafe.SliceData(raw), len(raw))
	}
	return v, true
}

// isNull reports whether the field at path has no value but null: it is
// missing, null, or an empty array. This is Sigma's "null".
func isNull(d Doc, path []string) bool {
	return !d.Values(path, func(raw []byte) bool {
		return jsonscan.KindOf(raw) == jsonscan.Null
	})
}

// maxWalkDepth bounds the nesting walkScalars descends into.
const maxWalkDepth = jsonscan.MaxDepth

// walkScalars calls fn with every non-null scalar nested anywhere in the
// JSON value raw (object members and array elements, recursively; keys are
// not values). It returns true if fn stopped the walk by returning false.
func walkScalars(raw []byte, fn func(value) bool, depth int) bool {
	if depth > maxWalkDepth {
		return false
	}
	switch jsonscan.KindOf(raw) {
	case jsonscan.Object:
		it := jsonscan.NewTrustedObjectIter(raw)
		for it.Next() {
			if walkScalars(it.Value(), fn, depth+1) {
				return true
			}
		}
		return false
	case jsonscan.Array:
		it := jsonscan.NewArrayIter(raw)
		for it.Next() {
			if walkScalars(it.Value(), fn, depth+1) {
				return true
			}
		}
		return false
	}
	v, ok := makeValue(raw)
	return ok && !fn(v)
}
