package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// params is a decoded CloudTrail requestParameters object. CloudTrail copies
// HTTP headers and XML bodies into it, so the same value can be a string, a
// one-element list (older records), an object or a list of objects (an XML
// element that occurs once or many times). Lookups here accept all of them
// and match keys without regard to case.
type params map[string]any

func decodeParams(raw []byte) (params, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var p params
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("requestParameters: %w", err)
	}
	return p, nil
}

// get returns the value at a path of keys, matching each key without regard
// to case. A list met on the way stands for its first object element.
func (p params) get(path ...string) any {
	var cur any = map[string]any(p)
	for _, k := range path {
		m, ok := asMap(cur)
		if !ok {
			return nil
		}
		cur = lookup(m, k)
		if cur == nil {
			return nil
		}
	}
	return cur
}

func lookup(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func asMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case params:
		return x, true
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				return m, true
			}
		}
	}
	return nil, false
}

// list returns v as a list: a list as is, nil as empty, anything else as a
// one-element list.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// strs returns the string values of v (a string or a list of strings),
// skipping empty ones.
func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		s := scalarString(e)
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// str returns the first non-empty string of v.
func str(v any) string {
	if s := strs(v); len(s) > 0 {
		return s[0]
	}
	return ""
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return ""
}

// flag reads a boolean written as a JSON boolean or a string.
func flag(v any) (val, ok bool) {
	switch strings.ToLower(scalarString(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// mustJSON re-encodes a decoded value; values decoded from JSON always
// encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
