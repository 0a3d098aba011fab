package sigma

import (
	"strings"
	"unicode/utf8"
)

// A pattern is a Sigma string value: literal text with the wildcards "*"
// (any run of characters) and "?" (one character), and, after the windash
// modifier, dash positions that match any of the five dash characters.
type pattern []token

type tokKind uint8

const (
	tokLit  tokKind = iota // literal text
	tokStar                // *: any run of characters, possibly empty
	tokOne                 // ?: exactly one character
	tokDash                // one of the windash characters
)

type token struct {
	kind tokKind
	lit  string
}

// windashChars are the characters the windash modifier makes
// interchangeable: hyphen-minus, slash, en dash, em dash, horizontal bar
// (Sigma modifiers appendix 2.1.0, "windash").
const windashChars = "-/\u2013\u2014\u2015"

func isWindash(r rune) bool { return strings.ContainsRune(windashChars, r) }

// parsePattern reads a Sigma string with wildcards, following the
// specification's escaping rules ("Escaping"): a backslash escapes "*", "?"
// and itself; a backslash before any other character, or at the end, is a
// plain backslash. So `C:\Windows` and `C:\\Windows` are the same value,
// `\*` is a plain star and `\\*` is a backslash followed by a wildcard.
func parsePattern(s string) pattern {
	var (
		p   pattern
		lit strings.Builder
	)
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, token{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*':
			flush()
			if len(p) == 0 || p[len(p)-1].kind != tokStar {
				p = append(p, token{kind: tokStar})
			}
		case c == '?':
			flush()
			p = append(p, token{kind: tokOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// literalPattern is a pattern matching s exactly.
func literalPattern(s string) pattern {
	if s == "" {
		return pattern{}
	}
	return pattern{{kind: tokLit, lit: s}}
}

// plain reports whether p has no wildcards, and returns its text.
func (p pattern) plain() (string, bool) {
	var b strings.Builder
	for _, t := range p {
		if t.kind != tokLit {
			return "", false
		}
		b.WriteString(t.lit)
	}
	return b.String(), true
}

// wrap adds a leading and/or trailing star (contains, startswith, endswith).
func (p pattern) wrap(lead, trail bool) pattern {
	out := make(pattern, 0, len(p)+2)
	if lead && (len(p) == 0 || p[0].kind != tokStar) {
		out = append(out, token{kind: tokStar})
	}
	out = append(out, p...)
	if trail && (len(out) == 0 || out[len(out)-1].kind != tokStar) {
		out = append(out, token{kind: tokStar})
	}
	return out
}

// mapLit applies f to every literal part.
func (p pattern) mapLit(f func(string) string) pattern {
	out := make(pattern, len(p))
	for i, t := range p {
		if t.kind == tokLit {
			t.lit = f(t.lit)
		}
		out[i] = t
	}
	return out
}

// windash turns every windash character of the literal parts into a dash
// position.
func (p pattern) windash() pattern {
	var out pattern
	for _, t := range p {
		if t.kind != tokLit {
			out = append(out, t)
			continue
		}
		s := t.lit
		for s != "" {
			i := strings.IndexFunc(s, isWindash)
			if i < 0 {
				out = append(out, token{kind: tokLit, lit: s})
				break
			}
			if i > 0 {
				out = append(out, token{kind: tokLit, lit: s[:i]})
			}
			out = append(out, token{kind: tokDash})
			_, n := utf8.DecodeRuneInString(s[i:])
			s = s[i+n:]
		}
	}
	return out
}

// matchMode is how a compiled glob compares, chosen from its shape so the
// common cases need no general matching.
type matchMode uint8

const (
	modeExact    matchMode = iota // literal
	modePrefix                    // literal*
	modeSuffix                    // *literal
	modeContains                  // *literal*
	modeAny                       // *
	modeGlob                      // anything else
)

// glob is a compiled pattern.
type glob struct {
	mode  matchMode
	lit   string  // for the literal modes, lower-cased unless cased
	toks  pattern // for modeGlob, literals lower-cased unless cased
	cased bool
	ascii bool // lit is ASCII, so the allocation-free folding applies
}

func compileGlob(p pattern, cased bool) *glob {
	if !cased {
		p = p.mapLit(strings.ToLower)
	}
	g := &glob{toks: p, cased: cased, mode: modeGlob}
	lits, stars, other := 0, 0, 0
	for _, t := range p {
		switch t.kind {
		case tokLit:
			lits++
		case tokStar:
			stars++
		default:
			other++
		}
	}
	switch {
	case other > 0 || lits > 1:
	case len(p) == 0:
		g.mode = modeExact
	case lits == 0: // "*"
		g.mode = modeAny
	case len(p) == 1:
		g.mode, g.lit = modeExact, p[0].lit
	case len(p) == 2 && p[0].kind == tokLit:
		g.mode, g.lit = modePrefix, p[0].lit
	case len(p) == 2:
		g.mode, g.lit = modeSuffix, p[1].lit
	case len(p) == 3:
		g.mode, g.lit = modeContains, p[1].lit
	}
	g.ascii = isASCII(g.lit)
	return g
}

// match reports whether s matches the pattern.
func (g *glob) match(s string) bool {
	if g.mode == modeAny {
		return true
	}
	if g.cased {
		switch g.mode {
		case modeExact:
			return s == g.lit
		case modePrefix:
			return strings.HasPrefix(s, g.lit)
		case modeSuffix:
			return strings.HasSuffix(s, g.lit)
		case modeContains:
			return strings.Contains(s, g.lit)
		}
		return globMatch(g.toks, s)
	}
	if g.ascii && g.mode != modeGlob {
		switch g.mode {
		case modeExact:
			return len(s) == len(g.lit) && asciiEqualFold(s, g.lit)
		case modePrefix:
			return len(s) >= len(g.lit) && asciiEqualFold(s[:len(g.lit)], g.lit)
		case modeSuffix:
			return len(s) >= len(g.lit) && asciiEqualFold(s[len(s)-len(g.lit):], g.lit)
		case modeContains:
			return asciiIndexFold(s, g.lit) >= 0
		}
	}
	ls := strings.ToLower(s)
	switch g.mode {
	case modeExact:
		return ls == g.lit
	case modePrefix:
		return strings.HasPrefix(ls, g.lit)
	case modeSuffix:
		return strings.HasSuffix(ls, g.lit)
	case modeContains:
		return strings.Contains(ls, g.lit)
	}
	return globMatch(g.toks, ls)
}

// globMatch matches s against toks. It backtracks only to the last star,
// which is enough for patterns of literals, stars and single-character
// tokens, and runs in O(len(toks)·len(s)).
func globMatch(toks pattern, s string) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokLit:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokDash:
				if si < len(s) {
					r, n := utf8.DecodeRuneInString(s[si:])
					if isWindash(r) {
						si += n
						ti++
						continue
					}
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si, ti = starSi, starTi+1
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiEqualFold compares s with the lower-case ASCII string lower,
// folding ASCII letters of s only.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// asciiIndexFold returns the index of the lower-case ASCII string lower in
// s, folding ASCII letters of s, or -1.
func asciiIndexFold(s, lower string) int {
	if lower == "" {
		return 0
	}
	first := lower[0]
	for i := 0; i+len(lower) <= len(s); i++ {
		if lowerASCII(s[i]) == first && asciiEqualFold(s[i:i+len(lower)], lower) {
			return i
		}
	}
	return -1
}
