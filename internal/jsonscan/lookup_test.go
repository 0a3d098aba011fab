package jsonscan

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	doc := []byte(` {"a":{"b":"x","c":[1,2,{"d":"y"}]},"resources":[{"ARN":"r1","type":"t"},{"ARN":"r2"}],"n":null,"e":[],"nest":[[{"z":1}],[{"z":2}]]}`)
	tests := []struct {
		path string
		want string
	}{
		{"a.b", `"x"`},
		{"a.c", `1|2|{"d":"y"}`},
		{"a.c.d", `"y"`},
		{"resources.ARN", `"r1"|"r2"`},
		{"resources.type", `"t"`},
		{"n", `null`},
		{"e", ``},
		{"nest.z", `1|2`},
		{"missing", ``},
		{"a.b.c", ``},
		{"", `{"a"`},
	}
	for _, tc := range tests {
		var path []string
		if tc.path != "" {
			path = strings.Split(tc.path, ".")
		}
		var got []string
		Lookup(doc, path, func(v []byte) bool {
			s := string(v)
			if tc.path == "" {
				s = s[:4]
			}
			got = append(got, s)
			return true
		})
		if strings.Join(got, "|") != tc.want {
			t.Errorf("Lookup(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	n := 0
	if !Lookup(doc, []string{"a", "c"}, func([]byte) bool { n++; return false }) || n != 1 {
		t.Errorf("stopping: n=%d", n)
	}
	// Malformed (unvalidated) input must not panic.
	for _, bad := range []string{`[`, `[1,`, `{"a":[`, `[[[[`, `{"a"`, `]`, `[}`, `[:}`, `[,}]`} {
		Lookup([]byte(bad), []string{"a"}, func([]byte) bool { return true })
	}
}

func FuzzLookup(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":1},{"b":[2,3]}]}`), "a.b")
	f.Add([]byte(`[}`), "a")
	f.Fuzz(func(t *testing.T, b []byte, path string) {
		n := 0
		Lookup(b, strings.Split(path, "."), func(v []byte) bool {
			n++
			if len(v) > len(b) {
				t.Fatal("value longer than document")
			}
			return n < 1000
		})
	})
}
