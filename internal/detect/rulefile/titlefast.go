package rulefile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// A rule's title is a text/template over the event, the record and the
// configuration, rendered for every alert. text/template reaches values
// by reflection over maps that must be built first (the event's fields,
// the record's values decoded), which costs more than the rest of the
// alert. titleProg renders the templates the catalogue writes (fields,
// if, with, range, and the functions eq, ne, or, and, not, len, printf
// "%v", default, join, lower, upper, base) straight from the event and
// the record's view (the one the rules' expressions read, indexed once
// per event), with text/template's semantics for the values
// it meets: strings, numbers, booleans, null and missing values, objects
// and arrays of the record, and the event's fields. Anything else (a
// value of another kind, a template error) makes it give up on that
// alert, errSlowTitle, and the caller renders with text/template, so the
// output is text/template's in every case. TestFastTitlesAgree holds the
// two to the same text.
type titleProg struct {
	root tnode
}

var errSlowTitle = errors.New("title needs text/template")

// tkind is the kind of a template value.
type tkind uint8

const (
	tMissing tkind = iota // a key the map lacks (text/template: no value)
	tNil                  // JSON null, or a nil field
	tStr
	tNum // a JSON number: float64, as encoding/json decodes it
	tInt // an int: a template constant, len
	tBool
	tObj // a record object: its view
	tArr // a record array, raw
	tGo  // a value of the event's fields (event.Field): maps, lists, times...
	tRoot
)

type tval struct {
	k   tkind
	s   string
	f   float64
	i   int
	b   bool
	raw []byte      // tArr
	obj *jsonObject // tObj: the record's view that CEL conditions share
	g   any
}

// tenv is one rendering: the event and record, the variables in scope.
type tenv struct {
	ev   *event.Event
	rec  *jsonObject // the record's view, or nil
	cfg  map[string]any
	vars []tvar
	out  strings.Builder
}

type tvar struct {
	name string
	v    tval
}

type tnode func(e *tenv, dot tval) error

// compileTitle compiles t, or returns nil when it uses what titleProg
// does not render.
func compileTitle(t *template.Template) *titleProg {
	if t.Tree == nil || len(t.Templates()) != 1 {
		return nil
	}
	root := compileTNode(t.Root)
	if root == nil {
		return nil
	}
	return &titleProg{root: root}
}

// render renders the title of ev, or returns errSlowTitle.
func (p *titleProg) render(ev *event.Event, cfg map[string]any) (string, error) {
	e := &tenv{ev: ev, cfg: cfg}
	if ev.Kind != event.KindFlowLog {
		// The record's view, indexed once and shared with the rules'
		// expressions (vars.record).
		if o, ok := ev.Memo(recordViewKey, func() any { return recordObject(ev) }).(*jsonObject); ok {
			e.rec = o
		}
	}
	e.vars = append(e.vars, tvar{"$", tval{k: tRoot}})
	e.out.Grow(96) // most titles, in one allocation
	if err := p.root(e, tval{k: tRoot}); err != nil {
		return "", err
	}
	return e.out.String(), nil
}

func compileTNode(n parse.Node) tnode {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return func(*tenv, tval) error { return nil }
		}
		var list []tnode
		for _, c := range n.Nodes {
			f := compileTNode(c)
			if f == nil {
				return nil
			}
			list = append(list, f)
		}
		return func(e *tenv, dot tval) error {
			for _, f := range list {
				if err := f(e, dot); err != nil {
					return err
				}
			}
			return nil
		}
	case *parse.TextNode:
		text := string(n.Text)
		return func(e *tenv, _ tval) error {
			e.out.WriteString(text)
			return nil
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 {
			return nil
		}
		pipe := compilePipe(n.Pipe)
		if pipe == nil {
			return nil
		}
		return func(e *tenv, dot tval) error {
			v, err := pipe(e, dot)
			if err != nil {
				return err
			}
			return e.print(v)
		}
	case *parse.IfNode:
		return compileBranch(&n.BranchNode, false)
	case *parse.WithNode:
		return compileBranch(&n.BranchNode, true)
	case *parse.RangeNode:
		return compileRange(n)
	}
	return nil
}

func compileBranch(n *parse.BranchNode, with bool) tnode {
	if len(n.Pipe.Decl) > 0 {
		return nil
	}
	pipe := compilePipe(n.Pipe)
	list := compileTNode(n.List)
	var elseList tnode = func(*tenv, tval) error { return nil }
	if n.ElseList != nil {
		elseList = compileTNode(n.ElseList)
	}
	if pipe == nil || list == nil || elseList == nil {
		return nil
	}
	return func(e *tenv, dot tval) error {
		v, err := pipe(e, dot)
		if err != nil {
			return err
		}
		truth, err := e.truth(v)
		if err != nil {
			return err
		}
		if !truth {
			return elseList(e, dot)
		}
		if with {
			return list(e, v)
		}
		return list(e, dot)
	}
}

func compileRange(n *parse.RangeNode) tnode {
	decl := n.Pipe.Decl
	if len(decl) > 2 || n.Pipe.IsAssign {
		return nil
	}
	var names []string
	for _, d := range decl {
		if len(d.Ident) != 1 {
			return nil
		}
		names = append(names, d.Ident[0])
	}
	pipe := compilePipe(&parse.PipeNode{NodeType: parse.NodePipe, Cmds: n.Pipe.Cmds})
	list := compileTNode(n.List)
	var elseList tnode = func(*tenv, tval) error { return nil }
	if n.ElseList != nil {
		elseList = compileTNode(n.ElseList)
	}
	if pipe == nil || list == nil || elseList == nil || hasBreakOrContinue(n.List) {
		return nil
	}
	return func(e *tenv, dot tval) error {
		v, err := pipe(e, dot)
		if err != nil {
			return err
		}
		var elems [][]byte
		switch v.k {
		case tMissing, tNil:
		case tArr:
			it := jsonscan.NewTrustedArrayIter(v.raw)
			for it.Next() {
				elems = append(elems, it.Value())
			}
		default:
			return errSlowTitle
		}
		if len(elems) == 0 {
			return elseList(e, dot)
		}
		mark := len(e.vars)
		for i, raw := range elems {
			ev, err := rawVal(raw)
			if err != nil {
				return err
			}
			e.vars = e.vars[:mark]
			switch len(names) {
			case 1:
				e.vars = append(e.vars, tvar{names[0], ev})
			case 2:
				e.vars = append(e.vars, tvar{names[0], tval{k: tInt, i: i}}, tvar{names[1], ev})
			}
			if err := list(e, ev); err != nil {
				return err
			}
		}
		e.vars = e.vars[:mark]
		return nil
	}
}

func hasBreakOrContinue(n parse.Node) bool {
	found := false
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.BreakNode, *parse.ContinueNode:
			found = true
		case *parse.IfNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(n)
	return found
}

type texpr func(e *tenv, dot tval) (tval, error)

// compilePipe compiles a pipeline of one command.
func compilePipe(p *parse.PipeNode) texpr {
	if p == nil || len(p.Cmds) != 1 || len(p.Decl) > 0 {
		return nil
	}
	return compileCmd(p.Cmds[0])
}

func compileCmd(c *parse.CommandNode) texpr {
	if len(c.Args) == 0 {
		return nil
	}
	if id, ok := c.Args[0].(*parse.IdentifierNode); ok {
		return compileCall(id.Ident, c.Args[1:])
	}
	if len(c.Args) != 1 {
		return nil
	}
	return compileArg(c.Args[0])
}

func compileArg(n parse.Node) texpr {
	switch n := n.(type) {
	case *parse.FieldNode:
		path := n.Ident
		return func(e *tenv, dot tval) (tval, error) { return e.fields(dot, path) }
	case *parse.VariableNode:
		name, path := n.Ident[0], n.Ident[1:]
		return func(e *tenv, _ tval) (tval, error) {
			for i := len(e.vars) - 1; i >= 0; i-- {
				if e.vars[i].name == name {
					return e.fields(e.vars[i].v, path)
				}
			}
			return tval{}, errSlowTitle
		}
	case *parse.DotNode:
		return func(_ *tenv, dot tval) (tval, error) { return dot, nil }
	case *parse.StringNode:
		v := tval{k: tStr, s: n.Text}
		return func(*tenv, tval) (tval, error) { return v, nil }
	case *parse.NumberNode:
		if !n.IsInt {
			return nil
		}
		v := tval{k: tInt, i: int(n.Int64)}
		return func(*tenv, tval) (tval, error) { return v, nil }
	case *parse.BoolNode:
		v := tval{k: tBool, b: n.True}
		return func(*tenv, tval) (tval, error) { return v, nil }
	case *parse.PipeNode:
		return compilePipe(n)
	}
	return nil
}

func compileCall(name string, argNodes []parse.Node) texpr {
	var args []texpr
	for _, a := range argNodes {
		f := compileArg(a)
		if f == nil {
			return nil
		}
		args = append(args, f)
	}
	all := func(e *tenv, dot tval) ([]tval, error) {
		vals := make([]tval, len(args))
		for i, a := range args {
			v, err := a(e, dot)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		return vals, nil
	}
	switch name {
	case "eq", "ne":
		if len(args) < 2 || (name == "ne" && len(args) != 2) {
			return nil
		}
		return func(e *tenv, dot tval) (tval, error) {
			vals, err := all(e, dot)
			if err != nil {
				return tval{}, err
			}
			for _, v := range vals[1:] {
				eq, err := equal(vals[0], v)
				if err != nil {
					return tval{}, err
				}
				if eq {
					return tval{k: tBool, b: name == "eq"}, nil
				}
			}
			return tval{k: tBool, b: name == "ne"}, nil
		}
	case "or", "and":
		if len(args) == 0 {
			return nil
		}
		return func(e *tenv, dot tval) (tval, error) {
			var v tval
			for _, a := range args {
				var err error
				if v, err = a(e, dot); err != nil {
					return tval{}, err
				}
				truth, err := e.truth(v)
				if err != nil {
					return tval{}, err
				}
				if truth == (name == "or") {
					return v, nil
				}
			}
			return v, nil
		}
	case "not":
		if len(args) != 1 {
			return nil
		}
		return unary(args[0], func(e *tenv, v tval) (tval, error) {
			truth, err := e.truth(v)
			return tval{k: tBool, b: !truth}, err
		})
	case "len":
		if len(args) != 1 {
			return nil
		}
		return unary(args[0], func(e *tenv, v tval) (tval, error) {
			switch v.k {
			case tStr:
				return tval{k: tInt, i: len(v.s)}, nil
			case tArr:
				n := 0
				for it := jsonscan.NewTrustedArrayIter(v.raw); it.Next(); {
					n++
				}
				return tval{k: tInt, i: n}, nil
			}
			return tval{}, errSlowTitle
		})
	case "printf":
		if len(argNodes) != 2 {
			return nil
		}
		if f, ok := argNodes[0].(*parse.StringNode); !ok || f.Text != "%v" {
			return nil
		}
		return func(e *tenv, dot tval) (tval, error) {
			v, err := args[1](e, dot)
			if err != nil {
				return tval{}, err
			}
			g, err := v.iface()
			if err != nil {
				return tval{}, err
			}
			return tval{k: tStr, s: fmt.Sprintf("%v", g)}, nil
		}
	case "hasPrefix", "hasSuffix", "trimPrefix":
		if len(args) != 2 {
			return nil
		}
		fn := templateFuncs[name]
		return func(e *tenv, dot tval) (tval, error) {
			vals, err := all(e, dot)
			if err != nil {
				return tval{}, err
			}
			a, err := vals[0].iface()
			if err != nil {
				return tval{}, err
			}
			b, err := vals[1].iface()
			if err != nil {
				return tval{}, err
			}
			switch f := fn.(type) {
			case func(any, any) bool:
				return tval{k: tBool, b: f(a, b)}, nil
			case func(any, any) string:
				return tval{k: tStr, s: f(a, b)}, nil
			}
			return tval{}, errSlowTitle
		}
	case "index":
		// index of a record list by a number; anything else (maps, several
		// indexes, out of range) is text/template's to do or refuse.
		if len(args) != 2 {
			return nil
		}
		return func(e *tenv, dot tval) (tval, error) {
			vals, err := all(e, dot)
			if err != nil {
				return tval{}, err
			}
			if vals[0].k != tArr || vals[1].k != tInt || vals[1].i < 0 {
				return tval{}, errSlowTitle
			}
			n := 0
			for it := jsonscan.NewTrustedArrayIter(vals[0].raw); it.Next(); n++ {
				if n == vals[1].i {
					return rawVal(it.Value())
				}
			}
			return tval{}, errSlowTitle
		}
	case "default", "join", "lower", "upper", "base":
		fn := templateFuncs[name]
		return func(e *tenv, dot tval) (tval, error) {
			vals, err := all(e, dot)
			if err != nil {
				return tval{}, err
			}
			var out string
			switch f := fn.(type) {
			case func(string, any) string: // default, join
				if len(vals) != 2 || vals[0].k != tStr {
					return tval{}, errSlowTitle
				}
				var g any
				if name == "join" && vals[1].k == tArr {
					// join reads a list's elements: decode them.
					var l []any
					for it := jsonscan.NewTrustedArrayIter(vals[1].raw); it.Next(); {
						ev, err := rawVal(it.Value())
						if err != nil {
							return tval{}, err
						}
						el, err := ev.iface()
						if err != nil {
							return tval{}, err
						}
						l = append(l, el)
					}
					g = l
				} else if g, err = vals[1].iface(); err != nil {
					return tval{}, err
				}
				out = f(vals[0].s, g)
			case func(string) string: // lower, upper
				if len(vals) != 1 || vals[0].k != tStr {
					return tval{}, errSlowTitle
				}
				out = f(vals[0].s)
			case func(any) string: // base
				if len(vals) != 1 {
					return tval{}, errSlowTitle
				}
				g, err := vals[0].iface()
				if err != nil {
					return tval{}, err
				}
				out = f(g)
			default:
				return tval{}, errSlowTitle
			}
			return tval{k: tStr, s: out}, nil
		}
	}
	return nil
}

// unary makes a function of one argument's value.
func unary(arg texpr, f func(e *tenv, v tval) (tval, error)) texpr {
	return func(e *tenv, dot tval) (tval, error) {
		v, err := arg(e, dot)
		if err != nil {
			return tval{}, err
		}
		return f(e, v)
	}
}

// fields follows a chain of field names from v, as text/template does on
// maps with missingkey=zero: a key the map lacks is a missing value, and
// going on from a missing, null or non-map value is a template error
// (for which text/template has the last word).
func (e *tenv) fields(v tval, path []string) (tval, error) {
	for _, name := range path {
		switch v.k {
		case tRoot:
			switch name {
			case "event":
				v = tval{k: tGo, g: eventRoot{}}
			case "record":
				if e.rec == nil {
					return tval{}, errSlowTitle
				}
				v = tval{k: tObj, obj: e.rec}
			case "config":
				v = tval{k: tGo, g: e.cfg}
			default:
				v = tval{k: tMissing}
			}
		case tObj:
			val, raw, ok := v.obj.lastValue(name)
			if !ok {
				v = tval{k: tMissing}
				continue
			}
			if o, ok := val.(*jsonObject); ok {
				v = tval{k: tObj, obj: o}
				continue
			}
			var err error
			if v, err = rawVal(raw); err != nil {
				return tval{}, err
			}
		case tGo:
			switch g := v.g.(type) {
			case eventRoot:
				if name == "actor" {
					v = tval{k: tGo, g: actorRoot{}} // always there
					continue
				}
				f, ok := e.ev.Field(name)
				if !ok {
					v = tval{k: tMissing}
					continue
				}
				v = goVal(f)
			case actorRoot:
				f, ok := e.ev.Actor.Field(name)
				if !ok {
					v = tval{k: tMissing}
					continue
				}
				v = goVal(f)
			case map[string]any:
				f, ok := g[name]
				if !ok {
					v = tval{k: tMissing}
					continue
				}
				v = goVal(f)
			default:
				return tval{}, errSlowTitle
			}
		default:
			return tval{}, errSlowTitle
		}
	}
	return v, nil
}

// eventRoot stands for .event, and actorRoot for .event.actor: their
// fields are made as they are read.
type (
	eventRoot struct{}
	actorRoot struct{}
)

// rawVal is a record value: scalars decoded as encoding/json decodes them,
// objects and arrays kept raw.
func rawVal(raw []byte) (tval, error) {
	switch jsonscan.KindOf(raw) {
	case jsonscan.Object:
		return tval{k: tObj, obj: &jsonObject{raw: raw}}, nil
	case jsonscan.Array:
		return tval{k: tArr, raw: raw}, nil
	}
	g, ok := decodeJSON(raw)
	if !ok {
		return tval{}, errSlowTitle
	}
	return goVal(g), nil
}

func goVal(g any) tval {
	switch g := g.(type) {
	case nil:
		return tval{k: tNil}
	case string:
		return tval{k: tStr, s: g}
	case float64:
		return tval{k: tNum, f: g}
	case bool:
		return tval{k: tBool, b: g}
	case int:
		return tval{k: tInt, i: g}
	case int64: // flow-log numbers; text/template treats every int kind alike
		return tval{k: tInt, i: int(g)}
	case int32:
		return tval{k: tInt, i: int(g)}
	}
	return tval{k: tGo, g: g}
}

// iface is v as a function argument of type any receives it.
func (v tval) iface() (any, error) {
	switch v.k {
	case tMissing, tNil:
		return nil, nil
	case tStr:
		return v.s, nil
	case tNum:
		return v.f, nil
	case tInt:
		return v.i, nil
	case tBool:
		return v.b, nil
	case tGo:
		switch v.g.(type) {
		case eventRoot, actorRoot:
			return nil, errSlowTitle
		}
		return v.g, nil
	}
	return nil, errSlowTitle // a record object or array: decoded maps
}

// print writes v as text/template prints a pipeline's value.
func (e *tenv) print(v tval) error {
	switch v.k {
	case tMissing, tNil:
		e.out.WriteString("<no value>")
	case tStr:
		e.out.WriteString(v.s)
	case tNum:
		fmt.Fprint(&e.out, v.f)
	case tInt:
		e.out.WriteString(strconv.Itoa(v.i))
	case tBool:
		e.out.WriteString(strconv.FormatBool(v.b))
	case tGo:
		switch g := v.g.(type) {
		case time.Time:
			fmt.Fprint(&e.out, g)
		default:
			return errSlowTitle
		}
	default:
		return errSlowTitle
	}
	return nil
}

// truth is text/template's truth of v.
func (e *tenv) truth(v tval) (bool, error) {
	switch v.k {
	case tMissing, tNil:
		return false, nil
	case tStr:
		return v.s != "", nil
	case tNum:
		return v.f != 0, nil
	case tInt:
		return v.i != 0, nil
	case tBool:
		return v.b, nil
	case tObj:
		return !v.obj.empty(), nil
	case tArr:
		it := jsonscan.NewTrustedArrayIter(v.raw)
		return it.Next(), nil
	case tGo:
		switch g := v.g.(type) {
		case map[string]any:
			return len(g) > 0, nil
		case []any:
			return len(g) > 0, nil
		case time.Time:
			return true, nil // a struct
		}
	}
	return false, errSlowTitle
}

// equal is text/template's eq of two values of the basic kinds: values
// of different kinds are an error unless one is missing or null.
func equal(a, b tval) (bool, error) {
	invalid := func(v tval) bool { return v.k == tMissing || v.k == tNil }
	switch {
	case invalid(a) && invalid(b):
		return false, errSlowTitle // let text/template decide
	case invalid(a) || invalid(b):
		return false, nil
	case a.k != b.k:
		return false, errSlowTitle
	}
	switch a.k {
	case tStr:
		return a.s == b.s, nil
	case tNum:
		return a.f == b.f, nil
	case tInt:
		return a.i == b.i, nil
	case tBool:
		return a.b == b.b, nil
	}
	return false, errSlowTitle
}
