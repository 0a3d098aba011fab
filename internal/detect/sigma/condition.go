package sigma

import (
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// expr is a compiled condition.
type expr interface {
	eval(d Doc) bool
	// constraint tells what the expression requires of field (Required).
	constraint(field string) constraint
}

type orExpr []expr

func (e orExpr) eval(d Doc) bool {
	for _, x := range e {
		if x.eval(d) {
			return true
		}
	}
	return false
}

type andExpr []expr

func (e andExpr) eval(d Doc) bool {
	for _, x := range e {
		if !x.eval(d) {
			return false
		}
	}
	return true
}

type notExpr struct{ x expr }

func (e notExpr) eval(d Doc) bool { return !e.x.eval(d) }

type searchExpr struct{ s *search }

func (e searchExpr) eval(d Doc) bool { return e.s.eval(d) }

// ofExpr is "N of pattern", "all of pattern", "1 of them"...: at least n
// of the searches hold; n == 0 means all of them.
type ofExpr struct {
	n        int
	searches []*search
}

func (e ofExpr) eval(d Doc) bool {
	need := e.n
	if need == 0 {
		need = len(e.searches)
	}
	for i, s := range e.searches {
		if s.eval(d) {
			need--
			if need == 0 {
				return true
			}
		} else if e.n == 0 || len(e.searches)-i-1 < need {
			return false
		}
	}
	return need <= 0
}

// maxCondDepth bounds the nesting of parentheses and "not" in a condition.
const maxCondDepth = 100

// condition compiles the condition (Sigma rules specification 2.0.0,
// "Condition"): a string, or a list of strings linked with OR.
func (c *compiler) condition(n *yaml.Node, searches []*search) (expr, error) {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" || strings.TrimSpace(n.Value) == "" {
			return nil, errAt(c.name, n, "empty condition")
		}
		return c.parseCondition(n, n.Value, searches)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, errAt(c.name, n, "empty condition list")
		}
		var out orExpr
		for _, el := range n.Content {
			el = resolve(el)
			if el.Kind != yaml.ScalarNode || el.ShortTag() == "!!null" {
				return nil, errAt(c.name, el, "a condition list holds strings, found %s", kindName(el))
			}
			x, err := c.parseCondition(el, el.Value, searches)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		if len(out) == 1 {
			return out[0], nil
		}
		return out, nil
	}
	return nil, errAt(c.name, n, "condition must be a string or a list of strings, found %s", kindName(n))
}

type ctokKind uint8

const (
	cEOF ctokKind = iota
	cWord
	cLParen
	cRParen
	cPipe
)

type ctok struct {
	kind ctokKind
	text string
	pos  int // byte offset in the condition
}

// condParser is a recursive-descent parser for the condition grammar:
//
//	expr    = and { "or" and }
//	and     = not { "and" not }
//	not     = "not" not | primary
//	primary = "(" expr ")" | quant | identifier
//	quant   = ( number | "all" ) "of" ( pattern | "them" )
//
// giving the specified precedence, least binding first: or, and, not,
// "x of", parentheses. Keywords are matched in any letter case.
type condParser struct {
	c        *compiler
	node     *yaml.Node
	src      string
	toks     []ctok
	i        int
	depth    int
	searches []*search
}

func (c *compiler) parseCondition(n *yaml.Node, src string, searches []*search) (expr, error) {
	p := &condParser{c: c, node: n, src: src, searches: searches}
	p.lex()
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != cEOF {
		if t.kind == cPipe {
			return nil, p.unsupported(t, "aggregation in the condition (Sigma 1.0 \"| count()\" syntax; use correlation rules)")
		}
		return nil, p.errorf(t, "unexpected %q", t.text)
	}
	return x, nil
}

func (p *condParser) lex() {
	s := p.src
	for i := 0; i < len(s); {
		r := rune(s[i])
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i++
		case r == '(':
			p.toks = append(p.toks, ctok{cLParen, "(", i})
			i++
		case r == ')':
			p.toks = append(p.toks, ctok{cRParen, ")", i})
			i++
		case r == '|':
			p.toks = append(p.toks, ctok{cPipe, "|", i})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			p.toks = append(p.toks, ctok{cWord, s[i:j], i})
			i = j
		}
	}
	p.toks = append(p.toks, ctok{cEOF, "end of condition", len(s)})
}

func (p *condParser) peek() ctok { return p.toks[p.i] }

func (p *condParser) next() ctok {
	t := p.toks[p.i]
	if t.kind != cEOF {
		p.i++
	}
	return t
}

func isWord(t ctok, w string) bool { return t.kind == cWord && strings.EqualFold(t.text, w) }

// pos maps an offset of the condition to a line and column of the file.
// Plain and quoted one-line scalars map exactly; block scalars map to the
// scalar's start.
func (p *condParser) at(off int) *yaml.Node {
	n := &yaml.Node{Line: p.node.Line, Column: p.node.Column}
	switch p.node.Style {
	case 0, yaml.FlowStyle:
		n.Column += off
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		n.Column += off + 1
	}
	if strings.Contains(p.src, "\n") {
		n.Column = p.node.Column
	}
	return n
}

func (p *condParser) errorf(t ctok, format string, args ...any) error {
	return errAt(p.c.name, p.at(t.pos), "condition: "+format, args...)
}

func (p *condParser) unsupported(t ctok, format string, args ...any) error {
	return unsupportedAt(p.c.name, p.at(t.pos), "condition: "+format, args...)
}

func (p *condParser) expr() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCondDepth {
		return nil, p.errorf(p.peek(), "nested too deeply")
	}
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	out := orExpr{x}
	for isWord(p.peek(), "or") {
		p.next()
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		out = append(out, y)
	}
	if len(out) == 1 {
		return x, nil
	}
	return out, nil
}

func (p *condParser) and() (expr, error) {
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	out := andExpr{x}
	for isWord(p.peek(), "and") {
		p.next()
		y, err := p.not()
		if err != nil {
			return nil, err
		}
		out = append(out, y)
	}
	if len(out) == 1 {
		return x, nil
	}
	return out, nil
}

func (p *condParser) not() (expr, error) {
	if isWord(p.peek(), "not") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxCondDepth {
			return nil, p.errorf(p.peek(), "nested too deeply")
		}
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case cLParen:
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != cRParen {
			return nil, p.errorf(r, "expected \")\" to close the one at column %d, found %q", p.at(t.pos).Column, r.text)
		}
		return x, nil
	case cWord:
	case cPipe:
		return nil, p.unsupported(t, "aggregation in the condition (Sigma 1.0 \"| count()\" syntax; use correlation rules)")
	default:
		return nil, p.errorf(t, "expected a search identifier, \"not\", \"(\" or \"1 of\"/\"all of\", found %q", t.text)
	}
	for _, kw := range []string{"and", "or", "of", "them"} {
		if isWord(t, kw) {
			return nil, p.errorf(t, "expected a search identifier, found %q", t.text)
		}
	}
	if isWord(t, "near") {
		return nil, p.unsupported(t, "the near operator (Sigma 1.0 aggregation)")
	}
	if isWord(p.peek(), "of") {
		return p.quantifier(t)
	}
	if isWord(t, "all") || isNumber(t.text) {
		return nil, p.errorf(p.peek(), "expected \"of\" after %q", t.text)
	}
	if strings.Contains(t.text, "*") {
		return nil, p.errorf(t, "wildcard %q is allowed only after \"1 of\" or \"all of\"", t.text)
	}
	for _, s := range p.searches {
		if s.name == t.text {
			return searchExpr{s}, nil
		}
	}
	return nil, p.errorf(t, "undefined search identifier %q", t.text)
}

// quantifier compiles "N of X" and "all of X", t being N or "all".
func (p *condParser) quantifier(t ctok) (expr, error) {
	n := 0
	if !isWord(t, "all") {
		v, err := strconv.Atoi(t.text)
		if err != nil || v < 1 || !isNumber(t.text) {
			return nil, p.errorf(t, "expected a positive number or \"all\" before \"of\", found %q", t.text)
		}
		n = v
	}
	p.next() // of
	target := p.next()
	if target.kind != cWord {
		return nil, p.errorf(target, "expected a search identifier pattern or \"them\" after \"of\", found %q", target.text)
	}
	var matched []*search
	if isWord(target, "them") {
		// All search identifiers except those starting with an underscore.
		for _, s := range p.searches {
			if !strings.HasPrefix(s.name, "_") {
				matched = append(matched, s)
			}
		}
	} else {
		g := compileGlob(parsePattern(target.text), true)
		for _, s := range p.searches {
			if g.match(s.name) {
				matched = append(matched, s)
			}
		}
	}
	if len(matched) == 0 {
		return nil, p.errorf(target, "%q matches no search identifier", target.text)
	}
	if n > len(matched) {
		return nil, p.errorf(t, "%d of %q can never hold: it matches %d search identifiers", n, target.text, len(matched))
	}
	return ofExpr{n: n, searches: matched}, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsDigit(r) || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}
