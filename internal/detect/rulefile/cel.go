package rulefile

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"unsafe"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/guardduty"
	"github.com/vigil-sec/vigil/internal/iampolicy"
)

// celCostLimit bounds the work one expression may do on one event.
const celCostLimit = 1_000_000

// newEnv returns the CEL environment of rule expressions: the variables
// event (the normalised event), record (the record as AWS wrote it) and
// config (the organisation's configuration), the standard string
// extensions, and Vigil's functions for addresses and policies.
// sharedEnv is the one environment every rule compiles in: building it is
// costly, and an environment is safe for concurrent use.
var sharedEnv = sync.OnceValues(newEnv)

func newEnv() (*cel.Env, error) {
	str, list, dyn := cel.StringType, cel.ListType(cel.DynType), cel.DynType
	return cel.NewEnv(
		cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("record", cel.DynType),
		cel.Variable("config", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		ext.Sets(),
		ext.Bindings(),
		cel.Function("in_cidr",
			cel.Overload("in_cidr_string_string", []*cel.Type{str, str}, cel.BoolType, cel.BinaryBinding(inCIDR)),
			cel.Overload("in_cidr_string_list", []*cel.Type{str, list}, cel.BoolType, cel.BinaryBinding(inCIDR))),
		cel.Function("is_private_ip",
			cel.Overload("is_private_ip_string", []*cel.Type{str}, cel.BoolType, cel.UnaryBinding(isPrivateIPVal))),
		cel.Function("is_public_ip",
			cel.Overload("is_public_ip_string", []*cel.Type{str}, cel.BoolType, cel.UnaryBinding(isPublicIPVal))),
		cel.Function("glob",
			cel.Overload("glob_string_string", []*cel.Type{str, str}, cel.BoolType, cel.BinaryBinding(globVal))),
		cel.Function("guardduty_band",
			cel.Overload("guardduty_band_double", []*cel.Type{cel.DoubleType}, str, cel.UnaryBinding(guarddutyBandVal))),
		cel.Function("policy_admin",
			cel.Overload("policy_admin_dyn", []*cel.Type{dyn}, cel.BoolType, cel.UnaryBinding(policyAdminVal))),
		cel.Function("policy_public",
			cel.Overload("policy_public_dyn", []*cel.Type{dyn}, cel.BoolType, cel.UnaryBinding(policyPublicVal))),
		cel.Function("policy_accounts",
			cel.Overload("policy_accounts_dyn", []*cel.Type{dyn}, cel.ListType(str), cel.UnaryBinding(policyAccountsVal))),
	)
}

// program compiles expr, which must produce want (or dyn, checked when
// evaluated); want dyn accepts any type.
//
// An expression that loops (a comprehension: all, exists, map, filter)
// can cost more than linear time in its input, and the input is hostile,
// so such expressions run under CEL's cost limit. The others cost at most
// their size times the input's, and run without the cost tracker, which
// would slow every step of every rule.
func program(env *cel.Env, expr string, want *cel.Type, opts Options) (cel.Program, error) {
	// Rules repeat expressions (has(event.source_ip) ? ...); programs are
	// immutable and safe for concurrent use, so each is compiled once.
	key := programKey{expr, want.String()}
	if p, ok := programs.Load(key); ok {
		e := p.(programEntry)
		if opts.Collect != nil {
			if err := opts.Collect.add(expr, e.ast); err != nil {
				return nil, err
			}
		}
		return e.prg, nil
	}
	prg, ast, err := compileProgram(env, expr, want, opts.Checked)
	if err != nil {
		return nil, err
	}
	programs.Store(key, programEntry{prg, ast})
	if opts.Collect != nil {
		if err := opts.Collect.add(expr, ast); err != nil {
			return nil, err
		}
	}
	return prg, nil
}

type programKey struct{ expr, want string }

type programEntry struct {
	prg cel.Program
	ast *cel.Ast
}

var programs sync.Map // programKey -> programEntry, compiled in sharedEnv

// compileProgram compiles expr, taking it checked from checked when it is
// there.
func compileProgram(env *cel.Env, expr string, want *cel.Type, checked *Checked) (cel.Program, *cel.Ast, error) {
	ast, cached := checked.lookup(expr)
	if !cached {
		var iss *cel.Issues
		if ast, iss = env.Compile(expr); iss.Err() != nil {
			return nil, nil, iss.Err()
		}
	}
	if t := ast.OutputType(); !want.IsExactType(cel.DynType) && !t.IsExactType(want) && !t.IsExactType(cel.DynType) {
		return nil, nil, fmt.Errorf("expression gives %s, want %s", t, want)
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if loops(ast) {
		opts = append(opts, cel.CostLimit(celCostLimit))
	}
	plan := func() (cel.Program, error) { return env.Program(ast, opts...) }
	fast := compileFast(ast)
	if cached {
		// A cached expression holds only what the fast path needs
		// (Checked.strip): cel-go plans it from its text, if something
		// asks; and one the fast path cannot take is compiled from its
		// text at once.
		plan = func() (cel.Program, error) {
			full, iss := env.Compile(expr)
			if iss.Err() != nil {
				return nil, iss.Err()
			}
			return env.Program(full, opts...)
		}
		if fast != nil {
			return &fastProgram{fast: fast, plan: sync.OnceValues(plan)}, ast, nil
		}
	}
	prg, err := plan()
	if err != nil {
		return nil, nil, err
	}
	if fast != nil {
		return &fastProgram{fast: fast, plan: func() (cel.Program, error) { return prg, nil }}, ast, nil
	}
	return prg, ast, nil
}

// loops reports whether a compiled expression holds a comprehension.
func loops(a *cel.Ast) bool {
	root := celast.NavigateAST(a.NativeRep())
	return len(celast.MatchDescendants(root, celast.KindMatcher(celast.ComprehensionKind))) > 0
}

func addr(v ref.Val) (netip.Addr, bool) {
	s, ok := v.(types.String) // not Value(): that boxes the string
	if !ok {
		return netip.Addr{}, false
	}
	a, ok := event.ParseAddr(string(s))
	return a.Unmap(), ok
}

// inCIDR reports whether the address is in the CIDR or any of the list.
func isPrivateIPVal(v ref.Val) ref.Val {
	a, ok := addr(v)
	return types.Bool(ok && isPrivate(a))
}

func isPublicIPVal(v ref.Val) ref.Val {
	a, ok := addr(v)
	return types.Bool(ok && a.IsGlobalUnicast() && !isPrivate(a))
}

func globVal(s, p ref.Val) ref.Val {
	return types.Bool(iampolicy.MatchGlob(fmt.Sprint(p.Value()), fmt.Sprint(s.Value())))
}

func guarddutyBandVal(v ref.Val) ref.Val {
	f, _ := v.Value().(float64)
	return types.String(strings.ToLower(string(guardduty.BandOf(f))))
}

func policyAdminVal(v ref.Val) ref.Val {
	doc, err := policyOf(v)
	if err != nil {
		return types.Bool(false)
	}
	return types.Bool(iampolicy.GrantsAll(doc))
}

func policyPublicVal(v ref.Val) ref.Val {
	doc, err := policyOf(v)
	if err != nil {
		return types.Bool(false)
	}
	return types.Bool(iampolicy.IsPublic(doc, iampolicy.BucketPolicy).Public)
}

func policyAccountsVal(v ref.Val) ref.Val {
	doc, err := policyOf(v)
	if err != nil {
		return types.NewStringList(types.DefaultTypeAdapter, nil)
	}
	return types.NewStringList(types.DefaultTypeAdapter, iampolicy.AllowedAccounts(doc))
}

func inCIDR(ipv, cidrs ref.Val) ref.Val {
	a, ok := addr(ipv)
	if !ok {
		return types.Bool(false)
	}
	var list []string
	switch c := cidrs.(type) {
	case traits.Lister:
		it := c.Iterator()
		for it.HasNext() == types.True {
			list = append(list, fmt.Sprint(it.Next().Value()))
		}
	default:
		list = []string{fmt.Sprint(cidrs.Value())}
	}
	for _, s := range list {
		p, err := config.ParsePrefix(s)
		if err == nil && p.Contains(a) {
			return types.Bool(true)
		}
	}
	return types.Bool(false)
}

var privateRanges = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128", "::/128"} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// isPrivate reports private, shared (CGNAT), loopback, link-local and
// unspecified addresses: never "from the internet".
func isPrivate(a netip.Addr) bool {
	for _, p := range privateRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// policyOf reads a policy document given as a JSON string (as CloudTrail
// records policyDocument and assumeRolePolicyDocument in requests), as
// URL-encoded JSON (as IAM returns documents in responses) or as a map.
func policyOf(v ref.Val) (*iampolicy.Document, error) {
	if o, ok := v.(*jsonObject); ok {
		key := unsafe.String(unsafe.SliceData(o.raw), len(o.raw)) // cachedPolicy copies what it keeps
		return cachedPolicy(key, func() (*iampolicy.Document, error) { return iampolicy.Parse(o.raw) })
	}
	if s, ok := v.(types.String); ok {
		return cachedPolicy(string(s), func() (*iampolicy.Document, error) {
			x := string(s)
			if t := strings.TrimSpace(x); strings.HasPrefix(t, "%7B") || strings.HasPrefix(t, "%7b") {
				d, err := url.PathUnescape(t)
				if err != nil {
					return nil, fmt.Errorf("URL-encoded policy: %w", err)
				}
				x = d
			}
			return iampolicy.Parse([]byte(x))
		})
	}
	switch v.Value().(type) {
	default:
		native, err := v.ConvertToNative(mapType)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(native)
		if err != nil {
			return nil, err
		}
		return iampolicy.Parse(b)
	}
}

// policies remembers parsed policy documents by their text: a rule reads
// the same policy in its condition, its severity and its details, and
// parsing one costs tens of microseconds. Documents are not modified once
// parsed, and hold no memory of the record they came from.
var policies struct {
	sync.Mutex
	m map[string]parsedPolicy
}

type parsedPolicy struct {
	doc *iampolicy.Document
	err error
}

// maxCachedPolicies bounds the cache; when full it starts again.
const maxCachedPolicies = 256

func cachedPolicy(text string, parse func() (*iampolicy.Document, error)) (*iampolicy.Document, error) {
	policies.Lock()
	p, ok := policies.m[text]
	policies.Unlock()
	if ok {
		return p.doc, p.err
	}
	doc, err := parse()
	policies.Lock()
	if policies.m == nil || len(policies.m) >= maxCachedPolicies {
		policies.m = make(map[string]parsedPolicy, maxCachedPolicies)
	}
	policies.m[strings.Clone(text)] = parsedPolicy{doc, err} // the key keeps no record memory
	policies.Unlock()
	return doc, err
}

// jsonValue turns a CEL value into plain Go values that marshal to JSON:
// lists to slices, maps to maps keyed by strings, durations to their text.
func jsonValue(v ref.Val) any {
	switch v := v.(type) {
	case traits.Lister:
		var out []any
		for it := v.Iterator(); it.HasNext() == types.True; {
			out = append(out, jsonValue(it.Next()))
		}
		if out == nil {
			out = []any{}
		}
		return out
	case traits.Mapper:
		out := map[string]any{}
		for it := v.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			key, ok := k.Value().(string)
			if !ok {
				key = fmt.Sprint(k.Value())
			}
			out[key] = jsonValue(v.Get(k))
		}
		return out
	case types.Duration:
		return v.Duration.String()
	case types.Null:
		return nil
	}
	return v.Value()
}
