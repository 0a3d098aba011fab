package pattern

import (
	"bytes"
	"net/netip"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// nodeKind says how a node combines its children.
type nodeKind uint8

const (
	andNode  nodeKind = iota // every child matches (an object's members)
	orNode                   // some child matches (the branches of $or)
	leafNode                 // one field and its list of values
)

// node is one step of a compiled pattern: an AND or OR of children, or a
// leaf that tests one field.
type node struct {
	kind nodeKind
	kids []node
	leaf *leaf
}

// leaf tests the values of one field against the pattern's list for it; the
// entries of the list are ORed.
type leaf struct {
	path []string
	loc  string // where in the pattern, for messages
	off  int    // byte offset of the list in the pattern source
	top  int    // index of path[0] in Pattern.tops, or -1

	strs strSet       // exact strings
	ips  []netip.Addr // exact strings that are IP addresses, compared as addresses
	nums []exactNum   // exact numbers
	lits litMask      // true, false, null
	ops  []op         // content filters

	existsTrue, existsFalse bool
	needNum                 bool // some matcher reads a number's value
	valueTests              bool // something besides "exists"
}

// onlyStrings reports whether the leaf matches exactly the strings in strs
// and nothing else.
func (l *leaf) onlyStrings() bool {
	return len(l.strs.list) > 0 && len(l.ips) == 0 && len(l.nums) == 0 &&
		l.lits == 0 && len(l.ops) == 0 && !l.existsTrue && !l.existsFalse
}

// litMask is a set of the JSON literals true, false and null.
type litMask uint8

const (
	litTrue litMask = 1 << iota
	litFalse
	litNull
)

// exactNum is a number in the pattern's list. EventBridge matches it both as
// written and, when it is within the numeric range, by value.
type exactNum struct {
	text    string
	key     int64
	inRange bool
}

// strSet is a set of strings: a slice while small, a map when large.
type strSet struct {
	list []string
	m    map[string]struct{}
}

const strSetMapMin = 8

func (s *strSet) add(v string) {
	s.list = append(s.list, v)
	if s.m != nil {
		s.m[v] = struct{}{}
	} else if len(s.list) > strSetMapMin {
		s.m = make(map[string]struct{}, len(s.list))
		for _, x := range s.list {
			s.m[x] = struct{}{}
		}
	}
}

func (s *strSet) has(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, x := range s.list {
		if x == v {
			return true
		}
	}
	return false
}

// evaluator holds the per-call state of Match. For a JSONDoc it lives on
// the caller's stack; for other Docs it comes from a pool with fn bound
// once to visit, so no call allocates.
type evaluator struct {
	json []byte
	doc  Doc
	fn   func([]byte) bool

	leaf             *leaf
	matched, sawLeaf bool

	// For a JSONDoc holding an object, the members the pattern reads are
	// found in one lazy pass over the top level: each leaf starts from its
	// member's value instead of scanning the document from the start.
	tops    []string // the pattern's distinct first path steps
	useTops bool
	topIt   jsonscan.ObjectIter
	topDone bool
	topSeen [maxTops]bool
	topVals [maxTops][]byte
}

// maxTops bounds the top-level members indexed per call; leaves under
// others look their field up from the start.
const maxTops = 16

// top returns the value of the pattern's i'th top-level member, scanning
// the document's members only as far as needed and remembering the others
// the pattern reads on the way. As with jsonscan.Lookup, the first of
// duplicate members wins.
func (e *evaluator) top(i int) ([]byte, bool) {
	if e.topSeen[i] {
		return e.topVals[i], true
	}
	for !e.topDone {
		if !e.topIt.Next() {
			e.topDone = true
			break
		}
		k := e.topIt.Key()
		for j, t := range e.tops {
			if !e.topSeen[j] && string(k) == t {
				e.topSeen[j], e.topVals[j] = true, e.topIt.Value()
			}
		}
		if e.topSeen[i] {
			return e.topVals[i], true
		}
	}
	return nil, false
}

func (e *evaluator) node(n *node) bool {
	switch n.kind {
	case leafNode:
		return e.evalLeaf(n.leaf)
	case andNode:
		for i := range n.kids {
			if !e.node(&n.kids[i]) {
				return false
			}
		}
		return true
	default: // orNode
		for i := range n.kids {
			if e.node(&n.kids[i]) {
				return true
			}
		}
		return false
	}
}

// evalLeaf matches one field. A field exists when it has at least one leaf
// value: a string, number, boolean or null, alone or in an array. Objects
// are not leaves, and an empty array holds none.
func (e *evaluator) evalLeaf(l *leaf) bool {
	e.leaf, e.matched, e.sawLeaf = l, false, false
	switch {
	case e.doc == nil && e.useTops && l.top >= 0:
		if v, ok := e.top(l.top); ok {
			jsonscan.Lookup(v, l.path[1:], func(v []byte) bool { return e.visit(v) })
		}
	case e.doc == nil:
		jsonscan.Lookup(e.json, l.path, func(v []byte) bool { return e.visit(v) })
	default:
		e.doc.Values(l.path, e.fn)
	}
	if e.matched {
		return true
	}
	return !e.sawLeaf && l.existsFalse
}

// visit is called with each value of the current field; it returns false
// to stop once the outcome is known.
func (e *evaluator) visit(v []byte) bool {
	if len(v) == 0 || v[0] == '{' || v[0] == '[' {
		return true
	}
	e.sawLeaf = true
	l := e.leaf
	if l.existsTrue || (l.valueTests && l.matchValue(v)) {
		e.matched = true
		return false
	}
	// With nothing but exists:false left to decide, one leaf settles it.
	return l.valueTests
}

// matchValue reports whether the leaf value v (validated JSON, not an
// object or array) matches any entry of the list other than exists.
func (l *leaf) matchValue(v []byte) bool {
	switch v[0] {
	case '"':
		return l.matchString(str(v))
	case 't':
		return l.lits&litTrue != 0 || l.matchOther()
	case 'f':
		return l.lits&litFalse != 0 || l.matchOther()
	case 'n':
		return l.lits&litNull != 0 || l.matchOther()
	default:
		return l.matchNumber(v)
	}
}

func (l *leaf) matchString(s string) bool {
	if l.strs.has(s) {
		return true
	}
	var (
		ip       netip.Addr
		ipParsed bool
	)
	if len(l.ips) > 0 {
		ip, _ = parseIP(s)
		ipParsed = true
		if ip.IsValid() {
			for _, want := range l.ips {
				if ip == want {
					return true
				}
			}
		}
	}
	for i := range l.ops {
		o := &l.ops[i]
		switch o.kind {
		case opCIDR:
			if !ipParsed {
				ip, _ = parseIP(s)
				ipParsed = true
			}
			if o.containsIP(ip) {
				return true
			}
		case opNumeric:
			// Numeric filters never match strings, "5" included.
		default:
			if o.matchString(s) {
				return true
			}
		}
	}
	return false
}

// matchOther handles true, false and null, which only the anything-but
// family can match.
func (l *leaf) matchOther() bool {
	for i := range l.ops {
		if l.ops[i].kind >= opNotStrings {
			return true
		}
	}
	return false
}

func (l *leaf) matchNumber(v []byte) bool {
	var (
		key     int64
		inRange bool
	)
	if l.needNum {
		f, err := strconv.ParseFloat(alias(v), 64)
		if err == nil {
			key, inRange = numKey(f)
		}
	}
	for i := range l.nums {
		n := &l.nums[i]
		if (inRange && n.inRange && key == n.key) || n.text == alias(v) {
			return true
		}
	}
	for i := range l.ops {
		o := &l.ops[i]
		switch o.kind {
		case opNumeric:
			if inRange && o.rng.contains(key) {
				return true
			}
		case opNotNumbers:
			if !inRange || !slicesContains(o.keys, key) {
				return true
			}
		case opNotStrings, opNotPrefix, opNotSuffix, opNotFold, opNotWildcard:
			return true
		}
	}
	return false
}

func slicesContains(s []int64, k int64) bool {
	for _, x := range s {
		if x == k {
			return true
		}
	}
	return false
}

// str returns the content of the JSON string token v, unescaped, aliasing v
// when it has no escapes (the usual case) so that no call allocates.
func str(v []byte) string {
	if len(v) < 2 {
		return ""
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return alias(inner)
	}
	s, _ := jsonscan.Unquote(v)
	return s
}

// alias views b as a string without copying. The caller must not keep the
// string beyond the life of b, nor modify b meanwhile.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
