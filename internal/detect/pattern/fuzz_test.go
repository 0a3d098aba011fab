package pattern

import (
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// FuzzMatch compiles arbitrary patterns and matches them against arbitrary
// documents. Nothing may panic; a rejected pattern must give an *Error
// inside the source; a compiled one must give the same answer every time,
// through any Doc, as the reference matcher, and agree with its own Exact.
func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add([]byte(tc.pattern), []byte(tc.event))
	}
	seeds := [][2]string{
		{`{"a":[{"wildcard":"a\\*b*c\\\\"}]}`, `{"a":"a*bxc\\"}`},
		{`{"a":[{"anything-but":{"wildcard":["x*","*y"]}}]}`, `{"a":["xz","zz"]}`},
		{`{"$or":[{"a":[1]},{"b":{"$or":[{"c":[null]},{"d":[{"exists":false}]}]}}]}`, `{"b":[{"c":null},{"d":1}]}`},
		{`{"a":[{"numeric":[">=",-5e9,"<",0.5]}]}`, `{"a":[0.4999999,-5e9,5e9]}`},
		{`{"a":[{"cidr":"::/1"},"::1"]}`, `{"a":["0:0::1","8000::"]}`},
		{`{"a":["\ud800x"]}`, `{"a":"\ud800x"}`},
		{`{"a":[{"prefix":{"equals-ignore-case":"ǅ"}}]}`, `{"a":"ǆx"}`},
		{`{"a":[{"exists":true}]}`, `[[[[{"a":[[]]}]]]]`},
		{`{"a":{"b":[{"exists":false}]}}`, "\xff"},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, pat, event []byte) {
		p, err := Compile(pat)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Compile error %T (%v) is not *Error", err, err)
			}
			if perr.Offset < 0 || perr.Offset > len(pat) {
				t.Fatalf("Error.Offset %d outside the pattern (%d bytes)", perr.Offset, len(pat))
			}
			return
		}
		fields := p.Fields()
		if !jsonscan.Valid(event) {
			return
		}
		doc := JSONDoc(event)
		got := p.Match(doc)
		if again := p.Match(doc); again != got {
			t.Fatalf("Match = %v, then %v", got, again)
		}
		if other := p.Match(plainDoc{doc}); other != got {
			t.Fatalf("Match(JSONDoc) = %v, Match(plainDoc) = %v", got, other)
		}
		// The reference decodes with encoding/json, which keeps the last of
		// duplicate keys (Lookup keeps the first) and rewrites invalid UTF-8
		// in keys (Match compares keys as bytes); skip it for such input.
		if !hasDuplicateKeys(event) && utf8.Valid(pat) && utf8.Valid(event) {
			if ref := refMatch(t, p, event); ref != got {
				t.Fatalf("Match = %v, reference = %v\npattern %s\nevent %s", got, ref, pat, event)
			}
		}
		for _, path := range fields {
			vals, ok := p.Exact(path)
			if !ok || !got {
				continue
			}
			// The event matched, so it must hold one of the exact values.
			found := doc.Values(path, func(v []byte) bool {
				return !(jsonscan.KindOf(v) == jsonscan.String && slices.Contains(vals, str(v)))
			})
			if !found {
				t.Fatalf("Exact(%q) = %q, but a matching event has none of them\npattern %s\nevent %s", path, vals, pat, event)
			}
		}
	})
}
