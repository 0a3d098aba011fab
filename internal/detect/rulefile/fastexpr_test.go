package rulefile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/event"
)

// catalogueExprs returns every CEL expression of the built-in catalogue.
func catalogueExprs(t testing.TB) []string {
	t.Helper()
	paths, _ := filepath.Glob("../../rules/catalog/*.yaml")
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var sp Spec
			if dec.Decode(&sp) != nil {
				break
			}
			for _, e := range []string{sp.Condition, sp.SeverityExpr, sp.Resource} {
				if e != "" {
					out = append(out, e)
				}
			}
			for _, e := range sp.Details {
				out = append(out, e)
			}
			if th := sp.Threshold; th != nil {
				out = append(out, th.GroupBy, th.Distinct, th.Sum)
			}
			if fs := sp.FirstSeen; fs != nil {
				out = append(out, fs.Entity, fs.Value)
			}
			if d := sp.Dedup; d != nil {
				out = append(out, d.Key)
			}
		}
		f.Close()
	}
	if len(out) < 200 {
		t.Fatalf("only %d catalogue expressions", len(out))
	}
	return out
}

// TestFastExprAgreesWithCEL evaluates every expression the fast path
// takes both ways, on real events of every kind and on awkward ones, and
// requires the same value, or an error of the same kind (a missing field,
// which makes a condition false, or another, which is a rule error).
func TestFastExprAgreesWithCEL(t *testing.T) {
	exprs := append(catalogueExprs(t),
		`has(event.geo.country)`, `!has(event.geo.country)`, `event.geo.country == "SE"`,
		`event.actor.type == "IAMUser" || event.nope`, `event.nope || event.actor.type == "IAMUser"`,
		`event.nope && false`, `false && event.nope`, `true && event.nope`, `event.nope || true`,
		`!event.nope`, `!event.action`, `event.action && true`, `event.action || false`,
		`event.action == 1`, `event.action != 1`, `event.nope == "x"`, `event.nope != "x"`, `null == event.nope`,
		`record.requestParameters == null`, `record.requestParameters != null`, `record.errorCode == null`,
		`record.eventVersion == "1.08"`, `record.readOnly == true`, `record.readOnly == "true"`,
		`event.action in ["AssumeRole", "GetUser"]`, `"AssumeRole" in event.action`, `event.nope in [1]`,
		`"type" in event.actor`, `"nope" in event.actor`, `event.action.startsWith("Get")`, `event.time.startsWith("2")`,
		`event.action + "/" + event.service`, `event.action + 1`, `1 + 2 == 3`, `event.actor.name.contains("a")`,
		`is_private_ip(event.source_ip)`, `is_private_ip(event.time)`, `is_public_ip(event.source_address)`,
		`in_cidr(event.source_ip, ["10.0.0.0/8", "192.0.2.0/24"])`, `in_cidr(event.source_ip, "0.0.0.0/0")`, `in_cidr(event.source_ip, event.read_only)`,
		`has(event.actor.nope.deeper)`, `has(event.action.nope)`, `event.action.nope`,
		`has(record.requestParameters.roleArn)`, `has(record.requestParameters.nope)`, `record.requestParameters.durationSeconds > 900`,
		`event.flow.dstport == 22 && event.flow.action == "ACCEPT"`, `event.finding.severity >= 7.0`,
		`guardduty_band(event.finding.severity)`, `config.known_accounts`, `event.account in config.known_accounts`,
		`policy_admin(record.requestParameters.policyDocument)`, `event.read_only ? "r" : "w"`, `event.action ? 1 : 2`,
		`[event.action, event.nope]`, `[event.action, event.service]`, `glob(event.action, "Get*")`,
		`string(event.time)`, `string(event.read_only)`, `string(event.actor)`, `string(record.requestParameters)`, `int(record.requestParameters.durationSeconds)`,
		`double(event.flow.bytes)`, `int(event.action)`, `type(record.requestParameters) == map`, `type(event.resources) == list`,
		`type(event.action) == string`, `type(record.errorCode) == null_type`, `size(event.resources)`, `size(event.action)`, `event.action.size()`,
		`size(event.read_only)`, `event.action.lowerAscii()`, `event.actor.name.lowerAscii() == "root"`, `event.read_only.lowerAscii()`,
		`event.action.matches("^Get")`, `matches(event.action, "Role$")`, `event.read_only.matches("x")`,
		// Comprehensions, with errors inside and around them.
		`event.resources.exists(r, r.arn.startsWith("arn:aws:s3"))`, `event.resources.all(r, has(r.arn))`,
		`event.resources.exists(r, r.nope == 1)`, `event.resources.all(r, r.nope == 1)`, `event.resources.exists_one(r, has(r.arn))`,
		`[1, event.nope, 3].exists(x, x == 3)`, `[1, event.nope].exists(x, x == 3)`, `[event.nope].all(x, false)`,
		`[{"a": 1}, 2].exists(x, x.a == 1)`, `[2, {"a": 1}].exists(x, x.a == 1)`, `[2, {"a": 1}].all(x, x.a == 1)`,
		`event.resources.map(r, r.arn)`, `event.resources.filter(r, has(r.type)).map(r, r.type)`, `event.actor.map(k, k).size()`, `event.actor.filter(k, k == "type")`,
		`event.actor.exists(k, k == "type")`, `event.action.exists(c, c == "G")`, `event.nope.exists(x, true)`,
		`record.requestParameters.exists(k, k.startsWith("role"))`, `record.resources.map(r, r.ARN)`,
		`[1, 2, 3].map(x, [4, 5].map(y, x * y))`, `[1, 2].exists(x, [x].exists(x, x == 2))`, `[1, 2].map(x, x).map(y, y + 1)`,
		`cel.bind(a, event.action, a + a)`, `cel.bind(a, [], a + [1])`, `cel.bind(a, event.nope, 1)`, `cel.bind(a, event.nope, a)`,
		`[[1, 2], [3]].map(l, l.size())`, `[].exists(x, x)`, `[].all(x, x)`, `{}.exists(k, true)`, `{"a": 1, "b": 2}.filter(k, k == "b")`,
		// Indexing, order, arithmetic, join and split.
		`event.resources[0]`, `event.resources[0].arn`, `event.resources[-1]`, `event.resources[99]`, `event.resources["a"]`,
		`event.actor["type"]`, `event.actor["nope"]`, `event.action[0]`, `record.resources[0].ARN`, `[1, 2][dyn(1.0)]`, `[1, 2][dyn(1.5)]`, `[1, 2][dyn(1u)]`,
		`record.requestParameters["roleArn"]`, `event.nope[0]`,
		`event.time < "2020"`, `event.time >= "2020"`, `dyn(1) < 2.5`, `2.5 <= dyn(2)`, `1u > dyn(0)`, `dyn(1u) >= 1`, `event.action > 1`, `0.0/0.0 < 1.0`, `1.0 > 0.0/0.0`,
		`event.flow.dstport < event.flow.srcport`, `event.flow.tcp_flags % 32 >= 16`, `event.flow.bytes - 1 > 0`, `7 % 0`, `7 / 0`, `-event.flow.dstport`,
		`dyn("a") - dyn("b")`, `dyn(5) * 2.0`, `dyn(5) / 2.0`, `dyn(5.0) % 2`, `-dyn("a")`, `event.action * 2`, `-event.action`,
		`["a", "b"].join(",")`, `["a", "b"].join()`, `[1, "b"].join(",")`, `event.action.split("e")`, `event.actor.type.split("")`,
		`event.resources.map(r, r.arn).join(" ")`, `event.nope.join(",")`,
		`{"a": event.action, "b": event.service}`, `{"a": event.nope}`, `{event.action: 1}["GetUser"]`, `{"a": 1, "b": [event.account]}.b[0]`,
		`event.resources.map(r, {"arn": r.arn})`,
		// Chains of +: strings joined at once, anything else folded.
		`event.account + "/" + event.actor.arn + "/" + event.action`, `event.account + "/" + event.nope + "/" + dyn(1)`, `event.account + "/" + dyn(1) + event.nope`,
		`"a" + dyn(1) + event.nope`, `1 + 2 + dyn(3)`, `dyn(1) + "a" + "b"`, `"a" + "b" + dyn(1)`, `[1] + [2] + [event.action]`,
		`"" + ""`, `event.action + (has(event.actor.arn) ? event.actor.arn : event.actor.name) + "/" + string(event.flow.dstport)`,
		`dyn(1.5) + 2.5 + dyn(1)`, `event.action + ("x" + event.region) + "y"`, `duration("1s") + duration("2s") + duration("3s")`,
	)
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{TrustedAccounts: []string{"111111111111"}, Network: config.Network{InternalCIDRs: []string{"10.0.0.0/8"}}}
	cfgMap := cfg.CEL()
	evs := fastTestEvents(t)
	fastCount, compared := 0, 0
	for _, expr := range exprs {
		if expr == "" {
			continue
		}
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", expr, iss.Err())
		}
		fast := compileFast(ast)
		if fast == nil {
			continue
		}
		fastCount++
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range evs {
			v := &vars{ev: ev, view: newEventView(ev), cfg: cfgMap}
			want, _, werr := prg.Eval(v)
			got := fast(&vars{ev: ev, view: newEventView(ev), cfg: cfgMap})
			_, gerrIs := got.(*types.Err)
			switch {
			case werr != nil || gerrIs:
				if werr == nil || !gerrIs {
					t.Errorf("event %d: %s: CEL %v (err %v), fast %v", i, expr, val(want), werr, val(got))
				} else if isMissing(werr) != isMissing(got.(*types.Err)) {
					t.Errorf("event %d: %s: CEL error %v, fast error %v", i, expr, werr, got)
				}
			case got.Equal(want) != types.True:
				t.Errorf("event %d: %s: CEL %v, fast %v", i, expr, val(want), val(got))
			}
			compared++
		}
	}
	if fastCount < 150 || compared < 20000 {
		t.Errorf("%d expressions on the fast path, %d comparisons", fastCount, compared)
	}
	t.Logf("%d of %d expressions take the fast path; %d comparisons", fastCount, len(exprs), compared)
}

func val(v ref.Val) any {
	if v == nil {
		return nil
	}
	return v.Value()
}

// fastTestEvents are real events of every kind, and awkward ones.
func fastTestEvents(t testing.TB) []*event.Event {
	t.Helper()
	var evs []*event.Event
	add := func(raw []byte) {
		got, err := decodeTestEvent(scalarNode(string(raw)))
		if err == nil {
			evs = append(evs, got...)
		}
	}
	paths, _ := filepath.Glob("../../../testdata/aws/cloudtrail/*/*.json")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) != nil {
			continue
		}
		for i, r := range recs {
			if i < 8 {
				add(r)
			}
		}
	}
	for _, p := range []string{"../../../testdata/aws/access-analyzer/access-analyzer-finding-active.json", "../../decode/testdata/envelopes/eventbridge-guardduty.json"} {
		if b, err := os.ReadFile(p); err == nil {
			add(b)
		}
	}
	add([]byte("2 123456789010 eni-1235b8ca123456789 203.0.113.12 10.0.0.5 49152 22 6 20 4249 1418530010 1418530070 ACCEPT OK"))
	add([]byte("2 123456789010 eni-1235b8ca123456789 10.0.0.5 203.0.113.12 22 49152 6 20 4249 1418530010 1418530070 REJECT OK"))
	add([]byte(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","readOnly":"true","requestParameters":null,"errorCode":null}`))
	add([]byte(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","userIdentity":null,"requestParameters":{"durationSeconds":"3600","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}}`))
	kinds := map[event.Kind]bool{}
	for _, ev := range evs {
		kinds[ev.Kind] = true
	}
	if len(evs) < 80 || !kinds[event.KindFlowLog] || !kinds[event.KindSignIn] || !kinds[event.KindAccessAnalyzer] {
		t.Fatalf("%d events of kinds %v", len(evs), kinds)
	}
	if !strings.Contains(string(evs[0].Record), "eventVersion") {
		t.Fatal("unexpected first event")
	}
	return evs
}

// TestFastComprehensionsAreBounded checks that a comprehension nested in
// another over a long list in hostile input stops, with an error, as
// cel-go's cost limit stops it, instead of taking quadratic time.
func TestFastComprehensionsAreBounded(t *testing.T) {
	items := strings.Repeat(`1,`, 3000) + `2`
	evs, err := decodeTestEvent(scalarNode(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","requestParameters":{"items":[` + items + `]}}`))
	if err != nil || len(evs) != 1 {
		t.Fatal(len(evs), err)
	}
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		expr    string
		bounded bool
	}{
		{`record.requestParameters.items.exists(x, x == 2)`, false},
		{`record.requestParameters.items.map(x, x + 1.0).size() == 3001`, false},
		{`record.requestParameters.items.exists(x, record.requestParameters.items.exists(y, x == y && x == 3))`, true},
	} {
		prg, _, err := compileProgram(env, tc.expr, cel.BoolType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := prg.(*fastProgram); !ok {
			t.Fatalf("%s: not on the fast path", tc.expr)
		}
		v := &vars{ev: evs[0], view: newEventView(evs[0])}
		out, _, err := prg.Eval(v)
		switch {
		case tc.bounded && (err == nil || !strings.Contains(err.Error(), "cost limit")):
			t.Errorf("%s: got %v, %v; want the cost limit", tc.expr, out, err)
		case !tc.bounded && (err != nil || out != types.True):
			t.Errorf("%s: got %v, %v; want true", tc.expr, out, err)
		}
	}
}
