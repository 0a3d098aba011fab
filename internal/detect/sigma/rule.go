package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one compiled Sigma detection rule. Its exported fields are the
// rule's metadata, as written; the compiled detection is unexported. A Rule
// is immutable once [Parse] returns it, so Match and Required may be called
// from several goroutines at once.
type Rule struct {
	ID, Title, Description, Status, Level, Author, Date, Modified string
	References, Tags, FalsePositives                              []string
	Logsource                                                     Logsource

	cond     expr      // the condition, compiled
	searches []*search // the search identifiers, in file order
}

// Logsource is a rule's logsource section (the three attributes the
// specification says converters evaluate; "definition" and custom keys are
// ignored).
type Logsource struct{ Product, Service, Category string }

// Match reports whether the record d satisfies the rule's condition. It
// never fails: a field that is missing, or holds a value of another type
// than the rule expects, simply does not match. A zero Rule matches
// nothing.
func (r *Rule) Match(d Doc) bool { return r.cond != nil && r.cond.eval(d) }

// Required returns the exact values (compared case-insensitively, as Sigma
// does, and returned as written in the rule) that field must take for the
// rule to match at all, and true when every way the condition can be
// satisfied constrains the field to one of those values by plain equality.
// It returns nil and false when some way of satisfying the condition leaves
// the field free or constrains it otherwise (wildcards, modifiers, "not").
// An empty list with true means the condition can never be satisfied.
//
// Vigil uses it to index rules by eventSource and eventName.
func (r *Rule) Required(field string) ([]string, bool) {
	if r.cond == nil {
		return nil, false
	}
	c := r.cond.constraint(field)
	if !c.ok {
		return nil, false
	}
	return append([]string{}, c.vals...), true
}

// Levels and statuses the specification defines.
var (
	levels   = []string{"informational", "low", "medium", "high", "critical"}
	statuses = []string{"stable", "test", "experimental", "deprecated", "unsupported"}
)

// Parse reads one Sigma rule from YAML and compiles it. name is used in
// errors, which read "name:line:col: message" (see [Error]).
//
// src holds one YAML document, or several only if they form a rule
// collection as the specification defines it (a correlation rule with the
// rules it refers to, or a Sigma 1.0 collection with "action: global");
// Vigil does not implement either, so such files give an error wrapping
// [ErrUnsupported]. So do valid rules using a feature Vigil lacks. Any
// other problem (invalid YAML, a missing title, an undefined search
// identifier in the condition...) is reported without ErrUnsupported. When a
// rule is both malformed and unsupported, the malformed error wins.
func Parse(name string, src []byte) (*Rule, error) {
	docs, err := decodeDocs(name, src)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, &Error{Name: name, Msg: "no rule: the file holds no YAML document"}
	}
	// A collection is recognised by its members, whatever their number.
	for _, d := range docs {
		root := d.Content[0]
		if root.Kind != yaml.MappingNode {
			continue
		}
		if k, _ := lookupKey(root, "correlation"); k != nil {
			return nil, unsupportedAt(name, k, "correlation rules (a correlation document and the rules it refers to)")
		}
		if k, v := lookupKey(root, "action"); k != nil {
			return nil, unsupportedAt(name, k, "Sigma 1.0 rule collections (action: %s)", scalarText(v))
		}
	}
	if len(docs) > 1 {
		return nil, errAt(name, docs[1].Content[0], "%d YAML documents that do not form a rule collection: a file holds one rule", len(docs))
	}
	return parseRule(name, docs[0].Content[0])
}

// decodeDocs returns the non-empty YAML documents of src.
func decodeDocs(name string, src []byte) (docs []*yaml.Node, err error) {
	// yaml.v3 is well fuzzed, but a panic in a dependency must not take
	// down the process reading a user's rule file.
	defer func() {
		if p := recover(); p != nil {
			docs, err = nil, &Error{Name: name, Msg: fmt.Sprintf("yaml: parser failure: %v", p)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlError(name, err)
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		if c := resolve(n.Content[0]); c.Kind == yaml.ScalarNode && c.ShortTag() == "!!null" {
			continue // an empty document, such as after a trailing "---"
		}
		docs = append(docs, &n)
	}
}

// parseRule reads the rule in the mapping root.
func parseRule(name string, root *yaml.Node) (*Rule, error) {
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		return nil, errAt(name, root, "a rule must be a YAML mapping, found %s", kindName(root))
	}
	pairs, err := mappingPairs(name, root)
	if err != nil {
		return nil, err
	}
	r := &Rule{}
	var (
		unsup                            *Error // the first unsupported feature
		titleKey, logsrcNode, detectNode *yaml.Node
		statusNode, levelNode, detectKey *yaml.Node
		stringField                      = map[string]*string{"id": &r.ID, "title": &r.Title, "description": &r.Description, "status": &r.Status, "level": &r.Level, "author": &r.Author, "date": &r.Date, "modified": &r.Modified}
		listField                        = map[string]*[]string{"references": &r.References, "tags": &r.Tags, "falsepositives": &r.FalsePositives}
		noteUnsupported                  = func(e *Error) {
			if unsup == nil {
				unsup = e
			}
		}
	)
	for _, p := range pairs {
		k, v := p.key, p.val
		if dst, ok := stringField[k.Value]; ok {
			s, err := metaString(name, k.Value, v)
			if err != nil {
				return nil, err
			}
			*dst = s
		} else if dst, ok := listField[k.Value]; ok {
			l, err := metaList(name, k.Value, v)
			if err != nil {
				return nil, err
			}
			*dst = l
		}
		switch k.Value {
		case "title":
			titleKey = k
		case "status":
			statusNode = v
		case "level":
			levelNode = v
		case "logsource":
			logsrcNode = v
		case "detection":
			detectKey, detectNode = k, v
		case "timeframe":
			noteUnsupported(unsupportedAt(name, k, "timeframe (Sigma 1.0 aggregation; use correlation rules)"))
		case "filter":
			// A Sigma filter (meta filter) document has "filter" where a
			// rule has "detection".
			if k2, _ := lookupKey(root, "detection"); k2 == nil {
				noteUnsupported(unsupportedAt(name, k, "Sigma filters (meta filters)"))
			}
		}
	}
	if titleKey == nil || strings.TrimSpace(r.Title) == "" {
		return nil, errAt(name, root, "missing title")
	}
	if statusNode != nil && !oneOf(r.Status, statuses) {
		return nil, errAt(name, statusNode, "status %q is not one of %s", r.Status, strings.Join(statuses, ", "))
	}
	if levelNode != nil && !oneOf(r.Level, levels) {
		return nil, errAt(name, levelNode, "level %q is not one of %s", r.Level, strings.Join(levels, ", "))
	}
	if logsrcNode == nil {
		if unsup != nil {
			return nil, unsup
		}
		return nil, errAt(name, root, "missing logsource")
	}
	if err := parseLogsource(name, logsrcNode, &r.Logsource); err != nil {
		return nil, err
	}
	if detectNode == nil {
		if unsup != nil {
			return nil, unsup
		}
		return nil, errAt(name, root, "missing detection")
	}
	c := &compiler{name: name}
	r.cond, r.searches, err = c.detection(detectKey, detectNode)
	if err != nil {
		return nil, err
	}
	if c.unsup != nil {
		return nil, c.unsup
	}
	if unsup != nil {
		return nil, unsup
	}
	if strings.EqualFold(r.Status, "unsupported") {
		return nil, unsupportedAt(name, statusNode, "status: unsupported (the rule says it cannot be used as it is)")
	}
	ls := r.Logsource
	if !strings.EqualFold(ls.Product, "aws") || !strings.EqualFold(ls.Service, "cloudtrail") {
		return nil, unsupportedAt(name, logsrcNode, "logsource product %q service %q category %q: Vigil reads aws/cloudtrail only", ls.Product, ls.Service, ls.Category)
	}
	return r, nil
}

func parseLogsource(name string, n *yaml.Node, ls *Logsource) error {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return errAt(name, n, "logsource must be a mapping, found %s", kindName(n))
	}
	pairs, err := mappingPairs(name, n)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		var dst *string
		switch p.key.Value {
		case "product":
			dst = &ls.Product
		case "service":
			dst = &ls.Service
		case "category":
			dst = &ls.Category
		default:
			continue // definition and custom attributes
		}
		s, err := metaString(name, "logsource."+p.key.Value, p.val)
		if err != nil {
			return err
		}
		*dst = s
	}
	return nil
}

// metaString reads a scalar metadata value.
func metaString(name, key string, n *yaml.Node) (string, error) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		return "", errAt(name, n, "%s must be a string, found %s", key, kindName(n))
	}
	if n.ShortTag() == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// metaList reads a list of strings; a single string is a list of one, as
// some older rules write falsepositives.
func metaList(name, key string, n *yaml.Node) ([]string, error) {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			s, err := metaString(name, key+" item", it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errAt(name, n, "%s must be a list of strings, found %s", key, kindName(n))
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}
