package pattern

import (
	"slices"
	"strings"
	"sync"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// Doc is what a pattern is matched against. Values calls fn with each JSON
// value (raw bytes, validated JSON) found at path, where a step applied to an
// array applies to each element and an array at the end of the path yields its
// elements; it returns true if fn returned false (stopped). Present reports
// whether the field at path exists at all (for "exists"), including when its
// value is null or an empty array.
//
// Implementations must be safe for concurrent use if the same Doc is matched
// from several goroutines. [Pattern.Match] reads fields only through Values:
// EventBridge's "exists" is about leaf values (see the package comment), which
// Present cannot express, so Present is there for other consumers.
type Doc interface {
	Values(path []string, fn func(v []byte) bool) bool
	Present(path []string) bool
}

// JSONDoc is a Doc over a JSON object document (validated JSON), using
// [jsonscan.Lookup]. [Pattern.Match] reads a JSONDoc directly rather than
// through the interface, finding the top-level members a pattern reads in
// one pass.
type JSONDoc = jsonscan.Doc

// Pattern is a compiled EventBridge event pattern. It is immutable and safe
// for concurrent use. The zero Pattern matches every document.
type Pattern struct {
	root   node
	fields [][]string
	tops   []string // distinct first path steps, at most maxTops
}

// Match reports whether the pattern matches d. It does not allocate.
// Converting raw JSON to a Doc (p.Match(JSONDoc(b))) costs one small
// allocation, so a caller matching many patterns against one event makes
// the Doc once.
func (p *Pattern) Match(d Doc) bool {
	if jd, ok := d.(JSONDoc); ok {
		// Matching a JSONDoc calls jsonscan.Lookup directly, so the
		// evaluator and its callback stay on the stack.
		e := evaluator{json: jd, tops: p.tops}
		if b := jsonscan.SkipSpaceBytes(jd); len(b) > 0 && b[0] == '{' && len(p.tops) > 0 {
			e.useTops, e.topIt = true, jsonscan.NewTrustedObjectIter(b)
		}
		return e.node(&p.root)
	}
	e := evaluatorPool.Get().(*evaluator)
	e.doc = d
	ok := e.node(&p.root)
	e.doc, e.leaf = nil, nil
	evaluatorPool.Put(e)
	return ok
}

var evaluatorPool = sync.Pool{New: func() any {
	e := new(evaluator)
	e.fn = e.visit
	return e
}}

// Fields returns the field paths the pattern constrains (top-level $or
// branches included), sorted. The result is a copy.
func (p *Pattern) Fields() [][]string {
	out := make([][]string, len(p.fields))
	for i, f := range p.fields {
		out[i] = slices.Clone(f)
	}
	return out
}

// Exact returns the exact string values the pattern requires at path, and
// true, when every way the pattern can match requires the field at path to
// equal one of those strings exactly (case-sensitively) — used to index rules
// by eventSource/eventName; false otherwise (e.g. the field is unconstrained
// in some $or branch, or constrained by prefix/anything-but/etc). The values
// are sorted and distinct.
func (p *Pattern) Exact(path []string) ([]string, bool) {
	vals, ok := exactAt(&p.root, path)
	if !ok {
		return nil, false
	}
	vals = slices.Clone(vals)
	slices.Sort(vals)
	return slices.Compact(vals), true
}

// exactAt implements Exact for the subtree n.
func exactAt(n *node, path []string) ([]string, bool) {
	switch n.kind {
	case leafNode:
		l := n.leaf
		if !slices.Equal(l.path, path) || !l.onlyStrings() {
			return nil, false
		}
		return l.strs.list, true
	case andNode:
		// A path appears at most once in a branch (Compile enforces it), so
		// at most one child can constrain it.
		for i := range n.kids {
			if vals, ok := exactAt(&n.kids[i], path); ok {
				return vals, true
			}
		}
		return nil, false
	default: // orNode
		var all []string
		for i := range n.kids {
			vals, ok := exactAt(&n.kids[i], path)
			if !ok {
				return nil, false
			}
			all = append(all, vals...)
		}
		return all, true
	}
}

// Error reports a pattern that Compile rejected, and where.
type Error struct {
	// Loc is the field the problem is in, as a dotted path with $or
	// branches numbered ("detail.eventName", "$or[1].source"); empty for
	// the pattern as a whole.
	Loc string
	// Offset is the byte offset in the pattern source of the value at
	// fault, so callers can report a line and column.
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	if e.Loc == "" {
		return "pattern: " + e.Msg
	}
	return "pattern: " + e.Loc + ": " + e.Msg
}

// pathString renders a field path for messages.
func pathString(path []string) string { return strings.Join(path, ".") }
