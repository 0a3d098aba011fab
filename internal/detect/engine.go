package detect

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

// idPattern is the form of a rule id: lower-case words joined by hyphens.
var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Engine routes events to the rules that can match them. It is immutable
// after New and safe for concurrent use.
type Engine struct {
	rules []Rule
	metas []Meta
	byID  map[string]int
	// index maps each Key to the rules registered under it. An event meets
	// the rules under its exact key, its service alone, its kind alone and
	// the empty key, in that order.
	index map[Key][]int
	// The rules an event meets, merged in that order once, at New: by its
	// exact key where rules name its action, else by kind and service
	// where rules name its service, else by kind. One lookup per event.
	byAction, byService map[Key][]int
	byKind              [event.NumKinds][]int
}

// New builds an engine over rules. It fails on a missing, malformed or
// duplicate rule id.
func New(rules []Rule) (*Engine, error) {
	e := &Engine{index: make(map[Key][]int), byID: make(map[string]int)}
	seen := make(map[string]bool, len(rules))
	for i, r := range rules {
		m := r.Meta()
		if !idPattern.MatchString(m.ID) {
			return nil, fmt.Errorf("detect: rule %d: invalid id %q", i, m.ID)
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("detect: duplicate rule id %q", m.ID)
		}
		seen[m.ID] = true
		e.byID[m.ID] = i
		e.rules = append(e.rules, r)
		e.metas = append(e.metas, m)
		keys := r.Keys()
		if len(keys) == 0 {
			keys = []Key{{}}
		}
		for _, k := range keys {
			if !slices.Contains(e.index[k], i) {
				e.index[k] = append(e.index[k], i)
			}
		}
	}
	e.merge()
	return e, nil
}

// merge fills byAction, byService and byKind from index.
func (e *Engine) merge() {
	e.byAction, e.byService = map[Key][]int{}, map[Key][]int{}
	for k := range e.byKind {
		e.byKind[k] = e.merged(Key{Kind: event.Kind(k)}, Key{})
	}
	for k := range e.index {
		if k.Service != "" {
			svc := Key{Kind: k.Kind, Service: k.Service}
			e.byService[svc] = e.merged(svc, Key{Kind: k.Kind}, Key{})
		}
		if k.Action != "" {
			e.byAction[k] = e.candidates(k)
		}
	}
}

// candidates lists the rules an event with key k meets, in the order Eval
// runs them, each once.
func (e *Engine) candidates(k Key) []int {
	return e.merged(k, Key{Kind: k.Kind, Service: k.Service}, Key{Kind: k.Kind}, Key{})
}

// merged lists the rules under keys, in order, each once.
func (e *Engine) merged(keys ...Key) []int {
	var out []int
	for _, k := range keys {
		for _, i := range e.index[k] {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	return out
}

// Rules returns the catalogue entries of the engine's rules, in order.
func (e *Engine) Rules() []Meta { return slices.Clone(e.metas) }

// RuleError is a fault of one rule on one event; the other rules still ran.
type RuleError struct {
	Rule  string
	Event *event.Event
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %s on %s: %v", e.Rule, e.Event.Origin, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// Eval runs every rule whose keys match ev and appends their findings to
// dst. A rule that fails or panics is reported as a *RuleError and does not
// stop the others.
func (e *Engine) Eval(ctx context.Context, ev *event.Event, dst []Finding) ([]Finding, []error) {
	var errs []error
	for _, i := range e.rulesFor(ev) {
		fs, err := e.eval(ctx, i, ev)
		if err != nil {
			errs = append(errs, &RuleError{Rule: e.metas[i].ID, Event: ev, Err: err})
			continue
		}
		dst = append(dst, fs...)
	}
	return dst, errs
}

// rulesFor returns the rules ev meets, in order.
func (e *Engine) rulesFor(ev *event.Event) []int {
	k := Key{Kind: ev.Kind, Service: ev.Service, Action: ev.Action}
	if rs, ok := e.byAction[k]; ok {
		return rs
	}
	k.Action = ""
	if rs, ok := e.byService[k]; ok {
		return rs
	}
	if int(ev.Kind) < len(e.byKind) {
		return e.byKind[ev.Kind]
	}
	return e.candidates(Key{Kind: ev.Kind, Service: ev.Service, Action: ev.Action})
}

func (e *Engine) eval(ctx context.Context, i int, ev *event.Event) (fs []Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			fs, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	fs, err = e.rules[i].Eval(ctx, ev)
	for j := range fs {
		if fs[j].Rule == "" {
			fs[j].Rule = e.metas[i].ID
		}
		if fs[j].Event == nil {
			fs[j].Event = ev
		}
	}
	return fs, err
}

// Prune lets every rule that remembers recent events forget what is older
// than it can use, as of now (event time). Like Settle, it must not run
// concurrently with Settle.
func (e *Engine) Prune(now time.Time) {
	for _, r := range e.rules {
		if p, ok := r.(Pruner); ok {
			p.Prune(now)
		}
	}
}

// Settle decides a candidate finding of a Stateful rule (one with Pending
// set) against the rule's state and returns the findings to report. It
// must be called in input order, from one goroutine at a time.
func (e *Engine) Settle(ctx context.Context, candidate Finding) (fs []Finding, err error) {
	i, ok := e.byID[candidate.Rule]
	if !ok {
		return nil, fmt.Errorf("detect: settle: unknown rule %q", candidate.Rule)
	}
	st, ok := e.rules[i].(Stateful)
	if !ok {
		return nil, fmt.Errorf("detect: settle: rule %q is not stateful", candidate.Rule)
	}
	defer func() {
		if p := recover(); p != nil {
			fs, err = nil, &RuleError{Rule: candidate.Rule, Event: candidate.Event, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	fs, err = st.Settle(ctx, candidate)
	if err != nil {
		return nil, &RuleError{Rule: candidate.Rule, Event: candidate.Event, Err: err}
	}
	for j := range fs {
		fs[j].Pending = nil
		if fs[j].Rule == "" {
			fs[j].Rule = candidate.Rule
		}
		if fs[j].Event == nil {
			fs[j].Event = candidate.Event
		}
	}
	return fs, nil
}
