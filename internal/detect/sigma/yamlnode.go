package sigma

import "gopkg.in/yaml.v3"

// maxAliasChain bounds how many aliases resolve follows.
const maxAliasChain = 64

// resolve follows YAML aliases to the node they name. Rules rarely use
// anchors; they are honoured, never expanded recursively, and a chain that
// does not end (or a nil node) resolves to an empty null scalar.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasChain; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode || n.Kind == 0 {
		line, col := 0, 0
		if n != nil {
			line, col = n.Line, n.Column
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line, Column: col}
	}
	return n
}

// kindName names a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return "a scalar"
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

// scalarText returns a scalar's text, or "" for anything else.
func scalarText(n *yaml.Node) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

type pair struct{ key, val *yaml.Node }

// mappingPairs returns the key/value pairs of mapping m, checking that
// keys are scalars and unique (yaml.v3 does not check duplicates when
// decoding into a Node).
func mappingPairs(name string, m *yaml.Node) ([]pair, error) {
	out := make([]pair, 0, len(m.Content)/2)
	seen := make(map[string]*yaml.Node, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errAt(name, k, "mapping keys must be strings, found %s", kindName(k))
		}
		if prev, dup := seen[k.Value]; dup {
			return nil, errAt(name, k, "duplicate key %q (first at line %d)", k.Value, prev.Line)
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	return out, nil
}

// lookupKey returns the key and value nodes of key in mapping m.
func lookupKey(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if kn := resolve(m.Content[i]); kn.Kind == yaml.ScalarNode && kn.Value == key {
			return kn, m.Content[i+1]
		}
	}
	return nil, nil
}
