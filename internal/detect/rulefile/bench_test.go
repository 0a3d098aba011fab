package rulefile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/cel-go/cel"

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
	env, err := sharedEnv()
	if err != nil {
		b.Fatal(err)
	}
	evs := fastTestEvents(b)
	var fast []cel.Program
	var slow []cel.Program
	for _, r := range catalogueRules(b) {
		if r.spec.Condition == "" {
			continue
		}
		p, _, err := compileProgram(env, r.spec.Condition, cel.BoolType, nil)
		if err != nil {
			b.Fatal(err)
		}
		fp, ok := p.(*fastProgram)
		if !ok {
			continue
		}
		prg, err := fp.plan()
		if err != nil {
			b.Fatal(err)
		}
		fast, slow = append(fast, fp), append(slow, prg)
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
