package pattern

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// operator compiles one operator object of a field's list into l.
func (c *compiler) operator(l *leaf, b []byte, loc string) error {
	it := jsonscan.NewObjectIter(b)
	if !it.Next() {
		return c.errf(b, loc, "empty operator object")
	}
	name, v := string(it.Key()), it.Value()
	if it.Next() {
		return c.errf(it.Value(), loc, "an operator object has exactly one key, found %q and %q", name, it.Key())
	}
	switch name {
	case "prefix", "suffix":
		s, fold, ok := stringOrFold(v)
		if !ok {
			return c.errf(v, loc, `%q needs a string or {"equals-ignore-case": string}`, name)
		}
		o := op{kind: opPrefix, s: s}
		switch {
		case name == "prefix" && fold:
			o.kind = opPrefixFold
		case name == "suffix" && fold:
			o.kind = opSuffixFold
		case name == "suffix":
			o.kind = opSuffix
		}
		l.ops = append(l.ops, o)
	case "equals-ignore-case":
		if jsonscan.KindOf(v) != jsonscan.String {
			return c.errf(v, loc, `"equals-ignore-case" needs a string`)
		}
		l.ops = append(l.ops, op{kind: opEqualsFold, s: jsonscan.Str(v)})
	case "wildcard":
		if jsonscan.KindOf(v) != jsonscan.String {
			return c.errf(v, loc, `"wildcard" needs a string`)
		}
		w, msg := parseWildcard(jsonscan.Str(v))
		if msg != "" {
			return c.errf(v, loc, "wildcard: %s", msg)
		}
		l.ops = append(l.ops, op{kind: opWildcard, wild: []wildcard{w}})
	case "anything-but":
		o, err := c.anythingBut(v, loc)
		if err != nil {
			return err
		}
		l.ops = append(l.ops, o)
	case "numeric":
		r, err := c.numeric(v, loc)
		if err != nil {
			return err
		}
		l.ops = append(l.ops, op{kind: opNumeric, rng: r})
	case "exists":
		switch jsonscan.KindOf(v) {
		case jsonscan.Boolean:
			if v[0] == 't' {
				l.existsTrue = true
			} else {
				l.existsFalse = true
			}
		default:
			return c.errf(v, loc, `"exists" needs true or false`)
		}
	case "cidr":
		if jsonscan.KindOf(v) != jsonscan.String {
			return c.errf(v, loc, `"cidr" needs a string such as "10.0.0.0/24"`)
		}
		o, msg := parseCIDR(jsonscan.Str(v))
		if msg != "" {
			return c.errf(v, loc, "cidr: %s", msg)
		}
		l.ops = append(l.ops, o)
	default:
		return c.errf(b, loc, "unknown operator %q", name)
	}
	return nil
}

// stringOrFold reads s or {"equals-ignore-case": s}.
func stringOrFold(v []byte) (s string, fold, ok bool) {
	switch jsonscan.KindOf(v) {
	case jsonscan.String:
		return jsonscan.Str(v), false, true
	case jsonscan.Object:
		it := jsonscan.NewObjectIter(v)
		if !it.Next() || string(it.Key()) != "equals-ignore-case" || jsonscan.KindOf(it.Value()) != jsonscan.String {
			return "", false, false
		}
		s = jsonscan.Str(it.Value())
		if it.Next() {
			return "", false, false
		}
		return s, true, true
	}
	return "", false, false
}

// anythingBut compiles the value of "anything-but".
func (c *compiler) anythingBut(v []byte, loc string) (op, error) {
	const want = `"anything-but" needs a string, a number, a list of strings or of numbers, or an object with "prefix", "suffix", "equals-ignore-case" or "wildcard"`
	switch k := jsonscan.KindOf(v); k {
	case jsonscan.String:
		o := op{kind: opNotStrings}
		o.strs.add(jsonscan.Str(v))
		return o, nil
	case jsonscan.Number:
		key, err := c.number(v, loc, "anything-but")
		if err != nil {
			return op{}, err
		}
		return op{kind: opNotNumbers, keys: []int64{key}}, nil
	case jsonscan.Array:
		var o op
		it := jsonscan.NewArrayIter(v)
		for it.Next() {
			e := it.Value()
			switch ek := jsonscan.KindOf(e); ek {
			case jsonscan.String:
				if len(o.keys) > 0 {
					return op{}, c.errf(e, loc, "anything-but: a list must hold only strings or only numbers")
				}
				o.kind = opNotStrings
				o.strs.add(jsonscan.Str(e))
			case jsonscan.Number:
				if len(o.strs.list) > 0 {
					return op{}, c.errf(e, loc, "anything-but: a list must hold only strings or only numbers")
				}
				key, err := c.number(e, loc, "anything-but")
				if err != nil {
					return op{}, err
				}
				o.kind = opNotNumbers
				o.keys = append(o.keys, key)
			default:
				return op{}, c.errf(e, loc, "anything-but: a list may hold strings or numbers, not %s", ek)
			}
		}
		if it.Index() < 0 {
			return op{}, c.errf(v, loc, "anything-but: empty list")
		}
		return o, nil
	case jsonscan.Object:
		return c.anythingButObject(v, loc)
	default:
		return op{}, c.errf(v, loc, "%s, found %s", want, k)
	}
}

// anythingButObject compiles {"anything-but": {"prefix"|"suffix"|
// "equals-ignore-case"|"wildcard": string or [string...]}}.
func (c *compiler) anythingButObject(v []byte, loc string) (op, error) {
	it := jsonscan.NewObjectIter(v)
	if !it.Next() {
		return op{}, c.errf(v, loc, "anything-but: empty object")
	}
	name, val := string(it.Key()), it.Value()
	if it.Next() {
		return op{}, c.errf(it.Value(), loc, "anything-but: the object has exactly one key, found %q and %q", name, it.Key())
	}
	var o op
	switch name {
	case "prefix":
		o.kind = opNotPrefix
	case "suffix":
		o.kind = opNotSuffix
	case "equals-ignore-case":
		o.kind = opNotFold
	case "wildcard":
		o.kind = opNotWildcard
	default:
		return op{}, c.errf(v, loc, "anything-but: unsupported operator %q (want prefix, suffix, equals-ignore-case or wildcard)", name)
	}
	add := func(e []byte) error {
		if jsonscan.KindOf(e) != jsonscan.String {
			return c.errf(e, loc, "anything-but: %q needs a string or a list of strings", name)
		}
		s := jsonscan.Str(e)
		switch o.kind {
		case opNotPrefix, opNotSuffix:
			if s == "" {
				return c.errf(e, loc, "anything-but: %q needs a non-empty string", name)
			}
		case opNotWildcard:
			w, msg := parseWildcard(s)
			if msg != "" {
				return c.errf(e, loc, "anything-but: wildcard: %s", msg)
			}
			o.wild = append(o.wild, w)
			return nil
		}
		o.list = append(o.list, s)
		return nil
	}
	if jsonscan.KindOf(val) != jsonscan.Array {
		return o, add(val)
	}
	ai := jsonscan.NewArrayIter(val)
	for ai.Next() {
		if err := add(ai.Value()); err != nil {
			return op{}, err
		}
	}
	if ai.Index() < 0 {
		return op{}, c.errf(val, loc, "anything-but: %q: empty list", name)
	}
	return o, nil
}

// number reads a JSON number that a numeric comparison uses, which must be
// within EventBridge's numeric range.
func (c *compiler) number(v []byte, loc, what string) (int64, error) {
	// A JSON number only fails to parse by overflowing, to ±Inf, which
	// numKey rejects.
	f, _ := strconv.ParseFloat(string(v), 64)
	key, ok := numKey(f)
	if !ok {
		return 0, c.errf(v, loc, "%s: %s is out of range: numbers must be between -5e9 and 5e9", what, v)
	}
	return key, nil
}

// numeric compiles the array of a "numeric" filter: ["=", n], ["<", n],
// ["<=", n], [">", n], [">=", n], or a lower bound then an upper bound, as
// in [">", 0, "<=", 5].
func (c *compiler) numeric(v []byte, loc string) (numRange, error) {
	const want = `"numeric" needs an array such as [">", 0, "<=", 5]`
	if k := jsonscan.KindOf(v); k != jsonscan.Array {
		return numRange{}, c.errf(v, loc, "%s, found %s", want, k)
	}
	var elems [][]byte
	it := jsonscan.NewArrayIter(v)
	for it.Next() {
		elems = append(elems, it.Value())
	}
	if len(elems) == 0 {
		return numRange{}, c.errf(v, loc, "%s, found an empty array", want)
	}
	operand := func(i int) (string, []byte, int64, error) {
		e := elems[i]
		if jsonscan.KindOf(e) != jsonscan.String {
			return "", nil, 0, c.errf(e, loc, "numeric: expected an operator (=, <, <=, >, >=), found %s", jsonscan.KindOf(e))
		}
		name := jsonscan.Str(e)
		switch name {
		case "=", "<", "<=", ">", ">=":
		default:
			return "", nil, 0, c.errf(e, loc, "numeric: unknown operator %q", name)
		}
		if i+1 >= len(elems) {
			return "", nil, 0, c.errf(e, loc, "numeric: %q needs a number after it", name)
		}
		n := elems[i+1]
		if jsonscan.KindOf(n) != jsonscan.Number {
			return "", nil, 0, c.errf(n, loc, "numeric: the value of %q must be a number, found %s", name, jsonscan.KindOf(n))
		}
		key, err := c.number(n, loc, "numeric")
		return name, n, key, err
	}
	name, n1, key, err := operand(0)
	if err != nil {
		return numRange{}, err
	}
	var r numRange
	switch name {
	case "=":
		r = numRange{lo: key, hi: key, hasLo: true, hasHi: true}
	case "<", "<=":
		r = numRange{hi: key, hasHi: true, hiOpen: name == "<"}
	default: // ">", ">="
		r = numRange{lo: key, hasLo: true, loOpen: name == ">"}
		if len(elems) == 2 {
			return r, nil
		}
		if k := jsonscan.KindOf(elems[2]); k != jsonscan.String || (jsonscan.Str(elems[2]) != "<" && jsonscan.Str(elems[2]) != "<=") {
			return numRange{}, c.errf(elems[2], loc, `numeric: after a lower bound only "<" or "<=" may follow`)
		}
		top, n2, topKey, err := operand(2)
		if err != nil {
			return numRange{}, err
		}
		lo, _ := strconv.ParseFloat(string(n1), 64)
		hi, _ := strconv.ParseFloat(string(n2), 64)
		if !(lo < hi) {
			return numRange{}, c.errf(n2, loc, "numeric: the lower bound %s must be below the upper bound %s", n1, n2)
		}
		r.hi, r.hasHi, r.hiOpen = topKey, true, top == "<"
		if len(elems) > 4 {
			return numRange{}, c.errf(elems[4], loc, "numeric: too many elements")
		}
		return r, nil
	}
	if len(elems) > 2 {
		return numRange{}, c.errf(elems[2], loc, "numeric: too many elements after %q", name)
	}
	return r, nil
}

// parseCIDR reads "address/bits". As in EventBridge, an IPv4 block has at
// most 31 bits and an IPv6 block at most 127: a single address is matched
// with the plain address as a value instead.
func parseCIDR(s string) (op, string) {
	addrText, bitsText, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(bitsText, "/") {
		return op{}, fmt.Sprintf("malformed CIDR %q: needs exactly one \"/\"", s)
	}
	bits, err := strconv.Atoi(bitsText)
	if err != nil {
		return op{}, fmt.Sprintf("malformed CIDR %q: the prefix length must be an integer", s)
	}
	if bits < 0 {
		return op{}, fmt.Sprintf("malformed CIDR %q: the prefix length must not be negative", s)
	}
	addr, ok := parseIP(addrText)
	if !ok {
		return op{}, fmt.Sprintf("invalid IP address %q", addrText)
	}
	if addr.Is4() && bits > 31 {
		return op{}, fmt.Sprintf("%q: an IPv4 prefix length must be less than 32", s)
	}
	if !addr.Is4() && bits > 127 {
		return op{}, fmt.Sprintf("%q: an IPv6 prefix length must be less than 128", s)
	}
	lo, hi := cidrBounds(addr, bits)
	return op{kind: opCIDR, lo: lo, hi: hi}, ""
}
