package detect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/event"
)

// fakeRule records which events reach it.
type fakeRule struct {
	id   string
	keys []Key
	seen []string
	fail error
	boom bool
}

func (r *fakeRule) Meta() Meta  { return Meta{ID: r.id, Title: r.id, Version: 1} }
func (r *fakeRule) Keys() []Key { return r.keys }
func (r *fakeRule) Eval(_ context.Context, ev *event.Event) ([]Finding, error) {
	if r.boom {
		panic("rule bug")
	}
	r.seen = append(r.seen, ev.ID)
	if r.fail != nil {
		return nil, r.fail
	}
	return []Finding{{Severity: High, Title: r.id + " on " + ev.ID}}, nil
}

func TestEngineRoutesByKey(t *testing.T) {
	exact := &fakeRule{id: "exact", keys: []Key{{Kind: event.KindCloudTrail, Service: "s3.amazonaws.com", Action: "PutBucketAcl"}}}
	service := &fakeRule{id: "service", keys: []Key{{Kind: event.KindCloudTrail, Service: "s3.amazonaws.com"}}}
	kind := &fakeRule{id: "kind", keys: []Key{{Kind: event.KindFlowLog}}}
	all := &fakeRule{id: "all"}
	twice := &fakeRule{id: "twice", keys: []Key{{Kind: event.KindCloudTrail, Service: "s3.amazonaws.com"}, {Kind: event.KindCloudTrail, Service: "s3.amazonaws.com", Action: "PutBucketAcl"}}}
	e, err := New([]Rule{exact, service, kind, all, twice})
	if err != nil {
		t.Fatal(err)
	}
	events := []*event.Event{
		{ID: "acl", Kind: event.KindCloudTrail, Service: "s3.amazonaws.com", Action: "PutBucketAcl"},
		{ID: "list", Kind: event.KindCloudTrail, Service: "s3.amazonaws.com", Action: "ListBuckets"},
		{ID: "ec2", Kind: event.KindCloudTrail, Service: "ec2.amazonaws.com", Action: "RunInstances"},
		{ID: "flow", Kind: event.KindFlowLog, Service: "vpc-flow-logs", Action: "ACCEPT"},
		{ID: "signin", Kind: event.KindSignIn, Service: "s3.amazonaws.com", Action: "PutBucketAcl"},
	}
	total := 0
	for _, ev := range events {
		fs, errs := e.Eval(context.Background(), ev, nil)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		for _, f := range fs {
			if f.Event != ev || f.Rule == "" {
				t.Errorf("finding %+v not filled in", f)
			}
		}
		total += len(fs)
	}
	for _, tc := range []struct {
		r    *fakeRule
		want string
	}{
		{exact, "acl"}, {service, "acl,list"}, {kind, "flow"}, {all, "acl,list,ec2,flow,signin"}, {twice, "acl,list"},
	} {
		if got := strings.Join(tc.r.seen, ","); got != tc.want {
			t.Errorf("rule %s saw %s, want %s", tc.r.id, got, tc.want)
		}
	}
	if total != 1+2+1+5+2 {
		t.Errorf("%d findings", total)
	}
}

func TestEngineRuleFaults(t *testing.T) {
	bad := &fakeRule{id: "bad", fail: errors.New("broken")}
	panics := &fakeRule{id: "panics", boom: true}
	good := &fakeRule{id: "good"}
	e, err := New([]Rule{bad, panics, good})
	if err != nil {
		t.Fatal(err)
	}
	fs, errs := e.Eval(context.Background(), &event.Event{ID: "x"}, nil)
	if len(fs) != 1 || fs[0].Rule != "good" {
		t.Errorf("findings %+v; the healthy rule must still run", fs)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v", errs)
	}
	var re *RuleError
	if !errors.As(errs[1], &re) || re.Rule != "panics" || !strings.Contains(re.Error(), "panic: rule bug") {
		t.Errorf("panic reported as %v", errs[1])
	}
}

func TestNewRejectsBadIDs(t *testing.T) {
	for _, rules := range [][]Rule{
		{&fakeRule{id: "Bad_ID"}},
		{&fakeRule{id: ""}},
		{&fakeRule{id: "dup"}, &fakeRule{id: "dup"}},
	} {
		if _, err := New(rules); err == nil {
			t.Errorf("New(%v) accepted bad ids", rules[0].Meta().ID)
		}
	}
}

func TestSeverity(t *testing.T) {
	for i, name := range []string{"info", "low", "medium", "high", "critical"} {
		s, err := ParseSeverity(strings.ToUpper(name))
		if err != nil || s != Severity(i) || s.String() != name {
			t.Errorf("ParseSeverity(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity(urgent) succeeded")
	}
	var s Severity
	if err := s.UnmarshalText([]byte("high")); err != nil || s != High {
		t.Errorf("UnmarshalText = %v, %v", s, err)
	}
	if !(Critical > High && High > Medium && Medium > Low && Low > Info) {
		t.Error("severities are not ordered")
	}
}

// TestRulesForMatchesIndex holds the merged lookup to the index it is made
// from: an event meets the rules under its exact key, its kind and service,
// its kind, and the empty key, in that order, each once.
func TestRulesForMatchesIndex(t *testing.T) {
	kinds := []event.Kind{event.KindCloudTrail, event.KindSignIn, event.KindFlowLog}
	svcs := []string{"", "s3.amazonaws.com", "iam.amazonaws.com"}
	acts := []string{"", "PutBucketAcl", "CreateUser", "GetObject"}
	var rules []Rule
	n := 0
	for _, k := range kinds {
		for _, s := range svcs {
			for _, a := range acts {
				// Rules under one key, under two, and under none.
				rules = append(rules, keyed{id: fmt.Sprintf("r-%d", n), keys: []Key{{Kind: k, Service: s, Action: a}}})
				n++
				if n%3 == 0 {
					rules = append(rules, keyed{id: fmt.Sprintf("r-%d", n), keys: []Key{{Kind: k, Service: s}, {Kind: k}}})
					n++
				}
			}
		}
	}
	rules = append(rules, keyed{id: "r-all"})
	e, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(kinds, event.KindGuardDuty) {
		for _, s := range append(svcs, "ec2.amazonaws.com") {
			for _, a := range append(acts, "RunInstances") {
				ev := &event.Event{Kind: k, Service: s, Action: a}
				var want []int
				for _, key := range []Key{{Kind: k, Service: s, Action: a}, {Kind: k, Service: s}, {Kind: k}, {}} {
					for _, i := range e.index[key] {
						if !slices.Contains(want, i) {
							want = append(want, i)
						}
					}
				}
				if got := e.rulesFor(ev); !slices.Equal(got, want) {
					t.Errorf("%v %q %q: rules %v, want %v", k, s, a, got, want)
				}
			}
		}
	}
}

type keyed struct {
	id   string
	keys []Key
}

func (r keyed) Meta() Meta  { return Meta{ID: r.id, Severity: Low} }
func (r keyed) Keys() []Key { return r.keys }
func (r keyed) Eval(context.Context, *event.Event) ([]Finding, error) {
	return nil, nil
}
