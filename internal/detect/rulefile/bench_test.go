package rulefile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/cel-go/cel"

	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/event"
)

// catalogueRules compiles the built-in catalogue's rule files.
func catalogueRules(b testing.TB) []*Rule {
	paths, _ := filepath.Glob("../../rules/catalog/*.yaml")
	var rules []*Rule
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		f, err := ParseFile(p, src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, f.Rules...)
	}
	return rules
}

// BenchmarkTitle renders every catalogue title for each of its rule's
// test events, on the fast path and with text/template.
func BenchmarkTitle(b *testing.B) {
	type job struct {
		r  *Rule
		ev *event.Event
	}
	var jobs []job
	for _, r := range catalogueRules(b) {
		for _, tc := range r.spec.Tests {
			if tc.Event.Kind == 0 {
				continue
			}
			if evs, err := decodeTestEvent(&tc.Event); err == nil {
				jobs = append(jobs, job{r, evs[0]})
			}
		}
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			for _, j := range jobs {
				j.r.renderTitle(j.r.vars(j.ev))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(jobs)), "ns/title")
	})
	b.Run("text-template", func(b *testing.B) {
		for b.Loop() {
			for _, j := range jobs {
				j.r.renderTitleSlow(j.r.vars(j.ev))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(jobs)), "ns/title")
	})
}

// BenchmarkConditions evaluates every catalogue condition on real events
// of every kind, on the fast path and on cel-go's interpreter. The events'
// record views stay indexed between runs: this measures evaluating, not
// reading JSON.
func BenchmarkConditions(b *testing.B) {
	evs := fastTestEvents(b)
	var conds []string
	for _, r := range catalogueRules(b) {
		conds = append(conds, r.spec.Condition)
	}
	var fast, slow []cel.Program
	for _, p := range fastAndSlow(b, conds) {
		fast, slow = append(fast, p.fast), append(slow, p.slow)
	}
	for _, bc := range []struct {
		name string
		prgs []cel.Program
	}{{"fast", fast}, {"cel-go", slow}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				for _, ev := range evs {
					v := &vars{ev: ev, view: newEventView(ev)}
					for _, p := range bc.prgs {
						p.Eval(v)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)*len(bc.prgs)), "ns/eval")
		})
	}
}

// exprPair is an expression compiled for the fast path and for cel-go.
type exprPair struct {
	expr       string
	fast, slow cel.Program
}

// fastAndSlow compiles each expression the fast path takes both ways.
func fastAndSlow(tb testing.TB, exprs []string) []exprPair {
	env, err := sharedEnv()
	if err != nil {
		tb.Fatal(err)
	}
	var out []exprPair
	for _, e := range exprs {
		if e == "" {
			continue
		}
		p, _, err := compileProgram(env, e, cel.DynType, nil)
		if err != nil {
			tb.Fatal(err)
		}
		fp, ok := p.(*fastProgram)
		if !ok {
			continue
		}
		prg, err := fp.plan()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, exprPair{e, fp, prg})
	}
	return out
}

// BenchmarkRuleEval evaluates each catalogue rule on the events of its
// tests that it alerts on, decoding each event afresh (as a scan does:
// nothing read from a record is cached across events; decoding is in the
// time). Run one rule with -bench 'RuleEval/<id>'.
func BenchmarkRuleEval(b *testing.B) {
	for _, r := range catalogueRules(b) {
		if r.Stateful() {
			continue
		}
		var raws [][]byte
		for _, tc := range r.spec.Tests {
			if tc.Expect != "alert" {
				continue
			}
			if evs, err := decodeTestEvent(&tc.Event); err == nil && len(evs) == 1 && evs[0].Kind == event.KindCloudTrail {
				raws = append(raws, evs[0].Raw)
			}
		}
		if len(raws) == 0 {
			continue
		}
		b.Run(r.meta.ID, func(b *testing.B) {
			for b.Loop() {
				for _, raw := range raws {
					ev, err := cloudtrail.Parse(raw)
					if err != nil {
						b.Fatal(err)
					}
					if fs, err := r.Eval(context.Background(), ev); err != nil || len(fs) == 0 {
						b.Fatal(fs, err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(raws)), "ns/event")
		})
	}
}
