package sigma

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// valueKind is what a modifier chain makes of the values.
type valueKind uint8

const (
	kindString   valueKind = iota // wildcard strings (the default)
	kindExists                    // exists
	kindRegex                     // re
	kindCIDR                      // cidr
	kindNumber                    // gt, gte, lt, lte
	kindTime                      // minute, hour, day, week, month, year
	kindFieldref                  // fieldref
)

// modSpec is a parsed modifier chain (Sigma modifiers appendix 2.1.0).
type modSpec struct {
	kind      valueKind
	steps     []string // transformations and placements, in order
	placement string   // contains, startswith or endswith, if any
	all       bool
	cased     bool
	neq       bool
	reFlags   string
	op        cmpOp
	timeUnit  string
}

// transformations rewrite the values they are applied to, in the order
// written (Sigma rules specification 2.0.0, "Value Modifiers").
var transformations = map[string]bool{
	"base64": true, "base64offset": true, "utf16le": true, "utf16be": true,
	"utf16": true, "wide": true, "windash": true,
}

var regexFlags = map[string]string{
	"i": "i", "ignorecase": "i",
	"m": "m", "multiline": "m",
	"s": "s", "dotall": "s",
}

var cmpOps = map[string]cmpOp{"gt": opGt, "gte": opGte, "lt": opLt, "lte": opLte}

var timeUnits = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}

// parseMods reads a modifier chain. Unknown modifiers are unsupported, not
// malformed: the specification lets tools add their own.
func (c *compiler) parseMods(key *yaml.Node, mods []string) (*modSpec, error) {
	ms := &modSpec{}
	var kinds []string // the kind-setting modifiers seen
	for _, m := range mods {
		switch {
		case m == "contains" || m == "startswith" || m == "endswith":
			if ms.placement != "" {
				return nil, errAt(c.name, key, "modifiers %s and %s cannot be combined", ms.placement, m)
			}
			ms.placement = m
			ms.steps = append(ms.steps, m)
		case transformations[m]:
			if m == "wide" {
				m = "utf16le"
			}
			ms.steps = append(ms.steps, m)
		case m == "all":
			ms.all = true
		case m == "cased":
			ms.cased = true
		case m == "neq":
			ms.neq = true
		case m == "re":
			ms.kind = kindRegex
			kinds = append(kinds, m)
		case regexFlags[m] != "":
			if ms.kind != kindRegex {
				return nil, errAt(c.name, key, "modifier %q is a sub-modifier of re and must follow it", m)
			}
			if !strings.Contains(ms.reFlags, regexFlags[m]) {
				ms.reFlags += regexFlags[m]
			}
		case m == "cidr":
			ms.kind = kindCIDR
			kinds = append(kinds, m)
		case m == "exists":
			ms.kind = kindExists
			kinds = append(kinds, m)
		case cmpOps[m] != 0:
			if ms.op != opEq {
				return nil, errAt(c.name, key, "only one of gt, gte, lt, lte may be used")
			}
			ms.op = cmpOps[m]
		case timeUnits[m]:
			if ms.timeUnit != "" {
				return nil, errAt(c.name, key, "only one time modifier may be used, found %s and %s", ms.timeUnit, m)
			}
			ms.timeUnit = m
			kinds = append(kinds, m)
		case m == "fieldref":
			ms.kind = kindFieldref
			kinds = append(kinds, m)
		case m == "expand":
			return nil, unsupportedAt(c.name, key, "modifier \"expand\" (placeholders must be expanded by the tool, which Vigil does not do)")
		case m == "":
			return nil, errAt(c.name, key, "empty modifier in %q", key.Value)
		default:
			return nil, unsupportedAt(c.name, key, "modifier %q", m)
		}
	}
	if ms.op != opEq && ms.timeUnit == "" {
		kinds = append(kinds, "gt/gte/lt/lte")
		ms.kind = kindNumber
	}
	if ms.timeUnit != "" {
		ms.kind = kindTime
	}
	if len(kinds) > 1 {
		return nil, errAt(c.name, key, "modifiers %s cannot be combined", strings.Join(kinds, " and "))
	}
	var bad []string
	if ms.kind != kindString && ms.kind != kindFieldref && len(ms.steps) > 0 {
		bad = ms.steps
	}
	if ms.kind == kindFieldref {
		for _, s := range ms.steps {
			if s != ms.placement {
				bad = append(bad, s)
			}
		}
	}
	if ms.cased && ms.kind != kindString && ms.kind != kindFieldref {
		bad = append(bad, "cased")
	}
	if ms.kind == kindExists && (ms.all || ms.neq) {
		bad = append(bad, "all/neq")
	}
	if len(bad) > 0 {
		return nil, errAt(c.name, key, "modifier %s cannot be combined with %s", kinds[0], strings.Join(bad, ", "))
	}
	return ms, nil
}

// fieldItem compiles "field|modifiers: values".
func (c *compiler) fieldItem(key *yaml.Node, field string, path, mods []string, vals []*yaml.Node) (item, error) {
	ms, err := c.parseMods(key, mods)
	if err != nil {
		return nil, err
	}
	if ms.kind == kindExists {
		if len(vals) != 1 {
			return nil, errAt(c.name, key, "exists takes one boolean, true or false")
		}
		want, ok := yamlBool(vals[0])
		if !ok {
			return nil, errAt(c.name, vals[0], "exists takes true or false, found %q", vals[0].Value)
		}
		return &existsItem{path: path, want: want}, nil
	}
	if ms.all && len(vals) < 2 {
		return nil, errAt(c.name, key, "the all modifier needs a list of two values or more")
	}
	it := &fieldItem{field: field, path: path, all: ms.all, neq: ms.neq}
	plainEq := ms.kind == kindString && len(ms.steps) == 0 && !ms.neq && !ms.all
	for _, v := range vals {
		if v.ShortTag() == "!!null" {
			if len(ms.steps) > 0 || ms.kind != kindString {
				return nil, errAt(c.name, v, "null cannot be combined with modifiers (null means the field is missing or null)")
			}
			it.null = true
			plainEq = false
			continue
		}
		m, lit, err := c.valueMatcher(ms, v)
		if err != nil {
			return nil, err
		}
		it.vals = append(it.vals, m)
		if plainEq {
			if l, ok := lit.plain(); ok {
				it.eq = append(it.eq, l)
			} else {
				plainEq = false
			}
		}
	}
	if !plainEq {
		it.eq = nil
	}
	return it, nil
}

// keyword compiles a keyword list (plain values under a search identifier,
// or under a key with no field name such as "|all"). Keywords are
// contained in a value unless a placement modifier says otherwise.
func (c *compiler) keyword(key *yaml.Node, mods []string, vals []*yaml.Node) (item, error) {
	ms, err := c.parseMods(key, mods)
	if err != nil {
		return nil, err
	}
	if ms.kind != kindString && ms.kind != kindRegex {
		return nil, errAt(c.name, key, "keywords cannot use the %s modifiers", strings.Join(mods, "|"))
	}
	if ms.neq {
		return nil, errAt(c.name, key, "keywords cannot use neq")
	}
	if ms.all && len(vals) < 2 {
		return nil, errAt(c.name, key, "the all modifier needs a list of two values or more")
	}
	if ms.kind == kindString && ms.placement == "" {
		ms.steps = append(ms.steps, "contains")
	}
	it := &keywordItem{all: ms.all}
	for _, v := range vals {
		if v.ShortTag() == "!!null" {
			return nil, errAt(c.name, v, "a keyword cannot be null")
		}
		m, _, err := c.valueMatcher(ms, v)
		if err != nil {
			return nil, err
		}
		it.vals = append(it.vals, m)
	}
	return it, nil
}

// valueMatcher compiles one value under the modifier chain ms. lit is the
// value as a pattern before any modifier, for Required.
func (c *compiler) valueMatcher(ms *modSpec, v *yaml.Node) (m valueMatcher, lit pattern, err error) {
	switch ms.kind {
	case kindRegex:
		return c.regex(ms, v)
	case kindCIDR:
		p, err := netip.ParsePrefix(v.Value)
		if err != nil {
			return nil, nil, errAt(c.name, v, "cidr: %v", err)
		}
		return &cidrMatcher{prefix: p.Masked()}, nil, nil
	case kindNumber, kindTime:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
		if err != nil || v.ShortTag() == "!!bool" {
			return nil, nil, errAt(c.name, v, "%q is not a number", v.Value)
		}
		if ms.kind == kindTime {
			return &timeMatcher{unit: ms.timeUnit, op: ms.op, val: f}, nil, nil
		}
		return &numMatcher{op: ms.op, val: f}, nil, nil
	case kindFieldref:
		path := strings.Split(v.Value, ".")
		for _, s := range path {
			if s == "" {
				return nil, nil, errAt(c.name, v, "fieldref: %q is not a field name", v.Value)
			}
		}
		mode := modeExact
		switch ms.placement {
		case "contains":
			mode = modeContains
		case "startswith":
			mode = modePrefix
		case "endswith":
			mode = modeSuffix
		}
		return &fieldrefMatcher{path: path, mode: mode, cased: ms.cased}, nil, nil
	}
	// Strings: numbers and booleans written in YAML are literal text (Sigma
	// is string-oriented); strings may hold wildcards.
	var (
		base   pattern
		num    float64
		numSet bool
	)
	switch v.ShortTag() {
	case "!!int", "!!float":
		base = literalPattern(v.Value)
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil {
			num, numSet = f, true
		} else if i, err := strconv.ParseInt(v.Value, 0, 64); err == nil {
			num, numSet = float64(i), true
		}
	case "!!bool":
		base = literalPattern(strings.ToLower(v.Value))
	default:
		base = parsePattern(v.Value)
	}
	alts := []pattern{base}
	for _, step := range ms.steps {
		if alts, err = c.transform(step, alts, v); err != nil {
			return nil, nil, err
		}
	}
	var out anyOf
	for _, p := range alts {
		out = append(out, &stringMatcher{g: compileGlob(p, ms.cased), num: num, numSet: numSet && len(ms.steps) == 0})
	}
	if len(out) == 1 {
		return out[0], base, nil
	}
	return out, base, nil
}

// transform applies one transformation or placement to every alternative.
func (c *compiler) transform(step string, alts []pattern, v *yaml.Node) ([]pattern, error) {
	out := make([]pattern, 0, len(alts))
	for _, p := range alts {
		switch step {
		case "contains":
			out = append(out, p.wrap(true, true))
		case "startswith":
			out = append(out, p.wrap(false, true))
		case "endswith":
			out = append(out, p.wrap(true, false))
		case "windash":
			out = append(out, p.windash())
		case "utf16le":
			out = append(out, p.mapLit(func(s string) string { return utf16String(s, false) }))
		case "utf16be":
			out = append(out, p.mapLit(func(s string) string { return utf16String(s, true) }))
		case "utf16":
			bom := pattern{{kind: tokLit, lit: "\xff\xfe"}}
			out = append(out, append(bom, p.mapLit(func(s string) string { return utf16String(s, false) })...))
		case "base64", "base64offset":
			s, ok := p.plain()
			if !ok {
				return nil, errAt(c.name, v, "%s cannot encode a value with wildcards (apply contains after it)", step)
			}
			if step == "base64" {
				out = append(out, literalPattern(base64.StdEncoding.EncodeToString([]byte(s))))
				continue
			}
			for _, e := range base64Offsets(s) {
				out = append(out, literalPattern(e))
			}
		}
	}
	return out, nil
}

// base64Offsets returns the three encodings of s as it would appear at the
// three possible offsets inside a longer base64-encoded text: the encoding
// of s shifted by 0, 1 and 2 bytes, without the characters that depend on
// the surrounding bytes (the base64offset modifier; the offsets are those
// pySigma uses).
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	end := [3]int{0, 3, 2} // characters to drop at the end, by (len+shift)%3
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), s...))
		lo, hi := start[i], len(enc)-end[(len(s)+i)%3]
		if lo > hi {
			lo = hi
		}
		out = append(out, enc[lo:hi])
	}
	return out
}

// utf16String encodes s as UTF-16 code units, little- or big-endian, held
// in a Go string of bytes.
func utf16String(s string, bigEndian bool) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, x := range u {
		if bigEndian {
			b = append(b, byte(x>>8), byte(x))
		} else {
			b = append(b, byte(x), byte(x>>8))
		}
	}
	return string(b)
}

// regex compiles a re value. Go's RE2 syntax covers the metacharacters the
// modifiers appendix allows; Perl constructs beyond them (lookaround,
// backreferences) are unsupported rather than malformed.
func (c *compiler) regex(ms *modSpec, v *yaml.Node) (valueMatcher, pattern, error) {
	src := v.Value
	if ms.reFlags != "" {
		src = "(?" + ms.reFlags + ")" + src
	}
	re, err := regexp.Compile(src)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) && se.Code == syntax.ErrInvalidPerlOp {
			return nil, nil, unsupportedAt(c.name, v, "regular expression %q: %v", v.Value, err)
		}
		return nil, nil, errAt(c.name, v, "invalid regular expression %q: %v", v.Value, err)
	}
	return &regexMatcher{re: re}, nil, nil
}

// yamlBool reads a YAML boolean, or the strings "true" and "false".
func yamlBool(n *yaml.Node) (val, ok bool) {
	switch strings.ToLower(n.Value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
