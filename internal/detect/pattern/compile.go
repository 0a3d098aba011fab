package pattern

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// Compile compiles src, the JSON text of an EventBridge event pattern. It
// rejects what EventBridge rejects; the error is an [*Error] naming the
// place in the pattern.
func Compile(src []byte) (*Pattern, error) {
	c := compiler{src: src}
	if !jsonscan.Valid(src) {
		end, err := jsonscan.Skip(src, 0)
		if err == nil {
			return nil, &Error{Offset: jsonscan.SkipSpace(src, end), Msg: "not valid JSON: data after the pattern"}
		}
		perr := &Error{Msg: "not valid JSON: " + err.Error()}
		if serr, ok := errors.AsType[*jsonscan.SyntaxError](err); ok && serr.Offset <= len(src) {
			perr.Offset = serr.Offset
		}
		return nil, perr
	}
	b := jsonscan.SkipSpaceBytes(src)
	if k := jsonscan.KindOf(b); k != jsonscan.Object {
		return nil, c.errf(b, "", "must be a JSON object, found %s", k)
	}
	root, err := c.object(b, nil, "", false)
	if err != nil {
		return nil, err
	}
	if _, err := checkPaths(&root); err != nil {
		return nil, err
	}
	orderKids(&root)
	p := &Pattern{root: root, fields: collectFields(&root)}
	p.tops = indexTops(&root)
	return p, nil
}

// indexTops numbers the distinct first path steps of the leaves under n,
// up to maxTops, and records each leaf's number (or -1).
func indexTops(n *node) []string {
	var tops []string
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind != leafNode {
			for i := range n.kids {
				walk(&n.kids[i])
			}
			return
		}
		l := n.leaf
		l.top = slices.Index(tops, l.path[0])
		if l.top < 0 && len(tops) < maxTops {
			tops = append(tops, l.path[0])
			l.top = len(tops) - 1
		}
	}
	walk(n)
	return tops
}

// orderKids puts the children of every AND in the order that tends to
// settle a match soonest: leaves that need exact values first, then other
// positive tests, then tests that succeed on absence (exists:false,
// anything-but), then ORs. Order does not change the outcome.
func orderKids(n *node) {
	for i := range n.kids {
		orderKids(&n.kids[i])
	}
	if n.kind == andNode {
		slices.SortStableFunc(n.kids, func(a, b node) int { return cost(&a) - cost(&b) })
	}
}

// cost ranks a child of an AND for orderKids: lower runs first.
func cost(n *node) int {
	if n.kind != leafNode {
		return 3
	}
	l := n.leaf
	switch {
	case l.existsFalse || l.existsTrue:
		return 2
	case len(l.ops) == 0:
		return 0
	}
	for _, o := range l.ops {
		if o.kind >= opNotStrings {
			return 2
		}
	}
	return 1
}

// compiler holds the pattern source, for error offsets.
type compiler struct {
	src []byte
}

// errf returns an *Error for the value v, a sub-slice of the source.
func (c *compiler) errf(v []byte, loc, format string, args ...any) error {
	off := cap(c.src) - cap(v)
	if off < 0 || off > len(c.src) {
		off = 0
	}
	return &Error{Loc: loc, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// object compiles a pattern object: its members are ANDed.
func (c *compiler) object(b []byte, path []string, loc string, inOr bool) (node, error) {
	n := node{kind: andNode}
	it := jsonscan.NewObjectIter(b)
	for it.Next() {
		key, v := string(it.Key()), it.Value()
		kloc := joinLoc(loc, key)
		if key == "$or" {
			or, err := c.or(v, path, kloc)
			if err != nil {
				return node{}, err
			}
			n.kids = append(n.kids, or)
			continue
		}
		if inOr && reservedInOr(key) {
			return node{}, c.errf(v, kloc, "%q is an operator name, so it cannot be a field name inside $or", key)
		}
		kpath := append(slices.Clip(path), key)
		switch k := jsonscan.KindOf(v); k {
		case jsonscan.Object:
			kid, err := c.object(v, kpath, kloc, inOr)
			if err != nil {
				return node{}, err
			}
			if kid.kind == andNode {
				n.kids = append(n.kids, kid.kids...)
			} else {
				n.kids = append(n.kids, kid)
			}
		case jsonscan.Array:
			l, err := c.leaf(v, kpath, kloc)
			if err != nil {
				return node{}, err
			}
			n.kids = append(n.kids, node{kind: leafNode, leaf: l})
		default:
			return node{}, c.errf(v, kloc, "must be an object or an array of values, found %s", k)
		}
	}
	if err := it.Err(); err != nil {
		return node{}, c.errf(b, loc, "%v", err)
	}
	if len(n.kids) == 0 {
		return node{}, c.errf(b, loc, "empty object: a pattern object needs at least one field")
	}
	if len(n.kids) == 1 {
		return n.kids[0], nil
	}
	return n, nil
}

// or compiles the value of "$or": an array of at least two pattern objects,
// each matched at the same place as the object holding the $or.
func (c *compiler) or(v []byte, path []string, loc string) (node, error) {
	if k := jsonscan.KindOf(v); k != jsonscan.Array {
		return node{}, c.errf(v, loc, "$or needs an array of at least two objects, found %s", k)
	}
	n := node{kind: orNode}
	it := jsonscan.NewArrayIter(v)
	for it.Next() {
		e := it.Value()
		bloc := loc + "[" + strconv.Itoa(it.Index()) + "]"
		if k := jsonscan.KindOf(e); k != jsonscan.Object {
			return node{}, c.errf(e, bloc, "each $or branch must be an object, found %s", k)
		}
		kid, err := c.object(e, path, bloc, true)
		if err != nil {
			return node{}, err
		}
		if kid.kind == orNode {
			n.kids = append(n.kids, kid.kids...)
		} else {
			n.kids = append(n.kids, kid)
		}
	}
	if branches := it.Index() + 1; branches < 2 {
		return node{}, c.errf(v, loc, "$or needs at least two objects, found %d", branches)
	}
	return n, nil
}

// leaf compiles the array of values given for one field.
func (c *compiler) leaf(v []byte, path []string, loc string) (*leaf, error) {
	l := &leaf{path: path, loc: loc, off: cap(c.src) - cap(v)}
	it := jsonscan.NewArrayIter(v)
	for it.Next() {
		e := it.Value()
		switch k := jsonscan.KindOf(e); k {
		case jsonscan.String:
			s := jsonscan.Str(e)
			if ip, ok := parseIP(s); ok {
				// EventBridge compares a value that is an IP address as an
				// address, so "2001:DB8::1" equals "2001:db8::1".
				l.ips = append(l.ips, ip)
			} else {
				l.strs.add(s)
			}
		case jsonscan.Number:
			n := exactNum{text: string(e)}
			if f, err := strconv.ParseFloat(n.text, 64); err == nil {
				n.key, n.inRange = numKey(f)
			}
			l.nums = append(l.nums, n)
		case jsonscan.Boolean:
			if e[0] == 't' {
				l.lits |= litTrue
			} else {
				l.lits |= litFalse
			}
		case jsonscan.Null:
			l.lits |= litNull
		case jsonscan.Object:
			if err := c.operator(l, e, loc); err != nil {
				return nil, err
			}
		default:
			return nil, c.errf(e, loc, "a value must be a string, number, boolean, null or operator object, found %s", k)
		}
	}
	if it.Index() < 0 {
		return nil, c.errf(v, loc, "empty array: give at least one value")
	}
	l.valueTests = len(l.strs.list) > 0 || len(l.ips) > 0 || len(l.nums) > 0 || l.lits != 0 || len(l.ops) > 0
	l.needNum = len(l.nums) > 0
	for _, o := range l.ops {
		if o.kind == opNumeric || o.kind == opNotNumbers {
			l.needNum = true
		}
	}
	return l, nil
}

// reservedInOr reports names EventBridge keeps for operators, which may not
// be field names inside $or (aws/event-ruler, Constants).
func reservedInOr(name string) bool {
	switch name {
	case "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
		"wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex",
		"not-wildcard", "not-equals-ignore-case", "date-after", "date-on-or-after",
		"date-before", "date-on-or-before", "in-date-range",
		"ip-address-in-range", "ip-address-not-in-range":
		return true
	}
	return false
}

// joinLoc appends a field name to a location.
func joinLoc(loc, key string) string {
	if loc == "" {
		return key
	}
	return loc + "." + key
}

// checkPaths rejects a pattern in which one field is constrained twice in
// the same branch, such as {"a": [1], "a": [2]} or a field given both
// beside an $or and inside one of its branches: EventBridge would keep only
// one of the two lists. It returns the leaves under n, one per path, in
// pattern order.
func checkPaths(n *node) ([]*leaf, error) {
	switch n.kind {
	case leafNode:
		return []*leaf{n.leaf}, nil
	case orNode:
		var all []*leaf
		seen := map[string]bool{}
		for i := range n.kids {
			ls, err := checkPaths(&n.kids[i])
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				if k := pathKey(l.path); !seen[k] {
					seen[k] = true
					all = append(all, l)
				}
			}
		}
		return all, nil
	default: // andNode
		var all []*leaf
		seen := map[string]*leaf{}
		for i := range n.kids {
			ls, err := checkPaths(&n.kids[i])
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				k := pathKey(l.path)
				if prev, dup := seen[k]; dup {
					return nil, &Error{Loc: l.loc, Offset: l.off, Msg: fmt.Sprintf(
						"field %s is already constrained at %s; a field may appear only once in each branch of a pattern",
						pathString(l.path), prev.loc)}
				}
				seen[k] = l
				all = append(all, l)
			}
		}
		return all, nil
	}
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

// collectFields returns the distinct leaf paths under n, sorted.
func collectFields(n *node) [][]string {
	var out [][]string
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == leafNode {
			out = append(out, n.leaf.path)
			return
		}
		for i := range n.kids {
			walk(&n.kids[i])
		}
	}
	walk(n)
	slices.SortFunc(out, slices.Compare[[]string])
	return slices.CompactFunc(out, slices.Equal[[]string])
}
