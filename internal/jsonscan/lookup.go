package jsonscan

// Lookup calls fn with the value at path in the JSON document b, which must
// have been validated. A step applied to an array applies to each of its
// elements, and an array found at the end of the path yields each of its
// elements; that is how EventBridge patterns and Sigma rules see fields
// that hold lists ({"resources":[{"ARN":...}]} has values at
// resources.ARN). An empty path yields b itself (or its elements). fn
// returns false to stop; Lookup reports whether it was stopped.
//
// Lookup does not allocate. Values are sub-slices of b.
func Lookup(b []byte, path []string, fn func(v []byte) bool) (stopped bool) {
	return lookup(SkipSpaceBytes(b), path, fn, 0)
}

// maxLookupDepth bounds the arrays-within-arrays Lookup descends through.
const maxLookupDepth = 32

func lookup(v []byte, path []string, fn func(v []byte) bool, depth int) bool {
	if depth > maxLookupDepth || len(v) == 0 {
		return false
	}
	if v[0] == '[' {
		i := skipOpen(v)
		for i < len(v) && v[i] != ']' {
			end := skipTrusted(v, i)
			if end <= i {
				return false // not JSON after all; make no claims
			}
			if lookup(v[i:end], path, fn, depth+1) {
				return true
			}
			i = skipComma(v, end)
		}
		return false
	}
	if len(path) == 0 {
		return !fn(v)
	}
	if v[0] != '{' {
		return false
	}
	it := NewTrustedObjectIter(v)
	for it.Next() {
		if string(it.Key()) == path[0] {
			return lookup(it.Value(), path[1:], fn, depth)
		}
	}
	return false
}

// SkipSpaceBytes returns b without leading JSON whitespace.
func SkipSpaceBytes(b []byte) []byte { return b[SkipSpace(b, 0):] }

// skipOpen returns the index after '[' and any whitespace.
func skipOpen(v []byte) int { return SkipSpace(v, 1) }

// skipComma returns the index of the next element after end: past
// whitespace and a comma, or at the closing bracket.
func skipComma(v []byte, end int) int {
	i := SkipSpace(v, end)
	if i < len(v) && v[i] == ',' {
		i = SkipSpace(v, i+1)
	}
	return i
}

// Doc is a JSON document read by path: the Doc of rule matchers
// (EventBridge patterns, Sigma rules) over raw JSON. The bytes must be
// valid JSON (as a decoder that validated them hands out); on anything
// else results are unspecified, though nothing panics.
type Doc []byte

// Values calls fn with each value at path, as [Lookup] does.
func (d Doc) Values(path []string, fn func(v []byte) bool) bool {
	return Lookup(d, path, fn)
}

// Present reports whether the member at path exists, whatever its value
// (null, an empty array or an object included): the last step of path is
// a key of an object reached by the steps before it (through arrays, as
// Values goes). An empty path is the document itself.
func (d Doc) Present(path []string) bool {
	if len(path) == 0 {
		return len(SkipSpaceBytes(d)) > 0
	}
	parent, last := path[:len(path)-1], path[len(path)-1]
	return Lookup(d, parent, func(v []byte) bool {
		if KindOf(v) != Object {
			return true
		}
		it := NewTrustedObjectIter(v)
		for it.Next() {
			if string(it.Key()) == last {
				return false
			}
		}
		return true
	})
}
