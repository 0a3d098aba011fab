package rulefile

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"

	"github.com/vigil-sec/vigil/internal/config"
)

// Rule expressions are mostly comparisons joined by && and ||
// (has(event.error_code), event.actor.type != "AWSService", event.source_ip
// in [...]), with here and there a comprehension over a list in the record
// (ipPermissions.items.exists(p, ...)). cel-go's interpreter spends most
// of its time on such expressions resolving attributes through its general
// machinery, and a scan evaluates them for every event of every rule's
// call. fastExpr evaluates that subset of CEL directly over the same values
// (the lazy event and record views), with CEL's own semantics: the values'
// CEL methods (Equal, Contains, Add, Compare, Get) do the work, errors
// propagate as CEL's do, && and || absorb errors the way CEL's commutative
// operators do, and comprehensions fold as cel-go folds them, within a
// step budget (maxFastSteps) in place of cel-go's cost limit. Expressions
// outside the subset run on cel-go. TestFastExprAgreesWithCEL holds the two
// to the same answers on every catalogue expression and many awkward ones.
type fastExpr func(v *vars) ref.Val

// fastProgram is a cel.Program that takes the fast path when it has one
// and its input is a rule's vars.
type fastProgram struct {
	fast fastExpr
	plan func() (cel.Program, error) // cel-go's program, for other inputs
}

// Eval implements cel.Program.
func (p *fastProgram) Eval(input any) (ref.Val, *cel.EvalDetails, error) {
	if v, ok := input.(*vars); ok {
		out := p.fast(v)
		if e, ok := out.(*types.Err); ok {
			return out, nil, e
		}
		return out, nil, nil
	}
	prg, err := p.plan()
	if err != nil {
		return nil, nil, err
	}
	return prg.Eval(input)
}

// ConcurrentEval implements cel.Program, on cel-go (rules do not use it).
func (p *fastProgram) ConcurrentEval(ctx context.Context, input any) <-chan cel.EvalResult {
	prg, err := p.plan()
	if err != nil {
		ch := make(chan cel.EvalResult, 1)
		ch <- cel.EvalResult{Err: err}
		close(ch)
		return ch
	}
	return prg.ConcurrentEval(ctx, input)
}

// ContextEval implements cel.Program.
func (p *fastProgram) ContextEval(ctx context.Context, input any) (ref.Val, *cel.EvalDetails, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return p.Eval(input)
}

// compileFast returns the fast evaluation of a checked expression, or nil
// when the expression is outside the subset.
func compileFast(a *cel.Ast) fastExpr {
	var c fastCompiler
	f := c.node(a.NativeRep().Expr())
	if f == nil || c.slots == 0 {
		return f
	}
	// An expression with comprehensions keeps its variables in a frame of
	// its own, made for each evaluation: vars are shared by the rules
	// evaluating an event.
	slots := c.slots
	return func(v *vars) ref.Val {
		fv := *v
		fv.locals = make([]ref.Val, slots)
		fv.steps = new(int)
		return f(&fv)
	}
}

// fastCompiler compiles an expression, keeping the scope of the
// comprehension variables at each point: a variable is a slot of the
// evaluation's frame (vars.locals).
type fastCompiler struct {
	scope []string // the variables in scope, innermost last; a name's slot is its index
	slots int      // the most variables in scope at once
}

func (c *fastCompiler) push(name string) int {
	c.scope = append(c.scope, name)
	c.slots = max(c.slots, len(c.scope))
	return len(c.scope) - 1
}

func (c *fastCompiler) pop() { c.scope = c.scope[:len(c.scope)-1] }

// maxFastSteps bounds the comprehension steps of one evaluation, as
// celCostLimit bounds cel-go's: a comprehension nested in another over
// hostile input could otherwise take quadratic time.
const maxFastSteps = celCostLimit / 10

var errFastCost = types.NewErr("operation cancelled: actual cost limit exceeded")

func (c *fastCompiler) node(e celast.Expr) fastExpr {
	switch e.Kind() {
	case celast.LiteralKind:
		lit := e.AsLiteral()
		return func(*vars) ref.Val { return lit }
	case celast.IdentKind:
		for i := len(c.scope) - 1; i >= 0; i-- {
			if c.scope[i] == e.AsIdent() { // the innermost of the name
				return func(v *vars) ref.Val { return v.locals[i] }
			}
		}
		switch e.AsIdent() {
		case "event":
			return func(v *vars) ref.Val { return v.view }
		case "record":
			return func(v *vars) ref.Val {
				if r, ok := v.record().(ref.Val); ok {
					return r
				}
				return types.DefaultTypeAdapter.NativeToValue(v.record())
			}
		case "config":
			return func(v *vars) ref.Val { return v.cfgVal() }
		}
		if t, ok := typeNames[e.AsIdent()]; ok {
			return func(*vars) ref.Val { return t }
		}
		return nil
	case celast.SelectKind:
		return c.selectNode(e.AsSelect())
	case celast.ComprehensionKind:
		return c.comprehension(e.AsComprehension())
	case celast.ListKind:
		l := e.AsList()
		if len(l.OptionalIndices()) > 0 {
			return nil
		}
		elems := make([]fastExpr, 0, l.Size())
		for _, el := range l.Elements() {
			f := c.node(el)
			if f == nil {
				return nil
			}
			elems = append(elems, f)
		}
		if consts := constList(l); consts != nil {
			return func(*vars) ref.Val { return consts }
		}
		return func(v *vars) ref.Val {
			vals := make([]ref.Val, len(elems))
			for i, f := range elems {
				vals[i] = f(v)
				if isErr(vals[i]) {
					return vals[i]
				}
			}
			return types.NewRefValList(types.DefaultTypeAdapter, vals)
		}
	case celast.MapKind:
		// A map literal, built as cel-go's evalMap builds it.
		var keys, vals []fastExpr
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			k, val := c.node(me.Key()), c.node(me.Value())
			if me.IsOptional() || k == nil || val == nil {
				return nil
			}
			keys, vals = append(keys, k), append(vals, val)
		}
		return func(v *vars) ref.Val {
			entries := make(map[ref.Val]ref.Val, len(keys))
			for i, k := range keys {
				kv := k(v)
				if types.IsError(kv) {
					return kv
				}
				vv := vals[i](v)
				if types.IsError(vv) {
					return vv
				}
				entries[kv] = vv
			}
			return types.NewRefValMap(types.DefaultTypeAdapter, entries)
		}
	case celast.CallKind:
		return c.call(e.AsCall())
	}
	return nil
}

// comprehension evaluates a fold (all, exists, exists_one, map, filter,
// cel.bind) as cel-go's interpreter does: the accumulator starts as the
// init value (an empty list or map as a mutable one, made immutable in
// the result); each step runs while the condition is not false; the
// result sees the accumulator but not the iteration variable.
func (c *fastCompiler) comprehension(comp celast.ComprehensionExpr) fastExpr {
	if comp.HasIterVar2() {
		return nil
	}
	rng := c.node(comp.IterRange())
	init := c.node(comp.AccuInit())
	if rng == nil || init == nil {
		return nil
	}
	accu := c.push(comp.AccuVar())
	iter := c.push(comp.IterVar())
	cond := c.node(comp.LoopCondition())
	step := c.node(comp.LoopStep())
	c.pop() // the result resolves the iteration variable's name outside the loop
	result := c.node(comp.Result())
	c.pop()
	if cond == nil || step == nil || result == nil {
		return nil
	}
	return func(v *vars) ref.Val {
		r := rng(v)
		if isErr(r) {
			return r
		}
		it, ok := r.(traits.Iterable)
		if !ok || !r.Type().HasTrait(traits.IterableType) {
			return types.ValOrErr(r, "got '%T', expected iterable type", r)
		}
		a := init(v)
		mutable := false
		if l, ok := a.(traits.Lister); ok && !isErr(a) && l.Size() == types.IntZero {
			a, mutable = types.NewMutableList(types.DefaultTypeAdapter), true
		} else if m, ok := a.(traits.Mapper); ok && !isErr(a) && m.Size() == types.IntZero {
			a, mutable = types.NewMutableMap(types.DefaultTypeAdapter, map[ref.Val]ref.Val{}), true
		}
		v.locals[accu] = a
		for i := it.Iterator(); i.HasNext() == types.True; {
			if *v.steps++; *v.steps > maxFastSteps {
				return errFastCost
			}
			v.locals[iter] = types.DefaultTypeAdapter.NativeToValue(i.Next())
			if b, ok := cond(v).(types.Bool); ok && b != types.True {
				break
			}
			v.locals[accu] = step(v)
		}
		out := result(v)
		if mutable && !isErr(out) {
			switch m := out.(type) {
			case traits.MutableLister:
				out = m.ToImmutableList()
			case traits.MutableMapper:
				out = m.ToImmutableMap()
			}
		}
		return out
	}
}

func isErr(v ref.Val) bool { return types.IsUnknownOrError(v) }

// strict1 and strict2 make a function of one or two evaluated arguments
// that, as CEL's strict functions do, return the first argument error
// without calling f.
func strict1(x fastExpr, f func(ref.Val) ref.Val) fastExpr {
	return func(v *vars) ref.Val {
		xv := x(v)
		if isErr(xv) {
			return xv
		}
		return f(xv)
	}
}

func strict2(x, y fastExpr, f func(a, b ref.Val) ref.Val) fastExpr {
	return func(v *vars) ref.Val {
		xv := x(v)
		if isErr(xv) {
			return xv
		}
		yv := y(v)
		if isErr(yv) {
			return yv
		}
		return f(xv, yv)
	}
}

var errNoOverload = types.NewErr("no such overload")

// typeNames are the type identifiers an expression may compare type(x)
// with.
var typeNames = map[string]ref.Val{
	"map": types.MapType, "list": types.ListType, "string": types.StringType, "int": types.IntType,
	"uint": types.UintType, "double": types.DoubleType, "bool": types.BoolType, "bytes": types.BytesType,
	"null_type": types.NullType,
}

// conversions are CEL's type conversion functions, which convert with the
// value's own ConvertToType, as cel-go's overloads do, for the argument
// types cel-go has overloads for (nil: any).
var conversions = map[string]struct {
	to   ref.Type
	from []ref.Type
}{
	"string": {types.StringType, []ref.Type{types.StringType, types.IntType, types.UintType, types.DoubleType, types.BoolType, types.BytesType, types.TimestampType, types.DurationType}},
	"int":    {types.IntType, []ref.Type{types.IntType, types.UintType, types.DoubleType, types.StringType, types.TimestampType, types.DurationType}},
	"uint":   {types.UintType, []ref.Type{types.IntType, types.UintType, types.DoubleType, types.StringType}},
	"double": {types.DoubleType, []ref.Type{types.IntType, types.UintType, types.DoubleType, types.StringType}},
	"type":   {types.TypeType, nil},
}

// constPrefixes parses a literal CIDR or list of literal CIDRs as inCIDR
// would (ranges that do not parse match nothing).
func constPrefixes(e celast.Expr) ([]netip.Prefix, bool) {
	var lits []ref.Val
	switch e.Kind() {
	case celast.LiteralKind:
		lits = []ref.Val{e.AsLiteral()}
	case celast.ListKind:
		for _, el := range e.AsList().Elements() {
			if el.Kind() != celast.LiteralKind {
				return nil, false
			}
			lits = append(lits, el.AsLiteral())
		}
	default:
		return nil, false
	}
	var out []netip.Prefix
	for _, l := range lits {
		if p, err := config.ParsePrefix(fmt.Sprint(l.Value())); err == nil {
			out = append(out, p)
		}
	}
	return out, true
}

// constList is a list of literals, made once.
func constList(l celast.ListExpr) ref.Val {
	vals := make([]ref.Val, 0, l.Size())
	for _, el := range l.Elements() {
		if el.Kind() != celast.LiteralKind {
			return nil
		}
		vals = append(vals, el.AsLiteral())
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals)
}

func (c *fastCompiler) selectNode(s celast.SelectExpr) fastExpr {
	operand := c.node(s.Operand())
	if operand == nil {
		return nil
	}
	// The key is boxed once: passing types.String as a ref.Val on each
	// lookup would allocate.
	var key ref.Val = types.String(s.FieldName())
	missing := types.NewErr("no such key: %s", key) // errors are values: made once
	badIndex := types.NewErr("unsupported index type 'string' in list")
	// As cel-go resolves a field of a value: a map finds it or reports a
	// missing key; a list cannot be indexed by a name; any other value
	// (null, a string) has no fields: has() is false, a select is a
	// missing key.
	if s.IsTestOnly() { // has()
		return func(v *vars) ref.Val {
			o := operand(v)
			if isErr(o) {
				return o
			}
			switch m := o.(type) {
			case traits.Mapper:
				found, ok := m.Find(key)
				if !ok && found != nil && isErr(found) {
					return found
				}
				return types.Bool(ok)
			case traits.Lister:
				return badIndex
			}
			return types.False
		}
	}
	return func(v *vars) ref.Val {
		o := operand(v)
		if isErr(o) {
			return o
		}
		switch m := o.(type) {
		case traits.Mapper:
			val, found := m.Find(key)
			if !found {
				if val != nil && isErr(val) {
					return val
				}
				return missing
			}
			return val
		case traits.Lister:
			return badIndex
		}
		return missing
	}
}

// fastFuncs are the functions of one or two arguments the fast path
// calls, with the argument types of their overloads (nil: any).
var fastFuncs = map[string]struct {
	args []ref.Type
	fn   func(args ...ref.Val) ref.Val
}{
	"is_private_ip":  {[]ref.Type{types.StringType}, func(a ...ref.Val) ref.Val { return isPrivateIPVal(a[0]) }},
	"is_public_ip":   {[]ref.Type{types.StringType}, func(a ...ref.Val) ref.Val { return isPublicIPVal(a[0]) }},
	"glob":           {[]ref.Type{types.StringType, types.StringType}, func(a ...ref.Val) ref.Val { return globVal(a[0], a[1]) }},
	"guardduty_band": {[]ref.Type{types.DoubleType}, func(a ...ref.Val) ref.Val { return guarddutyBandVal(a[0]) }},
	"policy_admin":   {[]ref.Type{nil}, func(a ...ref.Val) ref.Val { return policyAdminVal(a[0]) }},
	"policy_public":  {[]ref.Type{nil}, func(a ...ref.Val) ref.Val { return policyPublicVal(a[0]) }},
	"policy_accounts": {[]ref.Type{nil}, func(a ...ref.Val) ref.Val {
		return policyAccountsVal(a[0])
	}},
}

func (fc *fastCompiler) call(c celast.CallExpr) fastExpr {
	if c.FunctionName() == operators.Add && !c.IsMemberFunction() && len(c.Args()) == 2 {
		return fc.addChain(c)
	}
	var args []fastExpr
	if c.IsMemberFunction() {
		t := fc.node(c.Target())
		if t == nil {
			return nil
		}
		args = append(args, t)
	}
	for _, a := range c.Args() {
		f := fc.node(a)
		if f == nil {
			return nil
		}
		args = append(args, f)
	}
	name := c.FunctionName()
	switch name {
	case operators.LogicalAnd, operators.LogicalOr:
		if len(args) != 2 {
			return nil
		}
		l, r := args[0], args[1]
		absorb := types.False // false && x is false
		if name == operators.LogicalOr {
			absorb = types.True
		}
		return func(v *vars) ref.Val {
			lv := l(v)
			if lv == absorb {
				return absorb
			}
			rv := r(v)
			if rv == absorb {
				return absorb
			}
			if _, ok := lv.(types.Bool); ok {
				if _, ok := rv.(types.Bool); ok {
					return lv // both the other value
				}
			}
			if isErr(lv) {
				return lv
			}
			if isErr(rv) {
				return rv
			}
			return types.MaybeNoSuchOverloadErr(rv)
		}
	case operators.LogicalNot:
		x := args[0]
		return func(v *vars) ref.Val {
			xv := x(v)
			if b, ok := xv.(types.Bool); ok {
				return !b
			}
			if isErr(xv) {
				return xv
			}
			return types.MaybeNoSuchOverloadErr(xv)
		}
	case operators.Conditional:
		cond, a, b := args[0], args[1], args[2]
		return func(v *vars) ref.Val {
			switch c := cond(v); c {
			case types.True:
				return a(v)
			case types.False:
				return b(v)
			default:
				if isErr(c) {
					return c
				}
				return types.MaybeNoSuchOverloadErr(c)
			}
		}
	case operators.NotStrictlyFalse, operators.OldNotStrictlyFalse:
		// The loop condition of all() and exists(): errors go on.
		x := args[0]
		return func(v *vars) ref.Val {
			if xv := x(v); types.IsBool(xv) {
				return xv
			}
			return types.True
		}
	case "dyn":
		if len(args) != 1 || c.IsMemberFunction() {
			return nil
		}
		return args[0] // the identity, for the type checker
	case operators.Index:
		return strict2(args[0], args[1], func(o, i ref.Val) ref.Val {
			ix, ok := o.(traits.Indexer)
			if !ok {
				// As cel-go qualifies a scalar: the key is missing.
				return types.NewErr("no such key: %v", i)
			}
			return ix.Get(i)
		})
	case operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		want := map[string][2]ref.Val{ // the comparisons that make it true
			operators.Less:          {types.IntNegOne, types.IntNegOne},
			operators.LessEquals:    {types.IntNegOne, types.IntZero},
			operators.Greater:       {types.IntOne, types.IntOne},
			operators.GreaterEquals: {types.IntOne, types.IntZero},
		}[name]
		return strict2(args[0], args[1], func(l, r ref.Val) ref.Val {
			cmp, ok := l.(traits.Comparer)
			if !ok {
				return types.MaybeNoSuchOverloadErr(l)
			}
			if isNaN(l) || isNaN(r) {
				return types.False
			}
			switch res := cmp.Compare(r); res {
			case want[0], want[1]:
				return types.True
			case types.IntNegOne, types.IntZero, types.IntOne:
				return types.False
			default:
				return res
			}
		})
	case operators.Subtract:
		return arith(args[0], args[1], traits.Subtractor.Subtract)
	case operators.Multiply:
		return arith(args[0], args[1], traits.Multiplier.Multiply)
	case operators.Divide:
		return arith(args[0], args[1], traits.Divider.Divide)
	case operators.Modulo:
		return arith(args[0], args[1], traits.Modder.Modulo)
	case operators.Negate:
		return strict1(args[0], func(x ref.Val) ref.Val {
			if a, ok := x.(traits.Negater); ok {
				return a.Negate()
			}
			return types.MaybeNoSuchOverloadErr(x)
		})
	case "join":
		if !c.IsMemberFunction() || len(args) > 2 {
			return nil
		}
		sep := fastExpr(func(*vars) ref.Val { return types.String("") })
		if len(args) == 2 {
			sep = args[1]
		}
		return strict2(args[0], sep, func(lv, sv ref.Val) ref.Val {
			l, ok := lv.(traits.Lister)
			d, ok2 := sv.(types.String)
			if !ok || !ok2 {
				return errNoOverload
			}
			var b strings.Builder
			for i, it := 0, l.Iterator(); it.HasNext() == types.True; i++ {
				s, ok := it.Next().(types.String)
				if !ok {
					return types.NewErr("join: invalid input")
				}
				if i > 0 {
					b.WriteString(string(d))
				}
				b.WriteString(string(s))
			}
			return types.String(b.String())
		})
	case "split":
		if !c.IsMemberFunction() || len(args) != 2 {
			return nil
		}
		return strict2(args[0], args[1], func(sv, dv ref.Val) ref.Val {
			s, ok := sv.(types.String)
			d, ok2 := dv.(types.String)
			if !ok || !ok2 {
				return errNoOverload
			}
			return types.DefaultTypeAdapter.NativeToValue(strings.Split(string(s), string(d)))
		})
	case operators.Equals, operators.NotEquals:
		if name == operators.NotEquals {
			return strict2(args[0], args[1], func(l, r ref.Val) ref.Val { return types.Bool(types.Equal(l, r) != types.True) })
		}
		return strict2(args[0], args[1], types.Equal)
	case operators.In:
		return strict2(args[0], args[1], func(elem, container ref.Val) ref.Val {
			c, ok := container.(traits.Container)
			if !ok {
				return types.MaybeNoSuchOverloadErr(container)
			}
			return c.Contains(elem)
		})
	case operators.Add:
		return arith(args[0], args[1], traits.Adder.Add)
	case "startsWith", "endsWith", "contains":
		if !c.IsMemberFunction() || len(args) != 2 {
			return nil
		}
		op := map[string]func(string, string) bool{"startsWith": strings.HasPrefix, "endsWith": strings.HasSuffix, "contains": strings.Contains}[name]
		return strict2(args[0], args[1], func(sv, subv ref.Val) ref.Val {
			a, ok1 := sv.(types.String)
			b, ok2 := subv.(types.String)
			if !ok1 || !ok2 {
				return errNoOverload
			}
			return types.Bool(op(string(a), string(b)))
		})
	case "in_cidr":
		if len(args) != 2 || c.IsMemberFunction() {
			return nil
		}
		if prefixes, ok := constPrefixes(c.Args()[1]); ok {
			// The ranges are written in the rule: parse them once.
			return strict1(args[0], func(iv ref.Val) ref.Val {
				if iv.Type() != types.StringType {
					return errNoOverload
				}
				a, ok := addr(iv)
				if !ok {
					return types.False
				}
				for _, p := range prefixes {
					if p.Contains(a) {
						return types.True
					}
				}
				return types.False
			})
		}
		return strict2(args[0], args[1], func(iv, cv ref.Val) ref.Val {
			if iv.Type() != types.StringType {
				return errNoOverload
			}
			switch cv.Type() {
			case types.StringType, types.ListType:
				return inCIDR(iv, cv)
			}
			return errNoOverload
		})
	}
	switch {
	case conversions[name].to != nil && !c.IsMemberFunction() && len(args) == 1:
		conv := conversions[name]
		return strict1(args[0], func(xv ref.Val) ref.Val {
			if conv.from != nil && !slices.ContainsFunc(conv.from, func(t ref.Type) bool { return t.TypeName() == xv.Type().TypeName() }) {
				return errNoOverload
			}
			return xv.ConvertToType(conv.to)
		})
	case name == "size" && len(args) == 1:
		return strict1(args[0], func(xv ref.Val) ref.Val {
			if sz, ok := xv.(traits.Sizer); ok {
				return sz.Size()
			}
			return errNoOverload
		})
	case name == "lowerAscii" && c.IsMemberFunction() && len(args) == 1:
		return strict1(args[0], func(xv ref.Val) ref.Val {
			s, ok := xv.(types.String)
			if !ok {
				return errNoOverload
			}
			return types.String(lowerASCII(string(s)))
		})
	case name == "matches" && len(args) == 2:
		pat := c.Args()[len(c.Args())-1]
		if pat.Kind() != celast.LiteralKind {
			return nil
		}
		ps, ok := pat.AsLiteral().(types.String)
		if !ok {
			return nil
		}
		re, err := regexp.Compile(string(ps))
		if err != nil {
			return nil // cel-go reports it
		}
		return strict1(args[0], func(xv ref.Val) ref.Val {
			s, ok := xv.(types.String)
			if !ok {
				return errNoOverload
			}
			return types.Bool(re.MatchString(string(s)))
		})
	}
	if f, ok := fastFuncs[name]; ok && !c.IsMemberFunction() && len(args) == len(f.args) {
		return func(v *vars) ref.Val {
			vals := make([]ref.Val, len(args))
			for i, a := range args {
				vals[i] = a(v)
				if isErr(vals[i]) {
					return vals[i]
				}
				if t := f.args[i]; t != nil && vals[i].Type() != t {
					return errNoOverload
				}
			}
			return f.fn(vals...)
		}
	}
	return nil
}

func isNaN(v ref.Val) bool {
	d, ok := v.(types.Double)
	return ok && math.IsNaN(float64(d))
}

// addChain compiles a + b + c ..., which CEL parses as ((a + b) + c), as
// one fold over the operands with the nested calls' semantics (left to
// right, stopping at the first error), joining a run of strings with one
// allocation where the nested calls would make one per +: dedup and group
// keys are such chains, evaluated for most events.
func (fc *fastCompiler) addChain(c celast.CallExpr) fastExpr {
	var operands []fastExpr
	e := c
	for {
		r := fc.node(e.Args()[1])
		if r == nil {
			return nil
		}
		operands = append(operands, r)
		l := e.Args()[0]
		if l.Kind() != celast.CallKind {
			break
		}
		lc := l.AsCall()
		if lc.FunctionName() != operators.Add || lc.IsMemberFunction() || len(lc.Args()) != 2 {
			break
		}
		e = lc
	}
	first := fc.node(e.Args()[0])
	if first == nil {
		return nil
	}
	operands = append(operands, first)
	slices.Reverse(operands)
	return func(v *vars) ref.Val {
		acc := operands[0](v)
		if isErr(acc) {
			return acc
		}
		var few [8]string
		strs := few[:0] // while every operand so far is a string
		if s, ok := acc.(types.String); ok {
			strs = append(strs, string(s))
			acc = nil
		}
		for _, op := range operands[1:] {
			r := op(v)
			if isErr(r) {
				return r
			}
			if acc == nil {
				if s, ok := r.(types.String); ok {
					strs = append(strs, string(s))
					continue
				}
				acc = types.String(strings.Join(strs, ""))
			}
			a, ok := acc.(traits.Adder)
			if !ok {
				return types.MaybeNoSuchOverloadErr(acc)
			}
			if acc = a.Add(r); isErr(acc) {
				return acc
			}
		}
		if acc == nil {
			return types.String(strings.Join(strs, ""))
		}
		return acc
	}
}

// arith makes a binary operator of the left value's own CEL method, as
// cel-go's overloads for +, -, *, / and % call it.
func arith[T any](x, y fastExpr, op func(T, ref.Val) ref.Val) fastExpr {
	return strict2(x, y, func(l, r ref.Val) ref.Val {
		if a, ok := l.(T); ok {
			return op(a, r)
		}
		return types.MaybeNoSuchOverloadErr(l)
	})
}

// lowerASCII lowers the ASCII letters of s, as CEL's lowerAscii does.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

var _ interpreter.Activation = (*vars)(nil)
