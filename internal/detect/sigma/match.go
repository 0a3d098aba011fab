package sigma

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// A search is one search identifier of the detection section: a list of
// alternatives (a list of maps is an OR), each an AND of items (a map).
type search struct {
	name string
	alts [][]item
}

func (s *search) eval(d Doc) bool {
	for _, conj := range s.alts {
		ok := true
		for _, it := range conj {
			if !it.match(d) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// An item is one "field|modifiers: values" entry, or a keyword list.
type item interface {
	match(d Doc) bool
}

// fieldItem matches the values of one field.
type fieldItem struct {
	field string
	path  []string
	vals  []valueMatcher // one per value written in the rule
	null  bool           // the values include null: the field is missing or null
	all   bool           // every value must match (the all modifier), not one
	neq   bool           // the neq modifier: the field has a value and the rest does not match

	// eq holds the values when the item is a plain equality on field (no
	// wildcards, modifiers or null), for Required.
	eq []string
}

func (it *fieldItem) match(d Doc) bool {
	if it.neq {
		return !isNull(d, it.path) && !it.positive(d)
	}
	return it.positive(d)
}

func (it *fieldItem) positive(d Doc) bool {
	if !it.all {
		if it.null && isNull(d, it.path) {
			return true
		}
		if len(it.vals) == 0 {
			return false
		}
		return d.Values(it.path, func(raw []byte) bool {
			v, ok := makeValue(raw)
			if !ok {
				return true
			}
			for _, m := range it.vals {
				if m.match(v, d) {
					return false
				}
			}
			return true
		})
	}
	if it.null && !isNull(d, it.path) {
		return false
	}
	for _, m := range it.vals {
		found := d.Values(it.path, func(raw []byte) bool {
			v, ok := makeValue(raw)
			return !(ok && m.match(v, d))
		})
		if !found {
			return false
		}
	}
	return true
}

// existsItem is "field|exists: true/false".
type existsItem struct {
	path []string
	want bool
}

func (it *existsItem) match(d Doc) bool { return d.Present(it.path) == it.want }

// keywordItem is a keyword list: it matches the scalar values anywhere in
// the record (see the package documentation).
type keywordItem struct {
	vals []valueMatcher
	all  bool
}

func (it *keywordItem) match(d Doc) bool {
	if !it.all {
		return d.Values(nil, func(root []byte) bool {
			return !walkScalars(root, func(v value) bool {
				for _, m := range it.vals {
					if m.match(v, d) {
						return false
					}
				}
				return true
			}, 0)
		})
	}
	for _, m := range it.vals {
		found := d.Values(nil, func(root []byte) bool {
			return !walkScalars(root, func(v value) bool { return !m.match(v, d) }, 0)
		})
		if !found {
			return false
		}
	}
	return true
}

// A valueMatcher tests one JSON value of a field against one value of the
// rule (after modifiers). d is there for fieldref.
type valueMatcher interface {
	match(v value, d Doc) bool
}

// anyOf matches if one of its alternatives does; modifiers such as
// base64offset turn one value into several.
type anyOf []valueMatcher

func (a anyOf) match(v value, d Doc) bool {
	for _, m := range a {
		if m.match(v, d) {
			return true
		}
	}
	return false
}

// stringMatcher compares the value's text with a glob. A value written as
// a YAML number also equals a JSON number of the same numeric value
// (1.0 and 1).
type stringMatcher struct {
	g      *glob
	num    float64
	numSet bool
}

func (m *stringMatcher) match(v value, _ Doc) bool {
	if m.numSet && v.kind == jsonscan.Number {
		if f, err := strconv.ParseFloat(v.text, 64); err == nil {
			return f == m.num
		}
	}
	return m.g.match(v.text)
}

// regexMatcher is the re modifier: an unanchored search of the value's text.
type regexMatcher struct{ re *regexp.Regexp }

func (m *regexMatcher) match(v value, _ Doc) bool { return m.re.MatchString(v.text) }

// cidrMatcher is the cidr modifier.
type cidrMatcher struct{ prefix netip.Prefix }

func (m *cidrMatcher) match(v value, _ Doc) bool {
	if v.kind != jsonscan.String {
		return false
	}
	a, ok := event.ParseAddr(v.text)
	if !ok {
		return false
	}
	return m.prefix.Contains(a.Unmap())
}

type cmpOp uint8

const (
	opEq cmpOp = iota
	opGt
	opGte
	opLt
	opLte
)

func (op cmpOp) holds(a, b float64) bool {
	switch op {
	case opGt:
		return a > b
	case opGte:
		return a >= b
	case opLt:
		return a < b
	case opLte:
		return a <= b
	}
	return a == b
}

// numMatcher is gt, gte, lt and lte: the value, a JSON number or a string
// holding one, compared numerically.
type numMatcher struct {
	op  cmpOp
	val float64
}

func (m *numMatcher) match(v value, _ Doc) bool {
	if v.kind != jsonscan.Number && v.kind != jsonscan.String {
		return false
	}
	f, err := strconv.ParseFloat(v.text, 64)
	return err == nil && m.op.holds(f, m.val)
}

// timeMatcher is a time modifier (minute, hour, day, week, month, year):
// the part of a date extracted and compared as a number. Dates are read
// as written, without time zone conversion, as the appendix warns.
type timeMatcher struct {
	unit string
	op   cmpOp
	val  float64
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

func (m *timeMatcher) match(v value, _ Doc) bool {
	if v.kind != jsonscan.String {
		return false
	}
	for _, l := range timeLayouts {
		t, err := time.Parse(l, v.text)
		if err != nil {
			continue
		}
		var n int
		switch m.unit {
		case "minute":
			n = t.Minute()
		case "hour":
			n = t.Hour()
		case "day":
			n = t.Day()
		case "week":
			_, n = t.ISOWeek()
		case "month":
			n = int(t.Month())
		case "year":
			n = t.Year()
		}
		return m.op.holds(float64(n), m.val)
	}
	return false
}

// fieldrefMatcher is the fieldref modifier: the value is compared with the
// values of another field of the same record, case-insensitively unless
// cased, as a whole or (with contains, startswith, endswith) in part.
type fieldrefMatcher struct {
	path  []string
	mode  matchMode // modeExact, modePrefix, modeSuffix or modeContains
	cased bool
}

func (m *fieldrefMatcher) match(v value, d Doc) bool {
	return d.Values(m.path, func(raw []byte) bool {
		o, ok := makeValue(raw)
		return !(ok && m.compare(v.text, o.text))
	})
}

func (m *fieldrefMatcher) compare(s, ref string) bool {
	if !m.cased {
		s, ref = strings.ToLower(s), strings.ToLower(ref)
	}
	switch m.mode {
	case modePrefix:
		return strings.HasPrefix(s, ref)
	case modeSuffix:
		return strings.HasSuffix(s, ref)
	case modeContains:
		return strings.Contains(s, ref)
	}
	return s == ref
}
