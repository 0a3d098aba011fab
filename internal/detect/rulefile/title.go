package rulefile

import (
	"encoding/json"
	"slices"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// recordPaths returns the paths under .record that a title template reads
// (.record.requestParameters.roleArn gives [requestParameters roleArn]),
// so that only those values are decoded for a title, not the whole
// record. whole is true when the template uses .record itself.
func recordPaths(t *template.Template) (paths [][]string, whole bool) {
	return templatePaths(t, "record")
}

// eventKeys returns the top-level fields of .event that a title template
// reads, so that only those are made for a title; whole is true when it
// uses .event itself.
func eventKeys(t *template.Template) (keys []string, whole bool) {
	paths, whole := templatePaths(t, "event")
	for _, p := range paths {
		if !slices.Contains(keys, p[0]) {
			keys = append(keys, p[0])
		}
	}
	return keys, whole
}

// templatePaths returns the paths under .root that a template reads, and
// whether it uses .root itself.
func templatePaths(t *template.Template, root string) (paths [][]string, whole bool) {
	var walk func(n parse.Node)
	field := func(ident []string) {
		if len(ident) == 0 || ident[0] != root {
			return
		}
		if len(ident) == 1 {
			whole = true
			return
		}
		paths = append(paths, slices.Clone(ident[1:]))
	}
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			field(n.Ident)
		case *parse.VariableNode:
			if len(n.Ident) > 0 && n.Ident[0] == "$" {
				field(n.Ident[1:])
			}
		case *parse.ChainNode:
			walk(n.Node)
			if _, ok := n.Node.(*parse.DotNode); ok {
				field(n.Field)
			}
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Root)
		}
	}
	// Shorter paths first: a value decoded whole covers longer paths into it.
	slices.SortFunc(paths, func(a, b []string) int { return len(a) - len(b) })
	return paths, whole
}

// sparseRecord decodes the values at paths in a record into a tree of
// maps that a template reads as it would read the whole record decoded:
// the objects along each path are there (so a missing leaf reads as
// missing, not as a missing parent), and the value at the end of the path,
// or the first non-object on the way, is decoded whole.
func sparseRecord(raw []byte, paths [][]string) map[string]any {
	tree := map[string]any{}
	for _, p := range paths {
		v := jsonscan.SkipSpaceBytes(raw)
		m := tree
		for i, k := range p {
			member, ok := lastMember(v, k)
			if !ok {
				break // missing here, as in the whole record
			}
			if i == len(p)-1 || jsonscan.KindOf(member) != jsonscan.Object {
				if _, done := m[k]; !done {
					if val, ok := decodeJSON(member); ok {
						m[k] = val
					}
				}
				break
			}
			next, ok := m[k].(map[string]any)
			if !ok {
				if _, taken := m[k]; taken {
					break // decoded whole by a shorter path
				}
				next = map[string]any{}
				m[k] = next
			}
			m, v = next, member
		}
	}
	return tree
}

// lastMember returns the value of the member named k of the object v (the
// last, as encoding/json keeps), if v is an object that has one.
func lastMember(v []byte, k string) ([]byte, bool) {
	if jsonscan.KindOf(v) != jsonscan.Object {
		return nil, false
	}
	var last []byte
	found := false
	it := jsonscan.NewTrustedObjectIter(v)
	for it.Next() {
		if string(it.Key()) == k {
			last, found = it.Value(), true
		}
	}
	return last, found
}

// decodeJSON decodes a JSON value as json.Unmarshal into an any does,
// taking a short cut for the values titles mostly read: plain strings
// (no escapes, valid UTF-8, no control characters), booleans and null.
func decodeJSON(v []byte) (any, bool) {
	switch {
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		body := v[1 : len(v)-1]
		plain := utf8.Valid(body)
		for _, c := range body {
			if c == '\\' || c == '"' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(body), true
		}
	case string(v) == "true":
		return true, true
	case string(v) == "false":
		return false, true
	case string(v) == "null":
		return nil, true
	}
	var val any
	if json.Unmarshal(v, &val) != nil {
		return nil, false
	}
	return val, true
}
