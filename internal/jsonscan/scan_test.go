package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{` { } `, true},
		{`[]`, true},
		{`"x"`, true},
		{`0`, true},
		{`-0.5e+10`, true},
		{`1E5`, true},
		{`true`, true},
		{`null`, true},
		{`{"a":[1,2,{"b":null}],"c":"d\u00e9\n"}`, true},
		{`{"a":1,}`, false},
		{`[1,]`, false},
		{`[1 2]`, false},
		{`{"a" 1}`, false},
		{`{a:1}`, false},
		{`01`, false},
		{`-`, false},
		{`1.`, false},
		{`1e`, false},
		{`.5`, false},
		{`+1`, false},
		{`"abc`, false},
		{`"a\x"`, false},
		{`"a\u12"`, false},
		{"\"a\tb\"", false},
		{`tru`, false},
		{`nul`, false},
		{`{"a":1}}`, false},
		{`{"a":1} x`, false},
		{`[`, false},
		{`{"a":`, false},
		{``, false},
		{`   `, false},
		{`{"a":"b"]`, false},
		{`["a"}`, false},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false},
		{`"long string with no escapes at all, longer than eight bytes"`, true},
		{`"\\\"\/\b\f\n\r\t\uD83D\uDE00"`, true},
	}
	for _, tc := range tests {
		if got := Valid([]byte(tc.in)); got != tc.want {
			t.Errorf("Valid(%.40q) = %v, want %v", tc.in, got, tc.want)
		}
		if tc.want != json.Valid([]byte(tc.in)) && !strings.HasPrefix(tc.in, "[[[[") {
			t.Errorf("test case %.40q disagrees with encoding/json", tc.in)
		}
	}
}

func TestSkipErrorOffset(t *testing.T) {
	_, err := Skip([]byte(`{"a": [1, 2, x]}`), 0)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Skip error = %v, want *SyntaxError", err)
	}
	if se.Offset != 13 {
		t.Errorf("SyntaxError.Offset = %d, want 13 (%v)", se.Offset, err)
	}
}

func TestObjectIter(t *testing.T) {
	in := []byte(` {"a" : 1, "b\"c": {"x": [true]}, "d": "e" } `)
	type kv struct{ k, v string }
	var got []kv
	it := NewObjectIter(in)
	for it.Next() {
		got = append(got, kv{string(it.Key()), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	want := []kv{{"a", "1"}, {`b"c`, `{"x": [true]}`}, {"d", `"e"`}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestObjectIterErrors(t *testing.T) {
	for _, in := range []string{`[1]`, `{"a":1`, `{"a":1,}`, `{"a":1} x`, `{"a":}`, `{1:2}`, ``} {
		it := NewObjectIter([]byte(in))
		for it.Next() {
		}
		if it.Err() == nil {
			t.Errorf("ObjectIter(%q): no error", in)
		}
	}
}

func TestObjectIterString(t *testing.T) {
	in := []byte("{\"a\":\"plain\",\"b\":\"caf\u00e9 \\u00e9\",\"c\":\"tab\\there\",\"d\":\"bad \xff byte\",\"e\":12,\"f\":null,\"g\":{\"x\":\"y\"}}")
	want := map[string]string{"a": "plain", "b": "café é", "c": "tab\there", "d": "bad \uFFFD byte", "e": "", "f": "", "g": ""}
	for _, mk := range []func([]byte) ObjectIter{NewObjectIter, NewTrustedObjectIter} {
		it := mk(in)
		n := 0
		for it.Next() {
			n++
			if got := it.String(); got != want[string(it.Key())] {
				t.Errorf("%s: String() = %q, want %q", it.Key(), got, want[string(it.Key())])
			}
		}
		if it.Err() != nil || n != len(want) {
			t.Errorf("members %d, err %v", n, it.Err())
		}
	}
	// Trusted iteration never reads past its input, even when it is not
	// valid JSON.
	for _, bad := range []string{`{"a`, `{"a":"b`, `{"a":{`, `{"a":[1,`, `{"a":`, `{"a"`, `{"\`} {
		it := NewTrustedObjectIter([]byte(bad))
		for it.Next() {
		}
	}
}

func TestArrayIter(t *testing.T) {
	it := NewArrayIter([]byte(`[ {"a":1} , "x", [2] ]`))
	var got []string
	for it.Next() {
		got = append(got, string(it.Value()))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if strings.Join(got, "|") != `{"a":1}|"x"|[2]` {
		t.Errorf("elements = %q", got)
	}
	it = NewArrayIter([]byte(`[1,2`))
	for it.Next() {
	}
	if it.Err() == nil {
		t.Error("unterminated array: no error")
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`""`, ""},
		{`"abc"`, "abc"},
		{`"a\"b\\c\/d"`, `a"b\c/d`},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t"},
		{`"\u00e9\u4e2d"`, "é中"},
		{`"\uD83D\uDE00"`, "😀"},
		{`"\uD83D"`, "\uFFFD"},
		{`"\uDE00x"`, "\uFFFDx"},
		{`"\uD83Dx"`, "\uFFFDx"},
	}
	for _, tc := range tests {
		got, err := Unquote([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		var std string
		if err := json.Unmarshal([]byte(tc.in), &std); err != nil || std != got {
			t.Errorf("Unquote(%s) = %q; encoding/json says %q", tc.in, got, std)
		}
	}
	if _, err := Unquote([]byte(`12`)); err == nil {
		t.Error("Unquote(12): no error")
	}
}

func TestScalarAccessors(t *testing.T) {
	if v, ok := Bool([]byte(`"true"`)); !v || !ok {
		t.Error(`Bool("true") != true`)
	}
	if v, ok := Bool([]byte(`false`)); v || !ok {
		t.Error(`Bool(false) != false`)
	}
	if _, ok := Bool([]byte(`"yes"`)); ok {
		t.Error(`Bool("yes") ok`)
	}
	if n, ok := Int([]byte(`"42"`)); n != 42 || !ok {
		t.Errorf(`Int("42") = %d, %v`, n, ok)
	}
	if f, ok := Float([]byte(`7.5`)); f != 7.5 || !ok {
		t.Errorf(`Float(7.5) = %v, %v`, f, ok)
	}
	if s := Str([]byte(`null`)); s != "" {
		t.Errorf("Str(null) = %q", s)
	}
	if s := Scalar([]byte(`123`)); s != "123" {
		t.Errorf("Scalar(123) = %q", s)
	}
}

func TestBoundary(t *testing.T) {
	tests := []struct {
		in      string
		wantEnd int // index just past the value
	}{
		{`{"a":"}"} tail`, 9},
		{`["x\"]", [1]],`, 13},
		{`"a\\" x`, 5},
		{`123,`, 3},
		{`true]`, 4},
	}
	for _, tc := range tests {
		// Feed the input one byte at a time to exercise resumption.
		var s Boundary
		b := []byte(tc.in)
		end, done := 0, false
		for n := 1; n <= len(b) && !done; n++ {
			end, done = s.Scan(b[:n], end)
		}
		if !done || end != tc.wantEnd {
			t.Errorf("Boundary(%q) = %d, %v; want %d", tc.in, end, done, tc.wantEnd)
		}
	}
	var s Boundary
	if _, done := s.Scan([]byte(`42`), 0); done || !s.Pending() {
		t.Errorf("scalar at end of input: done=%v pending=%v", done, s.Pending())
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}],"c":"d\u00e9"}`, `[1,]`, `"\uD83D"`, `-0.1e+5`, `{"a":"b\"c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Valid(b)
		want := json.Valid(b)
		if got != want {
			if strings.Count(string(b), "[")+strings.Count(string(b), "{") > MaxDepth {
				return // deeper than we accept; encoding/json allows 10000
			}
			t.Fatalf("Valid(%q) = %v, encoding/json.Valid = %v", b, got, want)
		}
		if !got {
			return
		}
		// Every valid document's strings must unquote as encoding/json does.
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if KindOf(b[SkipSpace(b, 0):]) == String {
			s, err := Unquote([]byte(strings.TrimSpace(string(b))))
			if err != nil || s != v.(string) {
				t.Fatalf("Unquote(%q) = %q, %v; encoding/json: %q", b, s, err, v)
			}
		}
		// Trusted iteration of a validated object must see what validating
		// iteration sees, and String must agree with Str.
		if KindOf(b[SkipSpace(b, 0):]) == Object {
			v, tr := NewObjectIter(b), NewTrustedObjectIter(b)
			for v.Next() {
				if !tr.Next() {
					t.Fatalf("trusted iteration of %q ended early", b)
				}
				if string(v.Key()) != string(tr.Key()) || string(v.Value()) != string(tr.Value()) {
					t.Fatalf("trusted member %q=%q, validating %q=%q", tr.Key(), tr.Value(), v.Key(), v.Value())
				}
				if v.String() != Str(v.Value()) || tr.String() != v.String() {
					t.Fatalf("String() = %q / %q, Str = %q", v.String(), tr.String(), Str(v.Value()))
				}
			}
			if v.Err() != nil || tr.Next() || tr.Err() != nil {
				t.Fatalf("iteration of valid %q: %v / %v", b, v.Err(), tr.Err())
			}
		}
		// The boundary scanner must find the same end as the validator.
		start := SkipSpace(b, 0)
		end, _ := Skip(b, start)
		var bd Boundary
		bend, done := bd.Scan(b, start)
		if !done && bd.Pending() {
			bend, done = len(b), true
		}
		if !done || bend != end {
			t.Fatalf("Boundary end = %d, %v; Skip end = %d for %q", bend, done, end, b)
		}
	})
}

// FuzzTrustedIter feeds arbitrary bytes to the trusted iterator, which must
// never panic or loop, whatever the input.
func FuzzTrustedIter(f *testing.F) {
	for _, s := range []string{`{"a":"b","c":[1,{"d":"\u00e9"}]}`, `{"a`, `{"a":"\`, `{"a":{`, `{"":1,`, ` [1, "a", {"b": [2]}, null] `, `[]`, `[,]`, `[1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		it := NewTrustedObjectIter(b)
		for n := 0; it.Next(); n++ {
			if n > len(b) {
				t.Fatalf("more members than bytes in %q", b)
			}
			_ = it.String()
			if len(it.Value()) > len(b) {
				t.Fatal("value longer than input")
			}
		}
		// Arrays: on any input it ends; on a valid array it gives the
		// validating iterator's elements.
		ta, va := NewTrustedArrayIter(b), NewArrayIter(b)
		valid := Valid(b) && KindOf(b[SkipSpace(b, 0):]) == Array
		for n := 0; ta.Next(); n++ {
			if n > len(b) {
				t.Fatalf("more elements than bytes in %q", b)
			}
			if valid && (!va.Next() || string(va.Value()) != string(ta.Value())) {
				t.Fatalf("%q: trusted element %d %q, validating %q", b, n, ta.Value(), va.Value())
			}
		}
		if valid && (va.Next() || ta.Err() != nil) {
			t.Fatalf("%q: trusted iteration stopped early: %v", b, ta.Err())
		}
	})
}

// TestMasksFindTheFirstByte checks the property the scanners rely on: the
// lowest set bit of a mask marks the first special byte exactly.
func TestMasksFindTheFirstByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte{'"', '\\', 0x00, 0x1f, 0x0a}
	ordinary := []byte{'a', ' ', 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 0xa2, 0xdc, '"' + 1, '\\' - 1}
	for range 100000 {
		var w [8]byte
		first := -1
		for i := range w {
			if rng.IntN(6) == 0 {
				w[i] = special[rng.IntN(len(special))]
				if first < 0 {
					first = i
				}
			} else {
				w[i] = ordinary[rng.IntN(len(ordinary))]
			}
		}
		x := binary.LittleEndian.Uint64(w[:])
		m := attentionMask(x)
		got := -1
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != first {
			t.Fatalf("attentionMask(% x): first at %d, want %d", w, got, first)
		}
		qfirst := bytes.IndexAny(w[:], "\"\\")
		qm := quoteOrBackslashMask(x)
		qgot := -1
		if qm != 0 {
			qgot = bits.TrailingZeros64(qm) >> 3
		}
		if qgot != qfirst {
			t.Fatalf("quoteOrBackslashMask(% x): first at %d, want %d", w, qgot, qfirst)
		}
	}
}
