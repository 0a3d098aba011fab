package rulefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

// TestResult is the outcome of one of a rule's tests.
type TestResult struct {
	Rule string
	Name string
	File string
	Line int
	// Err says why the test failed; nil when it passed.
	Err error
}

// Tests returns how many tests the rule carries, and how many of them
// expect an alert and how many expect none.
func (r *Rule) Tests() (total, positive, negative int) { return countTests(r.spec.Tests) }

func countTests(tests []TestSpec) (total, positive, negative int) {
	for _, tc := range tests {
		total++
		switch {
		case tc.Expect == "alert" || (tc.Alerts != nil && *tc.Alerts > 0):
			positive++
		case tc.Expect == "none" || (tc.Alerts != nil && *tc.Alerts == 0):
			negative++
		}
	}
	return
}

// RunTests runs each of the rule's tests against a fresh copy of the rule
// with empty, in-memory state: the test's events are decoded as Vigil
// decodes any input, and the alerts they raise are checked.
func (r *Rule) RunTests(base Options) []TestResult {
	var out []TestResult
	for i, tc := range r.spec.Tests {
		res := TestResult{Rule: r.meta.ID, Name: testName(tc, i), File: r.file, Line: testLine(r, i)}
		res.Err = runTest(tc, base, func(opts Options) (detect.Rule, error) {
			return compile(r.spec, r.file, &yaml.Node{Line: r.line}, opts)
		})
		out = append(out, res)
	}
	return out
}

func testName(tc TestSpec, i int) string {
	if tc.Name != "" {
		return tc.Name
	}
	return fmt.Sprintf("test %d", i+1)
}

// runTest runs one test against a rule made fresh for it, with the test's
// configuration and memory-only state.
func runTest(tc TestSpec, base Options, freshRule func(Options) (detect.Rule, error)) error {
	opts := Options{Config: base.Config, Origin: base.Origin}
	if tc.Config.Kind != 0 {
		b, err := yaml.Marshal(&tc.Config)
		if err != nil {
			return err
		}
		cfg, err := config.Parse("test config", b)
		if err != nil {
			return err
		}
		opts.Config = cfg
	}
	fresh, err := freshRule(opts)
	if err != nil {
		return err
	}
	stateful, _ := fresh.(detect.Stateful)
	var inputs []testEvent
	if tc.Event.Kind != 0 {
		inputs = append(inputs, testEvent{node: &tc.Event})
	}
	for i := range tc.Events {
		te, err := eventItem(&tc.Events[i])
		if err != nil {
			return fmt.Errorf("events[%d]: %w", i, err)
		}
		inputs = append(inputs, te)
	}
	if len(inputs) == 0 {
		return errors.New("no event or events")
	}
	if tc.Expect == "" && tc.Alerts == nil {
		return errors.New("says neither expect nor alerts")
	}
	var all, last []detect.Finding
	for i, in := range inputs {
		evs, err := decodeTestEvent(in.node)
		if err != nil {
			return fmt.Errorf("event %d: %w", i+1, err)
		}
		last = last[:0]
		for _, ev := range evs {
			geo := tc.Geo
			if in.geo != nil {
				geo = in.geo
			}
			if geo != nil {
				ev.SourceGeo = geo.toEvent()
			}
			fs, err := fresh.Eval(context.Background(), ev)
			if err != nil {
				return fmt.Errorf("event %d: %w", i+1, err)
			}
			for _, f := range fs {
				if f.Pending != nil {
					if stateful == nil {
						return fmt.Errorf("event %d: a pending finding from a rule that cannot settle it", i+1)
					}
					if f.Event == nil {
						f.Event = ev
					}
					if f.Rule == "" {
						f.Rule = fresh.Meta().ID
					}
					settled, err := stateful.Settle(context.Background(), f)
					if err != nil {
						return fmt.Errorf("event %d: %w", i+1, err)
					}
					last = append(last, settled...)
					continue
				}
				last = append(last, f)
			}
		}
		all = append(all, last...)
	}
	switch tc.Expect {
	case "alert":
		if len(last) == 0 {
			return fmt.Errorf("expected an alert, got none")
		}
	case "none":
		if len(last) > 0 {
			return fmt.Errorf("expected no alert, got %q", last[0].Title)
		}
	}
	if tc.Alerts != nil && len(all) != *tc.Alerts {
		return fmt.Errorf("expected %d alerts, got %d", *tc.Alerts, len(all))
	}
	check := last
	if len(check) == 0 {
		check = all
	}
	if (tc.Severity != "" || tc.Title != "") && len(check) == 0 {
		return errors.New("no alert to check the severity or title of")
	}
	if tc.Severity != "" {
		want, err := detect.ParseSeverity(tc.Severity)
		if err != nil {
			return err
		}
		if got := check[len(check)-1].Severity; got != want {
			return fmt.Errorf("severity %s, want %s", got, want)
		}
	}
	if tc.Title != "" && !strings.Contains(check[len(check)-1].Title, tc.Title) {
		return fmt.Errorf("title %q does not contain %q", check[len(check)-1].Title, tc.Title)
	}
	return nil
}

type testEvent struct {
	node *yaml.Node
	geo  *GeoSpec
}

// eventItem reads one entry of a test's events: a record, or
// {record: ..., geo: ...}.
func eventItem(n *yaml.Node) (testEvent, error) {
	if n.Kind == yaml.MappingNode && len(n.Content) >= 2 && (n.Content[0].Value == "record" || n.Content[0].Value == "geo") {
		var w struct {
			Record yaml.Node `yaml:"record"`
			Geo    *GeoSpec  `yaml:"geo"`
		}
		if err := n.Decode(&w); err != nil {
			return testEvent{}, err
		}
		if w.Record.Kind == 0 {
			return testEvent{}, errors.New("record is required beside geo")
		}
		return testEvent{node: &w.Record, geo: w.Geo}, nil
	}
	return testEvent{node: n}, nil
}

// decodeTestEvent decodes a test's record as any input is decoded.
func decodeTestEvent(n *yaml.Node) ([]*event.Event, error) {
	var src []byte
	if n.Kind == yaml.ScalarNode {
		src = []byte(n.Value) // JSON text, or a flow-log line
	} else {
		b, err := nodeJSON(n)
		if err != nil {
			return nil, err
		}
		src = b
	}
	d := decode.NewDecoder(decode.Limits{})
	var evs []*event.Event
	var errs []error
	_, err := decode.Split(context.Background(), bytes.NewReader(src), "test", decode.Limits{}, func(batch []decode.Frame) error {
		for i := range batch {
			d.Decode(&batch[i], func(ev *event.Event, err error) bool {
				if err != nil {
					errs = append(errs, err)
					return true
				}
				evs = append(evs, ev)
				return true
			})
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(evs) == 0 {
		return nil, errors.New("decodes to no event")
	}
	return evs, nil
}

func (g *GeoSpec) toEvent() *event.Geo {
	e := &event.Geo{Country: g.Country, City: g.City, ASN: g.ASN}
	if g.Lat != nil && g.Lon != nil {
		e.Latitude, e.Longitude, e.HasLocation = *g.Lat, *g.Lon, true
	}
	return e
}

// testLine is the line of the rule's i-th test, when known.
func testLine(r *Rule, i int) int {
	if i < len(r.testLines) {
		return r.testLines[i]
	}
	return r.line
}

// scalarNode wraps text as a YAML string node.
func scalarNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
