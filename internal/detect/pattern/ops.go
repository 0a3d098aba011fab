package pattern

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// opKind is a content filter. The anything-but family comes last:
// [leaf.matchOther] relies on the order.
type opKind uint8

const (
	opPrefix     opKind = iota // {"prefix": s}
	opPrefixFold               // {"prefix": {"equals-ignore-case": s}}
	opSuffix                   // {"suffix": s}
	opSuffixFold               // {"suffix": {"equals-ignore-case": s}}
	opEqualsFold               // {"equals-ignore-case": s}
	opWildcard                 // {"wildcard": s}
	opNumeric                  // {"numeric": [...]}
	opCIDR                     // {"cidr": "ip/bits"}

	opNotStrings  // {"anything-but": s or [s...]}
	opNotNumbers  // {"anything-but": n or [n...]}
	opNotPrefix   // {"anything-but": {"prefix": s or [s...]}}
	opNotSuffix   // {"anything-but": {"suffix": s or [s...]}}
	opNotFold     // {"anything-but": {"equals-ignore-case": s or [s...]}}
	opNotWildcard // {"anything-but": {"wildcard": s or [s...]}}
)

// op is one compiled content filter.
type op struct {
	kind   opKind
	s      string     // prefix, suffix, equals-ignore-case
	strs   strSet     // anything-but strings
	list   []string   // anything-but prefixes, suffixes, strings ignoring case
	wild   []wildcard // wildcard (one), anything-but wildcards
	keys   []int64    // anything-but numbers
	rng    numRange   // numeric
	lo, hi netip.Addr // cidr, inclusive
}

// matchString applies a string filter (not numeric or cidr) to s.
func (o *op) matchString(s string) bool {
	switch o.kind {
	case opPrefix:
		return strings.HasPrefix(s, o.s)
	case opPrefixFold:
		return hasPrefixFold(s, o.s)
	case opSuffix:
		return strings.HasSuffix(s, o.s)
	case opSuffixFold:
		return hasSuffixFold(s, o.s)
	case opEqualsFold:
		return strings.EqualFold(s, o.s)
	case opWildcard:
		return o.wild[0].match(s)
	case opNotStrings:
		return !o.strs.has(s)
	case opNotNumbers:
		return true // a string is never one of the excluded numbers
	case opNotPrefix:
		for _, p := range o.list {
			if strings.HasPrefix(s, p) {
				return false
			}
		}
		return true
	case opNotSuffix:
		for _, p := range o.list {
			if strings.HasSuffix(s, p) {
				return false
			}
		}
		return true
	case opNotFold:
		for _, p := range o.list {
			if strings.EqualFold(s, p) {
				return false
			}
		}
		return true
	case opNotWildcard:
		for i := range o.wild {
			if o.wild[i].match(s) {
				return false
			}
		}
		return true
	}
	return false
}

// containsIP reports whether ip is in the CIDR block. Addresses of the
// other family never are.
func (o *op) containsIP(ip netip.Addr) bool {
	return ip.IsValid() && ip.Is4() == o.lo.Is4() && o.lo.Compare(ip) <= 0 && ip.Compare(o.hi) <= 0
}

// Numbers. EventBridge compares numbers as fixed-point values with six
// digits after the decimal point, within ±5.0e9 (the "Numeric matching"
// section of the Content filtering page of the EventBridge User Guide).
// numKey reproduces the conversion of AWS's open-source matcher
// (aws/event-ruler, ComparableNumber): the value is offset by 5e9, scaled
// by 1e6 and truncated, so values that differ only beyond the sixth decimal
// place compare equal, and values outside the range are not numbers at all.
const numLimit = 5e9

func numKey(f float64) (int64, bool) {
	if !(f >= -numLimit && f <= numLimit) { // NaN fails both
		return 0, false
	}
	shifted := numLimit + f
	return int64(1e6 * shifted), true
}

// numRange is the set of keys a numeric filter accepts.
type numRange struct {
	lo, hi         int64
	hasLo, hasHi   bool
	loOpen, hiOpen bool
}

func (r *numRange) contains(k int64) bool {
	if r.hasLo && (k < r.lo || (r.loOpen && k == r.lo)) {
		return false
	}
	if r.hasHi && (k > r.hi || (r.hiOpen && k == r.hi)) {
		return false
	}
	return true
}

// parseIP reads an IP address the way EventBridge recognises one: four
// dot-separated groups of decimal digits (each at most 255; leading zeros
// are read as decimal), or an IPv6 address written with hex digits and
// colons only (no embedded IPv4 part, no zone). An IPv4-mapped IPv6 address
// is the IPv4 address. Anything else is not an address.
func parseIP(s string) (netip.Addr, bool) {
	if len(s) < 2 || len(s) > 64 {
		return netip.Addr{}, false
	}
	if a, ok := parseIPv4(s); ok {
		return a, true
	}
	hasColon := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			hasColon = true
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return netip.Addr{}, false
		}
	}
	if !hasColon {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func parseIPv4(s string) (netip.Addr, bool) {
	var b [4]byte
	part, n, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || part > 3 {
				return netip.Addr{}, false
			}
			b[part] = byte(n)
			part, n, digits = part+1, 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return netip.Addr{}, false
		}
		n = n*10 + int(c-'0')
		digits++
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	if part != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(b), true
}

// cidrBounds returns the first and last address of the block of bits
// leading bits around addr.
func cidrBounds(addr netip.Addr, bits int) (lo, hi netip.Addr) {
	p := netip.PrefixFrom(addr, bits).Masked()
	lo = p.Addr()
	b := lo.As16()
	host := 128 - bits
	if lo.Is4() {
		host = 32 - bits
	}
	for i := 15; i >= 0 && host > 0; i-- {
		if host >= 8 {
			b[i] = 0xff
		} else {
			b[i] |= byte(1)<<host - 1
		}
		host -= 8
	}
	hi = netip.AddrFrom16(b)
	if lo.Is4() {
		hi = hi.Unmap()
	}
	return lo, hi
}

// wildcard is a compiled wildcard value: literal parts separated by "*",
// each of which matches any run of characters, the empty one included.
// The whole value must match.
type wildcard struct {
	parts []string
}

// parseWildcard compiles s. "\*" is a literal asterisk and "\\" a literal
// backslash; any other backslash, and two asterisks in a row, are errors,
// as in EventBridge.
func parseWildcard(s string) (wildcard, string) {
	var (
		w   wildcard
		cur []byte
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				return wildcard{}, "consecutive wildcard characters at byte " + strconv.Itoa(i)
			}
			w.parts = append(w.parts, string(cur))
			cur = cur[:0]
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\') {
				cur = append(cur, s[i+1])
				i++
				continue
			}
			return wildcard{}, `"\" may only escape "*" or "\" (byte ` + strconv.Itoa(i) + ")"
		default:
			cur = append(cur, c)
		}
	}
	w.parts = append(w.parts, string(cur))
	return w, ""
}

func (w *wildcard) match(s string) bool {
	if len(w.parts) == 1 {
		return s == w.parts[0]
	}
	first, last := w.parts[0], w.parts[len(w.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range w.parts[1 : len(w.parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}

// hasPrefixFold is strings.HasPrefix ignoring case, with the same case
// folding as strings.EqualFold.
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		if c, p := s[0], prefix[0]; c < utf8.RuneSelf && p < utf8.RuneSelf {
			if lowerASCII(c) != lowerASCII(p) {
				return false
			}
			s, prefix = s[1:], prefix[1:]
			continue
		}
		r1, n1 := utf8.DecodeRuneInString(s)
		r2, n2 := utf8.DecodeRuneInString(prefix)
		if !foldEq(r1, r2) {
			return false
		}
		s, prefix = s[n1:], prefix[n2:]
	}
	return true
}

// hasSuffixFold is strings.HasSuffix ignoring case.
func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		if c, p := s[len(s)-1], suffix[len(suffix)-1]; c < utf8.RuneSelf && p < utf8.RuneSelf {
			if lowerASCII(c) != lowerASCII(p) {
				return false
			}
			s, suffix = s[:len(s)-1], suffix[:len(suffix)-1]
			continue
		}
		r1, n1 := utf8.DecodeLastRuneInString(s)
		r2, n2 := utf8.DecodeLastRuneInString(suffix)
		if !foldEq(r1, r2) {
			return false
		}
		s, suffix = s[:len(s)-n1], suffix[:len(suffix)-n2]
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldEq reports whether a and b are equal under simple Unicode case
// folding, as strings.EqualFold compares runes.
func foldEq(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
