package pattern

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern string
		want    string // the whole message, or a prefix of it ending in "…"
	}{
		{"invalid JSON", `{"a":`, "pattern: not valid JSON: …"},
		{"trailing data", `{"a":["x"]} x`, "pattern: not valid JSON: data after the pattern"},
		{"top-level array", `[{"a":["x"]}]`, "pattern: must be a JSON object, found array"},
		{"top-level string", `"x"`, "pattern: must be a JSON object, found string"},
		// AWS rejects an empty pattern and empty objects at any level.
		{"empty pattern", `{}`, "pattern: empty object: a pattern object needs at least one field"},
		{"empty nested object", `{"detail":{}}`, "pattern: detail: empty object: a pattern object needs at least one field"},
		// A field's value must be a list (AWS docs: Arrays in event patterns).
		{"bare string", `{"source":"aws.ec2"}`, "pattern: source: must be an object or an array of values, found string"},
		{"bare number", `{"a":{"b":5}}`, "pattern: a.b: must be an object or an array of values, found number"},
		{"bare null", `{"a":null}`, "pattern: a: must be an object or an array of values, found null"},
		{"bare bool", `{"a":true}`, "pattern: a: must be an object or an array of values, found bool"},
		{"empty array", `{"source":[]}`, "pattern: source: empty array: give at least one value"},
		{"array in list", `{"a":[["x"]]}`, "pattern: a: a value must be a string, number, boolean, null or operator object, found array"},
		{"empty operator", `{"a":[{}]}`, "pattern: a: empty operator object"},
		{"two operators", `{"a":[{"prefix":"x","suffix":"y"}]}`, `pattern: a: an operator object has exactly one key, found "prefix" and "suffix"`},
		{"unknown operator", `{"a":[{"contains":"x"}]}`, `pattern: a: unknown operator "contains"`},
		{"undocumented exactly", `{"a":[{"exactly":"x"}]}`, `pattern: a: unknown operator "exactly"`},
		{"operator case", `{"a":[{"Prefix":"x"}]}`, `pattern: a: unknown operator "Prefix"`},

		{"prefix number", `{"detail":{"eventName":[{"prefix":5}]}}`, `pattern: detail.eventName: "prefix" needs a string or {"equals-ignore-case": string}`},
		{"prefix list", `{"a":[{"prefix":["x"]}]}`, `pattern: a: "prefix" needs a string or {"equals-ignore-case": string}`},
		{"prefix unknown inner", `{"a":[{"prefix":{"wildcard":"x"}}]}`, `pattern: a: "prefix" needs a string or {"equals-ignore-case": string}`},
		{"prefix fold number", `{"a":[{"prefix":{"equals-ignore-case":1}}]}`, `pattern: a: "prefix" needs a string or {"equals-ignore-case": string}`},
		{"prefix fold two keys", `{"a":[{"prefix":{"equals-ignore-case":"x","y":"z"}}]}`, `pattern: a: "prefix" needs a string or {"equals-ignore-case": string}`},
		{"suffix null", `{"a":[{"suffix":null}]}`, `pattern: a: "suffix" needs a string or {"equals-ignore-case": string}`},
		{"suffix fold empty", `{"a":[{"suffix":{}}]}`, `pattern: a: "suffix" needs a string or {"equals-ignore-case": string}`},
		{"ignore case number", `{"a":[{"equals-ignore-case":5}]}`, `pattern: a: "equals-ignore-case" needs a string`},
		{"ignore case list", `{"a":[{"equals-ignore-case":["x"]}]}`, `pattern: a: "equals-ignore-case" needs a string`},

		{"wildcard number", `{"a":[{"wildcard":5}]}`, `pattern: a: "wildcard" needs a string`},
		{"wildcard consecutive", `{"a":[{"wildcard":"a**b"}]}`, "pattern: a: wildcard: consecutive wildcard characters at byte 1"},
		{"wildcard bad escape", `{"a":[{"wildcard":"a\\b"}]}`, `pattern: a: wildcard: "\" may only escape "*" or "\" (byte 1)`},
		{"wildcard trailing backslash", `{"a":[{"wildcard":"a\\"}]}`, `pattern: a: wildcard: "\" may only escape "*" or "\" (byte 1)`},

		{"anything-but null", `{"a":[{"anything-but":null}]}`, `pattern: a: "anything-but" needs …`},
		{"anything-but bool", `{"a":[{"anything-but":true}]}`, `pattern: a: "anything-but" needs …`},
		{"anything-but empty list", `{"a":[{"anything-but":[]}]}`, "pattern: a: anything-but: empty list"},
		{"anything-but mixed list", `{"a":[{"anything-but":["x",1]}]}`, "pattern: a: anything-but: a list must hold only strings or only numbers"},
		{"anything-but mixed list numbers first", `{"a":[{"anything-but":[1,"x"]}]}`, "pattern: a: anything-but: a list must hold only strings or only numbers"},
		{"anything-but null in list", `{"a":[{"anything-but":["x",null]}]}`, "pattern: a: anything-but: a list may hold strings or numbers, not null"},
		{"anything-but object in list", `{"a":[{"anything-but":[{"prefix":"x"}]}]}`, "pattern: a: anything-but: a list may hold strings or numbers, not object"},
		{"anything-but number out of range", `{"a":[{"anything-but":6e9}]}`, "pattern: a: anything-but: 6e9 is out of range: numbers must be between -5e9 and 5e9"},
		{"anything-but list out of range", `{"a":[{"anything-but":[1,-5000000001]}]}`, "pattern: a: anything-but: -5000000001 is out of range: numbers must be between -5e9 and 5e9"},
		{"anything-but empty object", `{"a":[{"anything-but":{}}]}`, "pattern: a: anything-but: empty object"},
		{"anything-but two keys", `{"a":[{"anything-but":{"prefix":"x","suffix":"y"}}]}`, `pattern: a: anything-but: the object has exactly one key, found "prefix" and "suffix"`},
		{"anything-but numeric", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, `pattern: a: anything-but: unsupported operator "numeric" (want prefix, suffix, equals-ignore-case or wildcard)`},
		{"anything-but nested", `{"a":[{"anything-but":{"anything-but":"x"}}]}`, `pattern: a: anything-but: unsupported operator "anything-but" (want prefix, suffix, equals-ignore-case or wildcard)`},
		{"anything-but empty prefix", `{"a":[{"anything-but":{"prefix":""}}]}`, `pattern: a: anything-but: "prefix" needs a non-empty string`},
		{"anything-but empty suffix in list", `{"a":[{"anything-but":{"suffix":[".png",""]}}]}`, `pattern: a: anything-but: "suffix" needs a non-empty string`},
		{"anything-but prefix number", `{"a":[{"anything-but":{"prefix":1}}]}`, `pattern: a: anything-but: "prefix" needs a string or a list of strings`},
		{"anything-but ignore case number", `{"a":[{"anything-but":{"equals-ignore-case":[1]}}]}`, `pattern: a: anything-but: "equals-ignore-case" needs a string or a list of strings`},
		{"anything-but prefix empty list", `{"a":[{"anything-but":{"prefix":[]}}]}`, `pattern: a: anything-but: "prefix": empty list`},
		{"anything-but bad wildcard", `{"a":[{"anything-but":{"wildcard":"**"}}]}`, "pattern: a: anything-but: wildcard: consecutive wildcard characters at byte 0"},

		{"numeric not array", `{"a":[{"numeric":5}]}`, `pattern: a: "numeric" needs an array such as [">", 0, "<=", 5], found number`},
		{"numeric empty", `{"a":[{"numeric":[]}]}`, `pattern: a: "numeric" needs an array such as [">", 0, "<=", 5], found an empty array`},
		{"numeric no operator", `{"a":[{"numeric":[5]}]}`, "pattern: a: numeric: expected an operator (=, <, <=, >, >=), found number"},
		{"numeric unknown operator", `{"a":[{"numeric":["==",5]}]}`, `pattern: a: numeric: unknown operator "=="`},
		{"numeric missing value", `{"a":[{"numeric":[">"]}]}`, `pattern: a: numeric: ">" needs a number after it`},
		{"numeric string value", `{"a":[{"numeric":[">","5"]}]}`, `pattern: a: numeric: the value of ">" must be a number, found string`},
		{"numeric eq then more", `{"a":[{"numeric":["=",5,"<",6]}]}`, `pattern: a: numeric: too many elements after "="`},
		{"numeric upper then lower", `{"a":[{"numeric":["<",5,">",1]}]}`, `pattern: a: numeric: too many elements after "<"`},
		{"numeric two lower bounds", `{"a":[{"numeric":[">",5,">",6]}]}`, `pattern: a: numeric: after a lower bound only "<" or "<=" may follow`},
		{"numeric lower then eq", `{"a":[{"numeric":[">",5,"=",6]}]}`, `pattern: a: numeric: after a lower bound only "<" or "<=" may follow`},
		{"numeric upper missing", `{"a":[{"numeric":[">",5,"<"]}]}`, `pattern: a: numeric: "<" needs a number after it`},
		{"numeric upper string", `{"a":[{"numeric":[">",5,"<","6"]}]}`, `pattern: a: numeric: the value of "<" must be a number, found string`},
		{"numeric five elements", `{"a":[{"numeric":[">",5,"<",6,7]}]}`, "pattern: a: numeric: too many elements"},
		{"numeric empty range", `{"a":[{"numeric":[">",5,"<",5]}]}`, "pattern: a: numeric: the lower bound 5 must be below the upper bound 5"},
		{"numeric inverted range", `{"a":[{"numeric":[">=",6,"<=",5]}]}`, "pattern: a: numeric: the lower bound 6 must be below the upper bound 5"},
		{"numeric out of range", `{"a":[{"numeric":["<",6e9]}]}`, "pattern: a: numeric: 6e9 is out of range: numbers must be between -5e9 and 5e9"},
		{"numeric below range", `{"a":[{"numeric":[">",-5.1e9]}]}`, "pattern: a: numeric: -5.1e9 is out of range: numbers must be between -5e9 and 5e9"},
		{"numeric overflow", `{"a":[{"numeric":["=",1e400]}]}`, "pattern: a: numeric: 1e400 is out of range: numbers must be between -5e9 and 5e9"},
		{"numeric operator bool", `{"a":[{"numeric":[true,5]}]}`, "pattern: a: numeric: expected an operator (=, <, <=, >, >=), found bool"},

		{"exists string", `{"a":[{"exists":"true"}]}`, `pattern: a: "exists" needs true or false`},
		{"exists number", `{"a":[{"exists":1}]}`, `pattern: a: "exists" needs true or false`},
		{"exists null", `{"a":[{"exists":null}]}`, `pattern: a: "exists" needs true or false`},

		{"cidr number", `{"a":[{"cidr":10}]}`, `pattern: a: "cidr" needs a string such as "10.0.0.0/24"`},
		{"cidr no slash", `{"a":[{"cidr":"10.0.0.0"}]}`, `pattern: a: cidr: malformed CIDR "10.0.0.0": needs exactly one "/"`},
		{"cidr two slashes", `{"a":[{"cidr":"10.0.0.0/8/1"}]}`, `pattern: a: cidr: malformed CIDR "10.0.0.0/8/1": needs exactly one "/"`},
		{"cidr bits not integer", `{"a":[{"cidr":"10.0.0.0/x"}]}`, `pattern: a: cidr: malformed CIDR "10.0.0.0/x": the prefix length must be an integer`},
		{"cidr bits empty", `{"a":[{"cidr":"10.0.0.0/"}]}`, `pattern: a: cidr: malformed CIDR "10.0.0.0/": the prefix length must be an integer`},
		{"cidr bits negative", `{"a":[{"cidr":"10.0.0.0/-1"}]}`, `pattern: a: cidr: malformed CIDR "10.0.0.0/-1": the prefix length must not be negative`},
		{"cidr v4 /32", `{"a":[{"cidr":"10.0.0.1/32"}]}`, `pattern: a: cidr: "10.0.0.1/32": an IPv4 prefix length must be less than 32`},
		{"cidr v6 /128", `{"a":[{"cidr":"2001:db8::1/128"}]}`, `pattern: a: cidr: "2001:db8::1/128": an IPv6 prefix length must be less than 128`},
		{"cidr bad octet", `{"a":[{"cidr":"300.0.0.0/8"}]}`, `pattern: a: cidr: invalid IP address "300.0.0.0"`},
		{"cidr hostname", `{"a":[{"cidr":"example.com/8"}]}`, `pattern: a: cidr: invalid IP address "example.com"`},
		{"cidr empty address", `{"a":[{"cidr":"/8"}]}`, `pattern: a: cidr: invalid IP address ""`},
		{"cidr three octets", `{"a":[{"cidr":"10.0.0/8"}]}`, `pattern: a: cidr: invalid IP address "10.0.0"`},
		{"cidr v6 embedded v4", `{"a":[{"cidr":"::ffff:10.0.0.0/104"}]}`, `pattern: a: cidr: invalid IP address "::ffff:10.0.0.0"`},
		{"cidr v6 zone", `{"a":[{"cidr":"fe80::1%eth0/64"}]}`, `pattern: a: cidr: invalid IP address "fe80::1%eth0"`},

		{"or not array", `{"$or":{"a":["x"]}}`, "pattern: $or: $or needs an array of at least two objects, found object"},
		{"or one branch", `{"$or":[{"a":["x"]}]}`, "pattern: $or: $or needs at least two objects, found 1"},
		{"or no branch", `{"$or":[]}`, "pattern: $or: $or needs at least two objects, found 0"},
		{"or branch not object", `{"$or":[{"a":["x"]},["b"]]}`, "pattern: $or[1]: each $or branch must be an object, found array"},
		{"or empty branch", `{"$or":[{"a":["x"]},{}]}`, "pattern: $or[1]: empty object: a pattern object needs at least one field"},
		{"or reserved field", `{"$or":[{"prefix":["x"]},{"b":["y"]}]}`, `pattern: $or[0].prefix: "prefix" is an operator name, so it cannot be a field name inside $or`},
		{"or reserved nested field", `{"detail":{"$or":[{"a":{"numeric":["x"]}},{"b":["y"]}]}}`, `pattern: detail.$or[0].a.numeric: "numeric" is an operator name, so it cannot be a field name inside $or`},
		{"or error in branch", `{"$or":[{"a":["x"]},{"b":[{"prefix":1}]}]}`, `pattern: $or[1].b: "prefix" needs a string or {"equals-ignore-case": string}`},

		{"duplicate key", `{"a":["x"],"a":["y"]}`, "pattern: a: field a is already constrained at a; a field may appear only once in each branch of a pattern"},
		{"duplicate nested", `{"d":{"a":["x"]},"d":{"a":["y"]}}`, "pattern: d.a: field d.a is already constrained at d.a; a field may appear only once in each branch of a pattern"},
		{"field beside and inside or", `{"a":["x"],"$or":[{"a":["y"]},{"b":["z"]}]}`, "pattern: $or[0].a: field a is already constrained at a; a field may appear only once in each branch of a pattern"},
		{"field after or", `{"$or":[{"b":["z"]},{"a":["y"]}],"a":["x"]}`, "pattern: a: field a is already constrained at $or[1].a; a field may appear only once in each branch of a pattern"},
		{"field in nested or", `{"$or":[{"a":["x"],"$or":[{"a":["y"]},{"c":["z"]}]},{"b":["y"]}]}`, "pattern: $or[0].$or[0].a: field a is already constrained at $or[0].a; a field may appear only once in each branch of a pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("Compile(%s) = %v, nil; want error %q", tc.pattern, p, tc.want)
			}
			got := err.Error()
			if prefix, ok := strings.CutSuffix(tc.want, "…"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Errorf("Compile(%s) error = %q, want prefix %q", tc.pattern, got, prefix)
				}
			} else if got != tc.want {
				t.Errorf("Compile(%s) error =\n  %q\nwant\n  %q", tc.pattern, got, tc.want)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T is not *Error", err)
			}
			if perr.Offset < 0 || perr.Offset > len(tc.pattern) {
				t.Errorf("Offset = %d, outside the pattern", perr.Offset)
			}
		})
	}
}

func TestCompileValid(t *testing.T) {
	t.Parallel()
	cases := []string{
		`{"a":["x"]}`,
		`{"$or":[{"a":["x"]},{"a":["y"]}]}`, // one field in different branches
		`{"$or":[{"a":["x"]},{"b":["y"]}],"$or":[{"c":["x"]},{"d":["y"]}]}`,        // two $or in one object are ANDed
		`{"d":{"a":["x"]},"d":{"b":["y"]}}`,                                        // one object given twice, different fields
		`{"prefix":["x"],"numeric":[1]}`,                                           // operator names as fields outside $or
		`{"a":[{"prefix":""}]}`,                                                    // empty prefix
		`{"a":[{"suffix":""}]}`,                                                    // empty suffix
		`{"a":[{"wildcard":""}]}`,                                                  // empty wildcard
		`{"a":[{"equals-ignore-case":""}]}`,                                        // empty string
		`{"a":[{"cidr":"0.0.0.0/0"}]}`,                                             // all of IPv4
		`{"a":[{"cidr":"::/0"}]}`,                                                  // all of IPv6
		`{"a":[{"cidr":"10.0.0.1/31"}]}`,                                           // the longest IPv4 block
		`{"a":[{"numeric":[">=",-5e9,"<=",5e9]}]}`,                                 // the whole numeric range
		`{"a":[{"numeric":["=",-0]}]}`,                                             // negative zero
		`{"a":[{"anything-but":{"prefix":["us-","eu-"]}}]}`,                        // a list under anything-but
		`{"a":[{"anything-but":[1,2.5,3e3]}]}`,                                     // numbers in every notation
		`{"a":[{"exists":true},{"exists":false}]}`,                                 // always true, but allowed
		`{"a":[123456789012]}`,                                                     // exact numbers need not be in range
		`{"a":[1e400]}`,                                                            // nor finite
		`{"a":["x","x"]}`,                                                          // duplicates in a list
		" \n{ \"a\" : [ \"x\" ] }\t",                                               // whitespace
		`{"detail":{"$or":[{"a":{"$or":[{"b":["1"]},{"c":["2"]}]}},{"d":["3"]}]}}`, // $or in $or
	}
	for _, src := range cases {
		if _, err := Compile([]byte(src)); err != nil {
			t.Errorf("Compile(%s) = %v, want no error", src, err)
		}
	}
}

func TestErrorOffset(t *testing.T) {
	t.Parallel()
	src := `{"detail": {"eventName": [{"prefix": 5}]}}`
	_, err := Compile([]byte(src))
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Compile error = %v, want *Error", err)
	}
	if got, want := perr.Offset, strings.Index(src, "5}"); got != want {
		t.Errorf("Offset = %d, want %d (the 5)", got, want)
	}
	if perr.Loc != "detail.eventName" {
		t.Errorf("Loc = %q, want detail.eventName", perr.Loc)
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		want    [][]string
	}{
		{`{"source":["aws.ec2"]}`, [][]string{{"source"}}},
		{`{"source":["x"],"detail":{"state":["y"],"c-count":[1]},"account":["z"]}`,
			[][]string{{"account"}, {"detail", "c-count"}, {"detail", "state"}, {"source"}}},
		{`{"$or":[{"b":["x"]},{"a":["y"]},{"b":["z"]}]}`, [][]string{{"a"}, {"b"}}},
		{`{"detail":{"$or":[{"x":{"$or":[{"p":["1"]},{"q":["2"]}]}},{"y":[{"exists":false}]}]}}`,
			[][]string{{"detail", "x", "p"}, {"detail", "x", "q"}, {"detail", "y"}}},
	}
	for _, tc := range cases {
		p, err := Compile([]byte(tc.pattern))
		if err != nil {
			t.Fatalf("Compile(%s) = %v", tc.pattern, err)
		}
		got := p.Fields()
		if !slices.EqualFunc(got, tc.want, slices.Equal[[]string]) {
			t.Errorf("Fields(%s) = %q, want %q", tc.pattern, got, tc.want)
		}
		if len(got) > 0 {
			got[0][0] = "changed"
			if again := p.Fields(); again[0][0] == "changed" {
				t.Errorf("Fields shares its result with the pattern")
			}
		}
	}
}

func TestExact(t *testing.T) {
	t.Parallel()
	src := []string{"eventSource"}
	name := []string{"eventName"}
	cases := []struct {
		name    string
		pattern string
		path    []string
		want    []string
		ok      bool
	}{
		{"single", `{"eventSource":["s3.amazonaws.com"],"eventName":["GetBucketAcl"]}`, src, []string{"s3.amazonaws.com"}, true},
		{"list sorted", `{"eventSource":["s3.amazonaws.com"],"eventName":["PutBucketAcl","GetBucketAcl","PutBucketAcl"]}`, name, []string{"GetBucketAcl", "PutBucketAcl"}, true},
		{"unconstrained", `{"eventSource":["s3.amazonaws.com"]}`, name, nil, false},
		{"nested path", `{"detail":{"eventName":["A"]}}`, []string{"detail", "eventName"}, []string{"A"}, true},
		{"parent path is not the field", `{"detail":{"eventName":["A"]}}`, []string{"detail"}, nil, false},
		{"child path is not the field", `{"eventName":["A"]}`, []string{"eventName", "x"}, nil, false},
		{"prefix", `{"eventName":[{"prefix":"Get"}]}`, name, nil, false},
		{"exact and prefix", `{"eventName":["A",{"prefix":"Get"}]}`, name, nil, false},
		{"anything-but", `{"eventName":[{"anything-but":"A"}]}`, name, nil, false},
		{"ignore case", `{"eventName":[{"equals-ignore-case":"a"}]}`, name, nil, false},
		{"wildcard", `{"eventName":[{"wildcard":"A"}]}`, name, nil, false},
		{"exists", `{"eventName":["A",{"exists":false}]}`, name, nil, false},
		{"number", `{"eventName":["A",1]}`, name, nil, false},
		{"null", `{"eventName":["A",null]}`, name, nil, false},
		{"boolean", `{"eventName":[true]}`, name, nil, false},
		{"ip address", `{"sourceIPAddress":["10.0.0.1"]}`, []string{"sourceIPAddress"}, nil, false},
		{"or every branch", `{"$or":[{"eventName":["B"]},{"eventName":["A"],"x":["1"]}]}`, name, []string{"A", "B"}, true},
		{"or some branch", `{"$or":[{"eventName":["B"]},{"x":["1"]}]}`, name, nil, false},
		{"or beside", `{"eventName":["A"],"$or":[{"x":["1"]},{"y":["2"]}]}`, name, []string{"A"}, true},
		{"nested or", `{"$or":[{"eventName":["A"]},{"$or":[{"eventName":["B"]},{"eventName":["C"]}]}]}`, name, []string{"A", "B", "C"}, true},
		{"nested or gap", `{"$or":[{"eventName":["A"]},{"$or":[{"eventName":["B"]},{"z":["C"]}]}]}`, name, nil, false},
		{"or inside object", `{"detail":{"$or":[{"n":["A"]},{"n":["B"]}]}}`, []string{"detail", "n"}, []string{"A", "B"}, true},
		{"escaped", `{"eventName":["A\u0042"]}`, name, []string{"AB"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile(%s) = %v", tc.pattern, err)
			}
			got, ok := p.Exact(tc.path)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Errorf("Exact(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}
