package rulefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
	"weak"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/detect/pattern"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/iampolicy"
	"github.com/vigil-sec/vigil/internal/state"
)

var mapType = reflect.TypeOf(map[string]any{})

// Options are what compiled rules need from outside.
type Options struct {
	// Config is the organisation's configuration, the `config` of CEL
	// expressions. Nil means an empty one.
	Config *config.Config
	// State keeps what stateful rules remember. Nil means memory only.
	State *state.Store
	// Origin says where the rule came from ("built-in", a file path); it
	// is shown by `vigil rules list`.
	Origin string
	// SkipTests compiles rules for running, not testing: the tests in
	// their files are not read (most of a rule file's bytes), and test
	// suites (tests_for) are left out. Only ParseFileUntested, which the
	// built-in catalogue uses, honours it.
	SkipTests bool
	// Checked holds expressions already type-checked (the built-in
	// catalogue's), which compile without being parsed and checked again.
	Checked *Checked
	// Collect, when set, receives every expression compiled, checked: how
	// the catalogue's Checked is made.
	Collect *Checked
}

// Rule is a compiled rule file rule. It implements detect.Rule, and
// detect.Stateful when it has a threshold, first_seen or dedup.
type Rule struct {
	spec     Spec
	file     string
	line     int
	origin   string
	meta     detect.Meta
	keys     []detect.Key
	kinds    []event.Kind
	pat      *pattern.Pattern
	fast     *callPattern // pat split into the call it names and the rest
	envelope bool

	cond        cel.Program
	sevExpr     cel.Program
	resource    cel.Program
	details     map[string]cel.Program
	dedupKey    cel.Program
	groupBy     cel.Program
	distinct    cel.Program
	sum         cel.Program
	entity      cel.Program
	value       cel.Program
	needRecord  bool
	titleRecord bool       // the title template reads .record
	titleWhole  bool       // ... as a whole
	titlePaths  [][]string // ... at these paths
	// The top-level fields of .event the title reads, or all of them.
	titleEventKeys  []string
	titleEventWhole bool
	titleFast       *titleProg // nil: text/template only
	title           *template.Template
	allow           allowList
	cfg             map[string]any
	cfgSrc          *config.Config

	testLines []int

	dedupWindow, window, learning time.Duration
	thresholds                    *state.Table[thresholdEntry]
	firstSeen                     *state.Table[firstSeenEntry]
	dedups                        *state.Table[dedupEntry]
}

// envelopeKeys are the top-level keys of an EventBridge event: a pattern
// that uses only these is an EventBridge rule pattern, copied as is.
var envelopeKeys = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// compile builds one rule. node is the rule's YAML document, for line
// numbers in errors.
func compile(sp Spec, file string, node *yaml.Node, opts Options) (*Rule, error) {
	env, err := sharedEnv()
	if err != nil {
		return nil, err
	}
	r := &Rule{spec: sp, file: file, line: node.Line, origin: opts.Origin}
	r.cfgSrc = opts.Config
	if r.cfgSrc == nil {
		r.cfgSrc = emptyConfig
	}
	r.cfg = celConfig(r.cfgSrc)
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", file, lineOfKey(node, key), key, fmt.Sprintf(format, args...)))
	}
	if !idPattern.MatchString(sp.ID) {
		bad("id", "%q must be lower-case words joined by hyphens", sp.ID)
	}
	if sp.Title == "" {
		bad("title", "required")
	}
	sev := detect.Medium
	if sp.Severity == "" && sp.SeverityExpr == "" {
		bad("severity", "required (or severity_expr)")
	} else if sp.Severity != "" {
		if sev, err = detect.ParseSeverity(sp.Severity); err != nil {
			bad("severity", "%v", err)
		}
	}
	version := sp.Version
	if version == 0 {
		version = 1
	}
	r.meta = detect.Meta{ID: sp.ID, Description: strings.TrimSpace(sp.Description), Runbook: strings.TrimSpace(sp.Runbook),
		Severity: sev, Tags: sp.Tags, Version: version, Title: staticTitle(sp.Title)}

	switch sp.Source {
	case "", "cloudtrail":
		r.kinds = []event.Kind{event.KindCloudTrail, event.KindSignIn}
	case "guardduty":
		r.kinds = []event.Kind{event.KindGuardDuty}
	case "accessanalyzer":
		r.kinds = []event.Kind{event.KindAccessAnalyzer}
	case "flowlog":
		r.kinds = []event.Kind{event.KindFlowLog}
	case "any":
	default:
		bad("source", "%q is not cloudtrail, guardduty, accessanalyzer, flowlog or any", sp.Source)
	}

	if sp.Match.Kind == 0 {
		bad("match", "required: an EventBridge event pattern")
	} else if src, err := nodeJSON(&sp.Match); err != nil {
		bad("match", "%v", err)
	} else if r.pat, err = pattern.Compile(src); err != nil {
		bad("match", "%v", err)
	} else {
		r.envelope = isEnvelope(src)
		if !r.envelope {
			r.fast = splitCallPattern(src)
		}
	}

	compileExpr := func(key, expr string, want *cel.Type) cel.Program {
		if expr == "" {
			return nil
		}
		p, err := program(env, expr, want, opts)
		if err != nil {
			bad(key, "%v", err)
			return nil
		}
		if usesRecord(expr) {
			r.needRecord = true
		}
		return p
	}
	r.cond = compileExpr("condition", sp.Condition, cel.BoolType)
	r.sevExpr = compileExpr("severity_expr", sp.SeverityExpr, cel.StringType)
	r.resource = compileExpr("resource", sp.Resource, cel.StringType)
	if len(sp.Details) > 0 {
		r.details = map[string]cel.Program{}
		for _, k := range sortedKeys(sp.Details) {
			if p := compileExpr("details", sp.Details[k], cel.DynType); p != nil {
				r.details[k] = p
			}
		}
	}
	if usesRecord(sp.Title) {
		r.needRecord, r.titleRecord = true, true
	}
	if t, err := template.New(sp.ID).Option("missingkey=zero").Funcs(templateFuncs).Parse(sp.Title); err != nil {
		bad("title", "%v", err)
	} else {
		r.title = t
		r.titlePaths, r.titleWhole = recordPaths(t)
		r.titleEventKeys, r.titleEventWhole = eventKeys(t)
		r.titleFast = compileTitle(t)
	}
	if sp.Allow != nil {
		if r.allow, err = compileAllow(sp.Allow); err != nil {
			bad("allow", "%v", err)
		}
	}
	if d := sp.Dedup; d != nil {
		r.dedupKey = compileExpr("dedup", d.Key, cel.StringType)
		if r.dedupWindow, err = parseWindow(d.Window); err != nil {
			bad("dedup", "window: %v", err)
		}
		if d.Key == "" {
			bad("dedup", "key is required")
		}
	}
	if th := sp.Threshold; th != nil {
		if sp.FirstSeen != nil {
			bad("threshold", "a rule has a threshold or first_seen, not both")
		}
		if th.GroupBy == "" || th.Count < 1 {
			bad("threshold", "group_by and a count of at least 1 are required")
		}
		r.groupBy = compileExpr("threshold", th.GroupBy, cel.StringType)
		r.distinct = compileExpr("threshold", th.Distinct, cel.DynType)
		r.sum = compileExpr("threshold", th.Sum, cel.DynType)
		if th.Distinct != "" && th.Sum != "" {
			bad("threshold", "distinct and sum exclude each other")
		}
		if r.window, err = parseWindow(th.Window); err != nil {
			bad("threshold", "window: %v", err)
		}
	}
	if fs := sp.FirstSeen; fs != nil {
		if fs.Entity == "" || fs.Value == "" {
			bad("first_seen", "entity and value are required")
		}
		r.entity = compileExpr("first_seen", fs.Entity, cel.StringType)
		r.value = compileExpr("first_seen", fs.Value, cel.DynType)
		if fs.Learning != "" {
			if r.learning, err = time.ParseDuration(fs.Learning); err != nil || r.learning < 0 {
				bad("first_seen", "learning: %q is not a duration", fs.Learning)
			}
		}
	}
	for i, tc := range sp.Tests {
		if tc.Expect != "" && tc.Expect != "alert" && tc.Expect != "none" {
			errs = append(errs, fmt.Errorf("%s:%d: tests[%d]: expect must be alert or none, not %q", file, lineOfKey(node, "tests"), i, tc.Expect))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.keys = r.indexKeys()
	r.testLines = itemLines(node, "tests")
	if err := r.openState(opts.State); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, r.line, err)
	}
	return r, nil
}

// Recompile compiles the rule again with other options: a fresh rule with
// its own configuration and state, as a test suite needs.
func (r *Rule) Recompile(opts Options) (*Rule, error) {
	if opts.Origin == "" {
		opts.Origin = r.origin
	}
	return compile(r.spec, r.file, &yaml.Node{Line: r.line}, opts)
}

// indexKeys derives the engine keys from the pattern: when the pattern
// pins eventSource and eventName to exact values, the rule meets only
// those calls.
func (r *Rule) indexKeys() []detect.Key {
	prefix := []string{}
	if r.envelope {
		prefix = []string{"detail"}
	}
	at := func(f string) []string { return append(slices.Clone(prefix), f) }
	var services, actions []string
	if len(r.kinds) > 0 && (r.kinds[0] == event.KindCloudTrail || r.kinds[0] == event.KindSignIn) {
		services, _ = r.pat.Exact(at("eventSource"))
		actions, _ = r.pat.Exact(at("eventName"))
	}
	if r.kinds == nil {
		return nil // every event
	}
	var keys []detect.Key
	for _, k := range r.kinds {
		switch {
		case len(services) > 0 && len(actions) > 0:
			for _, s := range services {
				for _, a := range actions {
					keys = append(keys, detect.Key{Kind: k, Service: s, Action: a})
				}
			}
		case len(services) > 0:
			for _, s := range services {
				keys = append(keys, detect.Key{Kind: k, Service: s})
			}
		default:
			keys = append(keys, detect.Key{Kind: k})
		}
	}
	return keys
}

// Meta implements detect.Rule.
func (r *Rule) Meta() detect.Meta {
	m := r.meta
	m.Tags = slices.Clone(m.Tags)
	return m
}

// Keys implements detect.Rule.
func (r *Rule) Keys() []detect.Key { return r.keys }

// Origin says where the rule was loaded from.
func (r *Rule) Origin() string { return r.origin }

// File returns the rule's file and line.
func (r *Rule) File() (string, int) { return r.file, r.line }

// Stateful reports whether the rule remembers events.
func (r *Rule) Stateful() bool { return r.groupBy != nil || r.entity != nil || r.dedupKey != nil }

// vars are the CEL inputs of one event.
type vars struct {
	ev     *event.Event
	view   *lazyMap // the normalised event for CEL
	cfg    map[string]any
	cfgSrc *config.Config
	// An evaluation's frame on the fast path (see compileFast): the
	// values of comprehension variables, and the steps taken.
	locals []ref.Val
	steps  *int
}

// Keys of what rules derive from an event and share (event.Memo).
type memoKey int

const (
	fieldsKey memoKey = iota
	recordKey
	viewKey
	recordViewKey
)

// vars returns the CEL inputs of ev, shared by the rules evaluating it
// (rules compiled with another configuration get their own).
func (r *Rule) vars(ev *event.Event) *vars {
	v := &ev.Memo(viewKey, func() any {
		w := varsBlocks.Get().(*varsBlock)
		w.vars = vars{ev: ev, cfg: r.cfg, cfgSrc: r.cfgSrc}
		w.vars.view = w.view.init(ev)
		return w
	}).(*varsBlock).vars
	if v.cfgSrc != r.cfgSrc {
		return &vars{ev: ev, view: v.view, cfg: r.cfg, cfgSrc: r.cfgSrc}
	}
	return v
}

// varsBlock is an event's CEL inputs and its event view, in one
// allocation, reused once the event is (event.Releaser): a scan makes one
// for most events.
type varsBlock struct {
	vars
	view eventView
}

var varsBlocks = sync.Pool{New: func() any { return new(varsBlock) }}

// Release implements event.Releaser.
func (w *varsBlock) Release() {
	*w = varsBlock{}
	varsBlocks.Put(w)
}

// cfgVal is the configuration as a CEL value, made once per configuration.
func (v *vars) cfgVal() ref.Val {
	return cachedPerConfig(&celConfigVals, v.cfgSrc, func() ref.Val { return types.DefaultTypeAdapter.NativeToValue(v.cfg) })
}

// emptyConfig stands for no configuration.
var emptyConfig = &config.Config{}

// celConfigs and celConfigVals hold each configuration's CEL view, made
// once, as a map and as a CEL value. They are keyed weakly: a daemon that
// reloads its configuration does not keep every configuration it had.
var celConfigs, celConfigVals sync.Map // weak.Pointer[config.Config] -> map[string]any, ref.Val

func celConfig(c *config.Config) map[string]any {
	return cachedPerConfig(&celConfigs, c, c.CEL)
}

// cachedPerConfig returns cache's value for c, making it with build the
// first time; the entry goes when c does.
func cachedPerConfig[T any](cache *sync.Map, c *config.Config, build func() T) T {
	if c == nil { // vars made by hand, in tests
		return build()
	}
	key := weak.Make(c)
	if v, ok := cache.Load(key); ok {
		return v.(T)
	}
	v, loaded := cache.LoadOrStore(key, build())
	if !loaded {
		runtime.AddCleanup(c, func(k weak.Pointer[config.Config]) { cache.Delete(k) }, key)
	}
	return v.(T)
}

// fields is the whole normalised event, for title templates.
func (v *vars) fields() map[string]any {
	return v.ev.Memo(fieldsKey, func() any { return v.ev.Fields() }).(map[string]any)
}

// someFields is the normalised event's fields named by keys, for a
// title template that reads only those.
func (v *vars) someFields(keys []string) map[string]any {
	m := make(map[string]any, len(keys))
	for _, k := range keys {
		if val, ok := v.ev.Field(k); ok {
			m[k] = val
		}
	}
	return m
}

// record is the record for CEL: a view of its raw JSON that decodes only
// the fields an expression reads (see jsonObject). Flow records, which are
// text, are their normalised fields.
func (v *vars) record() any {
	if v.ev.Kind == event.KindFlowLog {
		return v.view.Get(types.String("flow"))
	}
	return v.ev.Memo(recordViewKey, func() any { return recordObject(v.ev) })
}

// recordTree is the whole record decoded into maps and lists, for title
// templates; it is made once per event, and only for raised alerts.
func (v *vars) recordTree() any {
	if v.ev.Kind == event.KindFlowLog {
		return v.fields()["flow"]
	}
	return v.ev.Memo(recordKey, func() any {
		var rec any
		if json.Unmarshal(v.ev.Record, &rec) != nil {
			return nil
		}
		return rec
	})
}

// activation is v as the CEL activation of the rule's expressions: event,
// record (read lazily) and config.
func (v *vars) activation() interpreter.Activation { return v }

// ResolveName implements interpreter.Activation.
func (v *vars) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		return v.view, true
	case "record":
		return v.record(), true
	case "config":
		return v.cfg, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *vars) Parent() interpreter.Activation { return nil }

// pending is what Eval computed for Settle.
type pending struct {
	vars          *vars // the event's inputs, to finish the finding with
	group         string
	distinct      []string
	amount        float64
	entity, value string
	dedupKey      string
}

// Eval implements detect.Rule.
func (r *Rule) Eval(_ context.Context, ev *event.Event) ([]detect.Finding, error) {
	if len(r.kinds) > 0 && !slices.Contains(r.kinds, ev.Kind) {
		return nil, nil
	}
	var doc pattern.Doc = ev
	if r.envelope {
		doc = event.Envelope{E: ev}
	}
	if r.fast != nil && ev.Top.Indexed {
		switch r.fast.matchCall(ev) {
		case callNo:
			return nil, nil
		case callYes:
			if r.fast.rest != nil && !r.fast.rest.Match(doc) {
				return nil, nil
			}
		default:
			if !r.pat.Match(doc) {
				return nil, nil
			}
		}
	} else if !r.pat.Match(doc) {
		return nil, nil
	}
	if r.allow.allows(ev) {
		return nil, nil
	}
	v := r.vars(ev)
	act := v.activation()
	if r.cond != nil {
		ok, err := evalBool(r.cond, act)
		if err != nil || !ok {
			return nil, err
		}
	}
	f := detect.Finding{Severity: r.meta.Severity}
	if !r.Stateful() {
		if err := r.finish(&f, v, act); err != nil {
			return nil, err
		}
		return []detect.Finding{f}, nil
	}
	// A stateful rule's candidate carries only what Settle decides on;
	// most candidates are not raised, so the title, severity and details
	// are made in Settle, for the ones that are.
	p := pending{vars: v}
	var err error
	if r.groupBy != nil {
		if p.group, err = evalString(r.groupBy, act); err != nil {
			return nil, nil // no group: the event does not count
		}
		if r.distinct != nil {
			if p.distinct, err = evalTexts(r.distinct, act); err != nil || len(p.distinct) == 0 {
				return nil, nil
			}
		}
		if r.sum != nil {
			out, _, err := r.sum.Eval(act)
			if err != nil {
				return nil, nil
			}
			switch n := out.Value().(type) {
			case int64:
				p.amount = float64(n)
			case uint64:
				p.amount = float64(n)
			case float64:
				p.amount = n
			default:
				return nil, fmt.Errorf("threshold sum gave %v, not a number", out.Value())
			}
		}
	}
	if r.entity != nil {
		if p.entity, err = evalString(r.entity, act); err != nil {
			return nil, nil
		}
		if p.value, err = evalText(r.value, act); err != nil || p.value == "" {
			return nil, nil // nothing to learn from this event (e.g. no location)
		}
	}
	if r.dedupKey != nil {
		if p.dedupKey, err = evalString(r.dedupKey, act); err != nil {
			p.dedupKey = ""
		}
	}
	p.own()
	f.Pending = p
	return []detect.Finding{f}, nil
}

// own copies the pending keys and values, which Settle may keep in the
// rule's state: a value read straight from the record (group_by:
// event.source_ip) shares the memory of the batch the record came in, and
// state that kept it would keep the whole batch alive.
func (p *pending) own() {
	p.group, p.entity, p.value, p.dedupKey = strings.Clone(p.group), strings.Clone(p.entity), strings.Clone(p.value), strings.Clone(p.dedupKey)
	for i, d := range p.distinct {
		p.distinct[i] = strings.Clone(d)
	}
}

// finish makes a finding's severity, title, resource and details.
func (r *Rule) finish(f *detect.Finding, v *vars, act interpreter.Activation) error {
	if r.sevExpr != nil {
		// A field the event lacks leaves the catalogue severity, as it
		// makes a condition false.
		s, err := evalString(r.sevExpr, act)
		switch {
		case isMissing(err):
		case err != nil:
			return fmt.Errorf("severity_expr: %w", err)
		default:
			if f.Severity, err = detect.ParseSeverity(s); err != nil {
				return fmt.Errorf("severity_expr: %w", err)
			}
		}
	}
	f.Title = r.renderTitle(v)
	ev := v.ev
	if len(ev.Resources) > 0 {
		f.Resource = ev.Resources[0].ARN
	}
	if r.resource != nil {
		s, err := evalString(r.resource, act)
		switch {
		case isMissing(err):
			// keep the event's first resource
		case err != nil:
			return fmt.Errorf("resource: %w", err)
		default:
			f.Resource = s
		}
	}
	if len(r.details) > 0 {
		if f.Details == nil {
			f.Details = map[string]any{}
		}
		for k, p := range r.details {
			out, _, err := p.Eval(act)
			if err != nil {
				continue // a detail that does not apply to this event
			}
			f.Details[k] = jsonValue(out)
		}
	}
	return nil
}

// renderTitle renders the rule's title for v's event: on the fast path
// when it can, else with text/template over the event's fields and the
// record's values. A template that stumbles on this event's shape (a
// field that is null here) must not cost the alert: that gives the rule's
// title.
func (r *Rule) renderTitle(v *vars) string {
	if r.titleFast != nil {
		if s, err := r.titleFast.render(v.ev, r.cfg); err == nil {
			return strings.ReplaceAll(s, "<no value>", "")
		}
	}
	return r.renderTitleSlow(v)
}

func (r *Rule) renderTitleSlow(v *vars) string {
	var buf bytes.Buffer
	var rec any
	switch {
	case !r.titleRecord:
	case r.titleWhole || v.ev.Kind == event.KindFlowLog:
		rec = v.recordTree()
	default:
		rec = sparseRecord(v.ev.Record, r.titlePaths)
	}
	evFields := v.fields
	if !r.titleEventWhole {
		evFields = func() map[string]any { return v.someFields(r.titleEventKeys) }
	}
	if err := r.title.Execute(&buf, map[string]any{"event": evFields(), "record": rec, "config": r.cfg}); err != nil {
		return r.meta.Title
	}
	return strings.ReplaceAll(buf.String(), "<no value>", "")
}

func evalBool(p cel.Program, act interpreter.Activation) (bool, error) {
	out, _, err := p.Eval(act)
	if err != nil {
		if isMissing(err) {
			return false, nil // the event lacks a field the condition reads
		}
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition gave %v, not a boolean", out.Value())
	}
	return bool(b), nil
}

func evalString(p cel.Program, act interpreter.Activation) (string, error) {
	out, _, err := p.Eval(act)
	if err != nil {
		return "", err
	}
	s, ok := out.(types.String)
	if !ok {
		return "", fmt.Errorf("gave %v, not a string", out.Value())
	}
	return string(s), nil
}

// evalText evaluates an expression of any scalar type to text.
func evalText(p cel.Program, act interpreter.Activation) (string, error) {
	out, _, err := p.Eval(act)
	if err != nil {
		return "", err
	}
	if s, ok := out.(types.String); ok {
		return string(s), nil
	}
	return fmt.Sprint(out.Value()), nil
}

// evalTexts evaluates to a list of texts: the elements of a list, or one
// value; empty texts are left out.
func evalTexts(p cel.Program, act interpreter.Activation) ([]string, error) {
	out, _, err := p.Eval(act)
	if err != nil {
		return nil, err
	}
	var texts []string
	add := func(v ref.Val) {
		s, ok := v.(types.String)
		if !ok {
			s = types.String(fmt.Sprint(v.Value()))
		}
		if s != "" {
			texts = append(texts, string(s))
		}
	}
	if l, ok := out.(traits.Lister); ok {
		for it := l.Iterator(); it.HasNext() == types.True; {
			add(it.Next())
		}
	} else {
		add(out)
	}
	return texts, nil
}

// isMissing reports CEL's errors for absent map keys and fields, which a
// condition meets on events that do not have what it tests.
func isMissing(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "no such key") || strings.Contains(s, "no such attribute") || strings.Contains(s, "no such property")
}

// allowList is a compiled AllowSpec.
type allowList struct {
	actors, accounts, resources []string
	ips                         []netip.Prefix
}

func compileAllow(a *AllowSpec) (allowList, error) {
	l := allowList{actors: a.Actors, accounts: a.Accounts, resources: a.Resources}
	for _, s := range a.IPs {
		p, err := config.ParsePrefix(s)
		if err != nil {
			return l, err
		}
		l.ips = append(l.ips, p)
	}
	return l, nil
}

func (l *allowList) allows(ev *event.Event) bool {
	for _, g := range l.actors {
		for _, s := range []string{ev.Actor.ARN, ev.Actor.Name(), ev.Actor.UserName, ev.Actor.PrincipalID, ev.Actor.SessionIssuer} {
			if s != "" && iampolicy.MatchGlob(g, s) {
				return true
			}
		}
	}
	if ev.SourceIP.IsValid() {
		for _, p := range l.ips {
			if p.Contains(ev.SourceIP) {
				return true
			}
		}
	}
	for _, a := range l.accounts {
		if a == ev.Account || a == ev.Actor.Account {
			return true
		}
	}
	for _, g := range l.resources {
		for _, res := range ev.Resources {
			if iampolicy.MatchGlob(g, res.ARN) {
				return true
			}
		}
	}
	return false
}

// parseWindow reads a window duration: Go syntax, plus "d" for days.
func parseWindow(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("required")
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := time.ParseDuration(d + "h"); err == nil && n > 0 {
			return 24 * n, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration (e.g. 10m, 24h, 7d)", s)
	}
	return d, nil
}

var recordRef = regexp.MustCompile(`\brecord\b`)

func usesRecord(expr string) bool { return recordRef.MatchString(expr) }

// staticTitle is the catalogue title: the template with its actions
// removed.
// staticTitle is a title template as a fixed text, for listings and as
// the fallback when the template cannot be executed on an event: each
// value it prints becomes {name} (the last part of its field), and
// conditional parts become "…".
func staticTitle(src string) string {
	t, err := template.New("t").Funcs(templateFuncs).Parse(src)
	if err != nil || t.Tree == nil {
		re := regexp.MustCompile(`\{\{[^}]*\}\}`)
		return strings.Join(strings.Fields(re.ReplaceAllString(src, "…")), " ")
	}
	var b strings.Builder
	for _, n := range t.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			b.Write(n.Text)
		case *parse.ActionNode:
			b.WriteString(placeholder(n.Pipe))
		default:
			b.WriteString("…")
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// placeholder names the value a template action prints: the last field
// it reads.
func placeholder(p *parse.PipeNode) string {
	name := ""
	var visit func(n parse.Node)
	visit = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.FieldNode:
			name = n.Ident[len(n.Ident)-1]
		case *parse.VariableNode:
			name = n.Ident[len(n.Ident)-1]
		case *parse.ChainNode:
			if len(n.Field) > 0 {
				name = n.Field[len(n.Field)-1]
			}
		case *parse.PipeNode:
			for _, c := range n.Cmds {
				visit(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				visit(a)
			}
		}
	}
	visit(p)
	if name == "" || name == "$" {
		return "…"
	}
	return "{" + name + "}"
}

var templateFuncs = template.FuncMap{
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"join": func(sep string, v any) string {
		var parts []string
		if l, ok := v.([]any); ok {
			for _, e := range l {
				parts = append(parts, fmt.Sprint(e))
			}
		}
		return strings.Join(parts, sep)
	},
	"default": func(def string, v any) string {
		if v == nil || v == "" {
			return def
		}
		return fmt.Sprint(v)
	},
	"hasPrefix":  func(s, prefix any) bool { return strings.HasPrefix(str(s), str(prefix)) },
	"hasSuffix":  func(s, suffix any) bool { return strings.HasSuffix(str(s), str(suffix)) },
	"trimPrefix": func(prefix, s any) string { return strings.TrimPrefix(str(s), str(prefix)) },
	// base is the last part of an ARN or path: the name after the last
	// "/" or ":".
	"base": func(v any) string {
		s := str(v)
		return s[strings.LastIndexAny(s, "/:")+1:]
	},
}

// str is v as text for templates: missing values are empty.
func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// isEnvelope reports a pattern that uses only EventBridge envelope keys.
func isEnvelope(pat []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(pat, &top) != nil || len(top) == 0 {
		return false
	}
	for k := range top {
		if !slices.Contains(envelopeKeys, k) {
			return false
		}
	}
	return true
}

// nodeJSON converts a YAML node (a pattern written in YAML or JSON) to JSON.
func nodeJSON(n *yaml.Node) ([]byte, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []byte(n.Value), nil // JSON text in a YAML string
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func lineOfKey(doc *yaml.Node, key string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// itemLines returns the line of each item of the list at key.
func itemLines(doc *yaml.Node, key string) []int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, item := range n.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// readDocs splits src into its YAML documents, decoding each strictly into
// a Spec (unknown keys are errors, with their line) and keeping its node
// for line numbers. Each document is parsed once.
func readDocs(file string, src []byte) ([]Spec, []*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var specs []Spec
	var nodes []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		if errs := unknownKeys(file, &n, reflect.TypeOf(Spec{})); len(errs) > 0 {
			return nil, nil, errors.Join(errs...)
		}
		var sp Spec
		if err := n.Decode(&sp); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, yamlError(err))
		}
		specs = append(specs, sp)
		nodes = append(nodes, &n)
	}
	return specs, nodes, nil
}

// unknownKeys reports the mapping keys under n that t (a struct with yaml
// tags, through pointers, slices and nested structs) has no field for.
func unknownKeys(file string, n *yaml.Node, t reflect.Type) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t == reflect.TypeOf(yaml.Node{}):
		return nil // taken as it is
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		var errs []error
		for _, c := range n.Content {
			errs = append(errs, unknownKeys(file, c, t.Elem())...)
		}
		return errs
	case t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode:
		return nil // a type mismatch, which decoding reports
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			errs = append(errs, unknownKeys(file, v, t)...)
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("%s:%d: %s: unknown key", file, k.Line, k.Value)
			if near := nearest(k.Value, names); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		errs = append(errs, unknownKeys(file, v, ft)...)
	}
	return errs
}

// nearest returns the name within two edits of s, if one is.
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return err
}
