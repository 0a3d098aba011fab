package pattern

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// refMatch is a slow reference for Match: it decodes the event with
// encoding/json and walks the decoded values itself, so it checks the
// traversal, the array handling and the "exists" logic of the fast path
// independently of jsonscan.Lookup. Leaf values are re-encoded and judged
// by the same value tests as Match.
func refMatch(t testing.TB, p *Pattern, event []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("reference: decode event: %v", err)
	}
	return refNode(t, &p.root, v)
}

func refNode(t testing.TB, n *node, doc any) bool {
	switch n.kind {
	case leafNode:
		l := n.leaf
		var vals []any
		refValues(doc, l.path, &vals, 0)
		leaves := 0
		for _, v := range vals {
			if _, isObj := v.(map[string]any); isObj {
				continue
			}
			leaves++
			if l.existsTrue || (l.valueTests && l.matchValue(refEncode(t, v))) {
				return true
			}
		}
		return leaves == 0 && l.existsFalse
	case andNode:
		for i := range n.kids {
			if !refNode(t, &n.kids[i], doc) {
				return false
			}
		}
		return true
	default:
		for i := range n.kids {
			if refNode(t, &n.kids[i], doc) {
				return true
			}
		}
		return false
	}
}

// refValues collects the values at path: arrays are flattened at every
// step and at the end, down to jsonscan.Lookup's limit of 32 arrays.
func refValues(v any, path []string, out *[]any, arrays int) {
	if arrays > 32 {
		return
	}
	if a, ok := v.([]any); ok {
		for _, e := range a {
			refValues(e, path, out, arrays+1)
		}
		return
	}
	if len(path) == 0 {
		*out = append(*out, v)
		return
	}
	if m, ok := v.(map[string]any); ok {
		if c, ok := m[path[0]]; ok {
			refValues(c, path[1:], out, arrays)
		}
	}
}

func refEncode(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("reference: encode %v: %v", v, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// hasDuplicateKeys reports whether some object in the validated JSON b has
// a key twice. encoding/json keeps the last and jsonscan.Lookup the first,
// so the reference does not apply to such documents.
func hasDuplicateKeys(b []byte) bool {
	b = jsonscan.SkipSpaceBytes(b)
	switch jsonscan.KindOf(b) {
	case jsonscan.Object:
		seen := map[string]bool{}
		it := jsonscan.NewObjectIter(b)
		for it.Next() {
			k := string(it.Key())
			if seen[k] || hasDuplicateKeys(it.Value()) {
				return true
			}
			seen[k] = true
		}
	case jsonscan.Array:
		it := jsonscan.NewArrayIter(b)
		for it.Next() {
			if hasDuplicateKeys(it.Value()) {
				return true
			}
		}
	}
	return false
}
