package sigma

import (
	"errors"
	"strings"

	"gopkg.in/yaml.v3"
)

// compiler compiles one rule's detection section. Malformed input stops
// it at once; an unsupported feature is noted (the first one is reported)
// and compiling goes on, so that a rule that is also malformed is reported
// as such.
type compiler struct {
	name  string
	unsup *Error
}

// keep notes an unsupported-feature error and swallows it; any other error
// is returned.
func (c *compiler) keep(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Unsupported() {
		if c.unsup == nil {
			c.unsup = e
		}
		return nil
	}
	return err
}

// detection compiles the detection section: the search identifiers and the
// condition (Sigma rules specification 2.0.0, "Detection", "Condition").
func (c *compiler) detection(key, n *yaml.Node) (expr, []*search, error) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil, errAt(c.name, n, "detection must be a mapping, found %s", kindName(n))
	}
	pairs, err := mappingPairs(c.name, n)
	if err != nil {
		return nil, nil, err
	}
	var (
		condNode *yaml.Node
		searches []*search
	)
	for _, p := range pairs {
		switch p.key.Value {
		case "condition":
			condNode = p.val
			continue
		case "timeframe":
			if err := c.keep(unsupportedAt(c.name, p.key, "timeframe (Sigma 1.0 aggregation; use correlation rules)")); err != nil {
				return nil, nil, err
			}
			continue
		}
		s, err := c.search(p.key, p.val)
		if err := c.keep(err); err != nil {
			return nil, nil, err
		}
		if s == nil { // unsupported: keep the name so the condition resolves
			s = &search{name: p.key.Value}
		}
		searches = append(searches, s)
	}
	if condNode == nil {
		return nil, nil, errAt(c.name, key, "detection has no condition")
	}
	if len(searches) == 0 {
		return nil, nil, errAt(c.name, key, "detection has no search identifier")
	}
	cond, err := c.condition(condNode, searches)
	if err := c.keep(err); err != nil {
		return nil, nil, err
	}
	return cond, searches, nil
}

// search compiles one search identifier: a map (AND of its items), a list
// of maps (OR), or a list of plain values (keywords, OR); a list may mix
// maps and plain values, each being one alternative.
func (c *compiler) search(key, n *yaml.Node) (*search, error) {
	s := &search{name: key.Value}
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		conj, err := c.mapItems(n)
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, conj)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, errAt(c.name, n, "search identifier %q is an empty list", key.Value)
		}
		var keywords []*yaml.Node
		for _, el := range n.Content {
			el = resolve(el)
			switch el.Kind {
			case yaml.MappingNode:
				conj, err := c.mapItems(el)
				if err != nil {
					return nil, err
				}
				s.alts = append(s.alts, conj)
			case yaml.ScalarNode:
				keywords = append(keywords, el)
			default:
				return nil, errAt(c.name, el, "search identifier %q: a list holds maps or plain values, found %s", key.Value, kindName(el))
			}
		}
		if len(keywords) > 0 {
			it, err := c.keyword(key, nil, keywords)
			if err != nil {
				return nil, err
			}
			s.alts = append(s.alts, []item{it})
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, errAt(c.name, key, "search identifier %q is empty", key.Value)
		}
		it, err := c.keyword(key, nil, []*yaml.Node{n})
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, []item{it})
	default:
		return nil, errAt(c.name, n, "search identifier %q must be a map or a list, found %s", key.Value, kindName(n))
	}
	return s, nil
}

// mapItems compiles a map of "field|modifiers: values": an AND.
func (c *compiler) mapItems(m *yaml.Node) ([]item, error) {
	pairs, err := mappingPairs(c.name, m)
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, errAt(c.name, m, "empty map in a search identifier")
	}
	var (
		items []item
		unsup bool
	)
	for _, p := range pairs {
		it, err := c.item(p.key, p.val)
		if err != nil {
			if err := c.keep(err); err != nil {
				return nil, err
			}
			unsup = true
			continue
		}
		items = append(items, it)
	}
	if unsup {
		return nil, c.unsup
	}
	return items, nil
}

// item compiles one "field|modifiers: values" entry. An empty field name
// ("|all": [...]) is a keyword list with modifiers.
func (c *compiler) item(key, val *yaml.Node) (item, error) {
	parts := strings.Split(key.Value, "|")
	field, mods := parts[0], parts[1:]
	vals, err := c.valueNodes(key, val)
	if err != nil {
		return nil, err
	}
	if field == "" {
		return c.keyword(key, mods, vals)
	}
	path := strings.Split(field, ".")
	for _, step := range path {
		if step == "" {
			return nil, errAt(c.name, key, "field name %q has an empty step", field)
		}
	}
	return c.fieldItem(key, field, path, mods, vals)
}

// valueNodes returns the values of an item: one scalar, or a list of them.
func (c *compiler) valueNodes(key, val *yaml.Node) ([]*yaml.Node, error) {
	v := resolve(val)
	switch v.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{v}, nil
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, errAt(c.name, v, "%q has an empty list of values", key.Value)
		}
		out := make([]*yaml.Node, len(v.Content))
		for i, el := range v.Content {
			el = resolve(el)
			if el.Kind != yaml.ScalarNode {
				return nil, errAt(c.name, el, "%q: values must be strings, numbers, booleans or null, found %s", key.Value, kindName(el))
			}
			out[i] = el
		}
		return out, nil
	}
	return nil, errAt(c.name, v, "%q: the value must be a string, number, boolean, null or a list of them, found %s", key.Value, kindName(v))
}
