package rulefile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/cel-go/common/types"
)

// FuzzParseFile feeds arbitrary bytes to the rule file compiler: it must
// return rules or an error, never panic, and a rule it accepts must run its
// tests without panicking.
func FuzzParseFile(f *testing.F) {
	for _, dir := range []string{"testdata", "../../rules/catalog"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("id: x\ntitle: t\nseverity: low\nmatch: {eventName: [{prefix: Get}]}\ncondition: 'event.action.startsWith(\"G\")'\n"))
	f.Add([]byte("tests_for: x\ntests: [{expect: alert, event: 'not json'}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := ParseFile("fuzz.yaml", src, Options{})
		if err != nil {
			return
		}
		for _, r := range file.Rules {
			r.RunTests(Options{})
		}
	})
}

// FuzzFastPaths decodes arbitrary bytes as a record and, when they make an
// event, evaluates every catalogue expression and renders every catalogue
// title both on the fast paths and with cel-go and text/template: the
// answers must agree (values, or errors of the same kind), and nothing may
// panic. Records are the hostile input; the fast paths read them directly.
func FuzzFastPaths(f *testing.F) {
	rules := catalogueRules(f)
	pairs := fastAndSlow(f, catalogueExprs(f))
	paths, _ := filepath.Glob("../../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	for _, p := range paths[:min(len(paths), 12)] {
		b, _ := os.ReadFile(p)
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) == nil && len(recs) > 0 {
			f.Add([]byte(recs[0]))
		}
	}
	f.Add([]byte(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]},"requestParameters":null}}`))
	f.Add([]byte("2 123456789010 eni-1 203.0.113.12 10.0.0.5 49152 22 6 20 4249 1418530010 1418530070 ACCEPT OK"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 64<<10 {
			return
		}
		evs, err := decodeTestEvent(scalarNode(string(raw)))
		if err != nil || len(evs) == 0 {
			return
		}
		ev := evs[0]
		for _, p := range pairs {
			got, _, gerr := p.fast.Eval(&vars{ev: ev, view: newEventView(ev)})
			want, _, werr := p.slow.Eval(&vars{ev: ev, view: newEventView(ev)})
			switch {
			case gerr != nil || werr != nil:
				if gerr == nil || werr == nil {
					// cel-go's cost limit is counted differently from the
					// fast path's step budget: only that may differ.
					if !strings.Contains(fmt.Sprint(gerr, werr), "cost limit") {
						t.Errorf("%s: fast %v (%v), cel-go %v (%v)", p.expr, got, gerr, want, werr)
					}
				} else if isMissing(gerr) != isMissing(werr) {
					t.Errorf("%s: fast error %v, cel-go error %v", p.expr, gerr, werr)
				}
			case got.Equal(want) != types.True:
				t.Errorf("%s: fast %v, cel-go %v", p.expr, got.Value(), want.Value())
			}
		}
		for _, r := range rules {
			if r.titleFast == nil {
				continue
			}
			if got, err := r.titleFast.render(ev, r.cfg); err == nil {
				if want := r.renderTitleSlow(r.vars(ev)); strings.ReplaceAll(got, "<no value>", "") != want {
					t.Errorf("%s: title %q, text/template %q", r.meta.ID, got, want)
				}
			}
		}
	})
}
