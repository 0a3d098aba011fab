package rulefile

import (
	"context"
	"fmt"
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

// The conditions of most rules are a handful of comparisons joined by &&
// and ||: has(event.error_code), event.actor.type != "AWSService",
// event.source_ip in [...], is_private_ip(...). cel-go's interpreter
// spends most of its time on such expressions resolving attributes
// through its general machinery, and a scan evaluates them for every
// event of every rule's call. fastExpr evaluates that subset of CEL
// directly over the same values (the lazy event and record views), with
// CEL's own semantics: the values' CEL methods (Equal, Contains, Add,
// Compare) do the work, errors propagate as CEL's do, and && and || absorb
// errors the way CEL's commutative operators do. Expressions outside the
// subset (comprehensions, conversions, most functions) run on cel-go.
// TestFastExprAgreesWithCEL holds the two to the same answers.
type fastExpr func(v *vars) ref.Val

// fastProgram is a cel.Program that takes the fast path when it has one
// and its input is a rule's vars.
type fastProgram struct {
	cel.Program
	fast fastExpr
}

// Eval implements cel.Program.
func (p *fastProgram) Eval(input any) (ref.Val, *cel.EvalDetails, error) {
	if v, ok := input.(*vars); ok && p.fast != nil {
		out := p.fast(v)
		if e, ok := out.(*types.Err); ok {
			return out, nil, e
		}
		return out, nil, nil
	}
	return p.Program.Eval(input)
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
	return fastNode(a.NativeRep().Expr())
}

func fastNode(e celast.Expr) fastExpr {
	switch e.Kind() {
	case celast.LiteralKind:
		lit := e.AsLiteral()
		return func(*vars) ref.Val { return lit }
	case celast.IdentKind:
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
		return fastSelect(e.AsSelect())
	case celast.ListKind:
		l := e.AsList()
		if len(l.OptionalIndices()) > 0 {
			return nil
		}
		elems := make([]fastExpr, 0, l.Size())
		for _, el := range l.Elements() {
			f := fastNode(el)
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
	case celast.CallKind:
		return fastCall(e.AsCall())
	}
	return nil
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

func fastSelect(s celast.SelectExpr) fastExpr {
	operand := fastNode(s.Operand())
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

func fastCall(c celast.CallExpr) fastExpr {
	var args []fastExpr
	if c.IsMemberFunction() {
		t := fastNode(c.Target())
		if t == nil {
			return nil
		}
		args = append(args, t)
	}
	for _, a := range c.Args() {
		f := fastNode(a)
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
		return strict2(args[0], args[1], func(l, r ref.Val) ref.Val {
			a, ok := l.(traits.Adder)
			if !ok {
				return types.MaybeNoSuchOverloadErr(l)
			}
			return a.Add(r)
		})
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
