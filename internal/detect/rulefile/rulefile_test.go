package rulefile

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
	"weak"

	"github.com/google/cel-go/cel"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/state"
)

// record is a CloudTrail record for tests.
func record(name string, extra string) []byte {
	return []byte(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"` + name + `",` +
		`"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userIdentity":{"type":"IAMUser","userName":"alice","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},` +
		`"recipientAccountId":"111122223333","eventID":"e-` + name + `"` + extra + `}`)
}

func parseOne(t *testing.T, src string, opts Options) *Rule {
	t.Helper()
	rs, err := Parse("t.yaml", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d rules", len(rs))
	}
	return rs[0]
}

func evalOne(t *testing.T, r *Rule, raw []byte) []detect.Finding {
	t.Helper()
	ev, err := parseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := r.Eval(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var out []detect.Finding
	for _, f := range fs {
		if f.Pending != nil {
			f.Event = ev
			s, err := r.Settle(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s...)
			continue
		}
		out = append(out, f)
	}
	return out
}

func parseEvent(raw []byte) (*event.Event, error) {
	evs, err := decodeTestEvent(scalarNode(string(raw)))
	if err != nil {
		return nil, err
	}
	return evs[0], nil
}

func TestMatchConditionTitle(t *testing.T) {
	r := parseOne(t, `
id: t-key-for-other
title: 'Access key created for {{ .record.requestParameters.userName }} by {{ .event.actor.name }}'
severity_expr: 'record.requestParameters.userName == "root" ? "critical" : "high"'
severity: high
match:
  eventSource: [iam.amazonaws.com]
  eventName: [CreateAccessKey]
condition: 'has(record.requestParameters.userName) && record.requestParameters.userName != event.actor.user_name'
resource: '"arn:aws:iam::" + event.account + ":user/" + record.requestParameters.userName'
details:
  target: record.requestParameters.userName
  both: '[record.requestParameters.userName, event.actor.user_name]'
  counts: '{"n": 1, "ok": true}'
`, Options{})
	if k := r.Keys(); len(k) != 2 || k[0].Service != "iam.amazonaws.com" || k[0].Action != "CreateAccessKey" {
		t.Errorf("keys %+v", k)
	}
	fs := evalOne(t, r, record("CreateAccessKey", `,"requestParameters":{"userName":"bob"}`))
	if len(fs) != 1 || fs[0].Title != "Access key created for bob by alice" || fs[0].Severity != detect.High ||
		fs[0].Resource != "arn:aws:iam::111122223333:user/bob" || fs[0].Details["target"] != "bob" {
		t.Fatalf("findings %+v", fs)
	}
	if got := fs[0].DetailsJSON(); got != `{"both":["bob","alice"],"counts":{"n":1,"ok":true},"target":"bob"}` {
		t.Errorf("details %s", got)
	}
	if fs := evalOne(t, r, record("CreateAccessKey", `,"requestParameters":{"userName":"alice"}`)); len(fs) != 0 {
		t.Errorf("own key: %+v", fs)
	}
	if fs := evalOne(t, r, record("CreateAccessKey", ``)); len(fs) != 0 {
		t.Errorf("no userName: %+v", fs)
	}
	if fs := evalOne(t, r, record("DeleteAccessKey", `,"requestParameters":{"userName":"bob"}`)); len(fs) != 0 {
		t.Errorf("other call: %+v", fs)
	}
}

func TestEnvelopePattern(t *testing.T) {
	r := parseOne(t, `
id: t-envelope
title: iam call
severity: low
match: '{"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":[{"prefix":"Create"}]}}'
`, Options{})
	if fs := evalOne(t, r, record("CreateUser", "")); len(fs) != 1 {
		t.Errorf("CreateUser: %+v", fs)
	}
	if fs := evalOne(t, r, record("DeleteUser", "")); len(fs) != 0 {
		t.Errorf("DeleteUser: %+v", fs)
	}
	// Delivered by EventBridge, the same event matches the same way.
	eb := `{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],"detail":` + string(record("CreateUser", "")) + `}`
	if fs := evalOne(t, r, []byte(eb)); len(fs) != 1 {
		t.Errorf("via EventBridge: %+v", fs)
	}
}

func TestAllowAndConfig(t *testing.T) {
	cfg, err := config.Parse("c", []byte("accounts: {\"111122223333\": {name: prod}}\nnetwork: {trusted_cidrs: [203.0.113.0/24]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := parseOne(t, `
id: t-allow
title: x
severity: low
match: {eventName: [CreateUser]}
condition: 'event.account in config.known_accounts && !in_cidr(event.source_ip, config.trusted_cidrs) && is_public_ip(event.source_ip)'
allow:
  actors: ['arn:aws:iam::*:user/admin-*']
  ips: [198.51.100.0/24]
`, Options{Config: cfg})
	ev := string(record("CreateUser", ""))
	if fs := evalOne(t, r, []byte(ev)); len(fs) != 0 {
		t.Errorf("allow-listed ip: %+v", fs)
	}
	if fs := evalOne(t, r, []byte(strings.Replace(ev, "198.51.100.7", "192.0.2.44", 1))); len(fs) != 1 {
		t.Errorf("other ip: %+v", fs)
	}
	if fs := evalOne(t, r, []byte(strings.Replace(strings.Replace(ev, "198.51.100.7", "192.0.2.44", 1), "user/alice", "user/admin-bob", 1))); len(fs) != 0 {
		t.Errorf("allow-listed actor: %+v", fs)
	}
	if fs := evalOne(t, r, []byte(strings.Replace(ev, "198.51.100.7", "203.0.113.9", 1))); len(fs) != 0 {
		t.Errorf("trusted cidr from config: %+v", fs)
	}
}

func TestThresholdDistinctSum(t *testing.T) {
	spray := parseOne(t, `
id: t-spray
title: 'spraying from {{ .event.source_ip }}'
severity: high
match: {eventName: [ConsoleLogin]}
threshold: {group_by: event.source_ip, distinct: event.actor.user_name, count: 3, window: 30m}
`, Options{})
	login := func(user, at string) []byte {
		return []byte(`{"eventVersion":"1.08","eventTime":"` + at + `","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn","sourceIPAddress":"192.0.2.5","userIdentity":{"type":"IAMUser","userName":"` + user + `"},"responseElements":{"ConsoleLogin":"Failure"}}`)
	}
	var n int
	for i, u := range []string{"a", "a", "b", "c", "d", "e"} {
		n += len(evalOne(t, spray, login(u, "2026-11-20T10:0"+string(rune('0'+i))+":00Z")))
	}
	if n != 1 {
		t.Errorf("distinct users: %d alerts, want 1 (a burst alerts once)", n)
	}
	big := parseOne(t, `
id: t-sum
title: big transfer
severity: medium
source: flowlog
match: {action: [ACCEPT]}
threshold: {group_by: event.flow.dstaddr, sum: event.flow.bytes, count: 1000, window: 1h}
`, Options{})
	flow := func(bytes string) []byte {
		return []byte("2 123456789010 eni-1 10.0.0.5 203.0.113.9 443 50000 6 10 " + bytes + " 1700000000 1700000060 ACCEPT OK")
	}
	if fs := evalOne(t, big, flow("600")); len(fs) != 0 {
		t.Errorf("first 600 bytes alerted")
	}
	if fs := evalOne(t, big, flow("600")); len(fs) != 1 || fs[0].Details["sum"] != 1200.0 {
		t.Errorf("1200 bytes: %+v", fs)
	}
}

func TestFirstSeenAndDedupSurviveRestart(t *testing.T) {
	src := `
id: t-new-country
title: 'new country {{ .event.geo.country }}'
severity: medium
match: {eventName: [ConsoleLogin]}
first_seen: {entity: event.actor.user_name, value: event.geo.country, learning: 1h}
dedup: {key: event.actor.user_name, window: 1h}
`
	path := filepath.Join(t.TempDir(), "state.db")
	login := func(at, country string) *event.Event {
		ev, err := parseEvent([]byte(`{"eventVersion":"1.08","eventTime":"` + at + `","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn","sourceIPAddress":"192.0.2.5","userIdentity":{"type":"IAMUser","userName":"alice"},"responseElements":{"ConsoleLogin":"Success"}}`))
		if err != nil {
			t.Fatal(err)
		}
		ev.SourceGeo = &event.Geo{Country: country}
		return ev
	}
	run := func(r *Rule, ev *event.Event) int {
		fs, err := r.Eval(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range fs {
			f.Event = ev
			s, err := r.Settle(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			n += len(s)
		}
		return n
	}
	st, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := parseOne(t, src, Options{State: st})
	if n := run(r, login("2026-11-20T10:00:00Z", "SE")) + run(r, login("2026-11-20T10:30:00Z", "GB")); n != 0 {
		t.Errorf("learning period: %d alerts", n)
	}
	if n := run(r, login("2026-11-20T12:00:00Z", "US")); n != 1 {
		t.Errorf("new country after learning: %d alerts", n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// After a restart the rule remembers both what it learnt and what it
	// reported.
	st, err = state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r = parseOne(t, src, Options{State: st})
	if n := run(r, login("2026-11-20T12:05:00Z", "SE")); n != 0 {
		t.Errorf("known country after restart: %d alerts", n)
	}
	if n := run(r, login("2026-11-20T12:10:00Z", "FR")); n != 0 {
		t.Errorf("new country within the dedup window after restart: %d alerts", n)
	}
	if n := run(r, login("2026-11-20T14:00:00Z", "DE")); n != 1 {
		t.Errorf("new country after the dedup window: %d alerts", n)
	}
	r.Prune(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	if r.dedups.Len() != 0 || r.firstSeen.Len() != 1 {
		t.Errorf("prune: dedups %d, first seen %d", r.dedups.Len(), r.firstSeen.Len())
	}
}

func TestRuleTests(t *testing.T) {
	rs, err := Load("testdata/brute.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := rs[0].RunTests(Options{})
	if len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("results %+v", res)
	}
	if res[0].Line != 14 || res[1].Name != "spread over an hour" {
		t.Errorf("results %+v", res)
	}
	if total, pos, neg := rs[0].Tests(); total != 2 || pos != 1 || neg != 1 {
		t.Errorf("Tests() = %d %d %d", total, pos, neg)
	}
	// A wrong expectation fails, and says why.
	bad := parseOne(t, `
id: t-fails
title: x
severity: low
match: {eventName: [CreateUser]}
tests:
  - {name: wrong, expect: none, event: {eventVersion: "1", eventTime: "2026-11-20T10:00:00Z", eventSource: iam.amazonaws.com, eventName: CreateUser}}
  - {name: wrong severity, expect: alert, severity: high, event: {eventVersion: "1", eventTime: "2026-11-20T10:00:00Z", eventSource: iam.amazonaws.com, eventName: CreateUser}}
  - {name: undecodable, expect: alert, event: "{not json"}
  - {name: no expectation, event: {eventVersion: "1", eventTime: "2026-11-20T10:00:00Z", eventName: CreateUser}}
`, Options{})
	res = bad.RunTests(Options{})
	for i, want := range []string{"expected no alert", "severity low, want high", "payload ends inside", "neither expect nor alerts"} {
		if res[i].Err == nil || !strings.Contains(res[i].Err.Error(), want) {
			t.Errorf("test %d: %v, want %q", i, res[i].Err, want)
		}
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	_, err := Load("testdata/bad.yaml", Options{})
	if err == nil {
		t.Fatal("bad.yaml loaded")
	}
	for _, want := range []string{
		"testdata/bad.yaml:1: id:", "testdata/bad.yaml:2: title:", "testdata/bad.yaml:3: severity:", "testdata/bad.yaml:4: source:",
		"testdata/bad.yaml:5: match:", "testdata/bad.yaml:7: condition:", "testdata/bad.yaml:8: threshold:", "expect must be alert or none",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	_, err = Load("testdata/unknown-key.yaml", Options{})
	if err == nil || !strings.Contains(err.Error(), "testdata/unknown-key.yaml:5: condtion: unknown key (did you mean condition?)") {
		t.Errorf("unknown key: %v", err)
	}
	_, err = Parse("n.yaml", []byte("id: n\ntitle: t\nseverity: low\nmatch: {eventName: [X]}\nthreshold:\n  group-by: x\n  count: 2\n  window: 1m\ntests:\n  - name: a\n    expct: alert\n    event: {}\n"), Options{})
	for _, want := range []string{"n.yaml:6: group-by: unknown key (did you mean group_by?)", "n.yaml:11: expct: unknown key (did you mean expect?)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("nested unknown key: want %q in %v", want, err)
		}
	}
}

// TestMissingFieldsAndEncodedPolicies: a severity_expr that reads a field
// the event lacks keeps the rule's severity; policies URL-encoded as IAM
// returns them are read; template helpers work on missing values.
func TestMissingFieldsAndEncodedPolicies(t *testing.T) {
	r := parseOne(t, `
id: t-trust
title: '{{ base .event.actor.arn }} {{ if hasPrefix .record.eventName "Create" }}created{{ end }} {{ trimPrefix "arn:aws:iam::" .record.nothing }}|'
severity: medium
severity_expr: 'record.requestParameters.x == 1 ? "high" : "low"'
match:
  eventSource: [iam.amazonaws.com]
  eventName: [CreateRole]
condition: '"*" in policy_accounts(record.responseElements.role.assumeRolePolicyDocument)'
`, Options{})
	encoded := `%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22%2A%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D`
	fs := evalOne(t, r, record("CreateRole", `,"responseElements":{"role":{"assumeRolePolicyDocument":"`+encoded+`"}}`))
	if len(fs) != 1 || fs[0].Severity != detect.Medium || fs[0].Title != "alice created |" {
		t.Fatalf("findings %+v", fs)
	}
	fs = evalOne(t, r, record("CreateRole", `,"requestParameters":{"x":1},"responseElements":{"role":{"assumeRolePolicyDocument":"`+encoded+`"}}`))
	if len(fs) != 1 || fs[0].Severity != detect.High {
		t.Fatalf("findings %+v", fs)
	}
}

// TestTitleReadsRecord: a title may read the record even when no
// expression does.
func TestTitleReadsRecord(t *testing.T) {
	r := parseOne(t, `
id: t-title-record
title: 'key for {{ .record.requestParameters.userName }}'
severity: low
match: {eventSource: [iam.amazonaws.com], eventName: [CreateAccessKey]}
`, Options{})
	fs := evalOne(t, r, record("CreateAccessKey", `,"requestParameters":{"userName":"bob"}`))
	if len(fs) != 1 || fs[0].Title != "key for bob" {
		t.Fatalf("findings %+v", fs)
	}
}

// TestOutOfOrderEvents: logs arrive out of order (Stratus writes newest
// first; delivered files overlap), and dedup and threshold quiet periods
// measure the distance in event time either way.
func TestOutOfOrderEvents(t *testing.T) {
	at := func(ts string) []byte {
		return []byte(`{"eventVersion":"1.09","eventTime":"2026-11-20T` + ts + `Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","userName":"alice","arn":"arn:aws:iam::111122223333:user/alice"},"requestParameters":{"names":["a","b","c"]}}`)
	}
	run := func(t *testing.T, src string, times ...string) int {
		r := parseOne(t, src, Options{})
		n := 0
		for _, ts := range times {
			n += len(evalOne(t, r, at(ts))) // settled in order
		}
		return n
	}
	const match = "match: {eventSource: [iam.amazonaws.com], eventName: [GetUser]}\n"
	dedup := "id: t-dedup\ntitle: t\nseverity: low\n" + match + "dedup: {key: '\"k\"', window: 1h}\n"
	if n := run(t, dedup, "10:00:05", "10:00:00", "09:30:00", "11:00:06"); n != 2 {
		t.Errorf("dedup, newest first: %d alerts, want 2", n)
	}
	count := "id: t-count\ntitle: t\nseverity: low\n" + match + "threshold: {group_by: 'event.actor.name', count: 3, window: 10m}\n"
	if n := run(t, count, "10:09:00", "10:05:00", "10:01:00", "10:00:30", "09:59:00"); n != 1 {
		t.Errorf("count, newest first: %d alerts, want 1", n)
	}
	if n := run(t, count, "12:00:00", "10:00:00", "08:00:00"); n != 0 {
		t.Errorf("count, hours apart: %d alerts, want 0", n)
	}
	distinct := "id: t-distinct\ntitle: t\nseverity: low\n" + match + "threshold: {group_by: 'event.actor.name', distinct: 'record.requestParameters.names', count: 3, window: 10m}\n"
	if n := run(t, distinct, "10:00:00"); n != 1 {
		t.Errorf("distinct over a list: %d alerts, want 1 (one event naming three values)", n)
	}
}

// TestShapeErrorsKeepTheAlert: a title or resource that cannot be made
// for this event's shape falls back; the alert is not lost.
func TestShapeErrorsKeepTheAlert(t *testing.T) {
	r := parseOne(t, `
id: t-shape
title: 'x {{ .record.responseElements.role.arn }}'
severity: low
match: {eventSource: [iam.amazonaws.com], eventName: [CreateRole]}
resource: 'record.responseElements.role.arn'
`, Options{})
	fs := evalOne(t, r, record("CreateRole", `,"responseElements":null,"resources":[{"ARN":"arn:aws:iam::111122223333:role/r"}]`))
	if len(fs) != 1 || fs[0].Resource != "arn:aws:iam::111122223333:role/r" || fs[0].Title == "" {
		t.Fatalf("findings %+v", fs)
	}
}

// TestCostLimit: a condition that loops over hostile input is stopped by
// CEL's cost limit and reported as the rule's error; it cannot stall the
// pipeline.
func TestCostLimit(t *testing.T) {
	r := parseOne(t, `
id: t-cost
title: t
severity: low
match: {eventSource: [iam.amazonaws.com], eventName: [PutUserPolicy]}
condition: 'record.requestParameters.items.all(a, record.requestParameters.items.all(b, a + b != "x"))'
`, Options{})
	items := strings.Repeat(`"aaaaaaaa",`, 2000) // 4M steps, over the 1M limit
	raw := record("PutUserPolicy", `,"requestParameters":{"items":[`+items+`"b"]}`)
	ev, err := parseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Eval(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("err = %v, want the cost limit", err)
	}
	if !loops(mustCompile(t, "[1,2].exists(x, x > 1)")) || loops(mustCompile(t, `"a" + "b" == "ab"`)) {
		t.Error("loops() misjudges")
	}
}

func mustCompile(t *testing.T, expr string) *cel.Ast {
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	a, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	return a
}

// TestThresholdMemoryIsBounded: a group that sees a long burst keeps a
// bounded memory (times up to 4x the count, sums in 1/64-window buckets)
// and raises once per window.
func TestThresholdMemoryIsBounded(t *testing.T) {
	count := parseOne(t, "id: t-burst\ntitle: t\nseverity: low\nmatch: {eventSource: [iam.amazonaws.com], eventName: [GetUser]}\nthreshold: {group_by: '\"g\"', count: 5, window: 10m}\n", Options{})
	sum := parseOne(t, "id: t-bytes\ntitle: t\nseverity: low\nmatch: {eventSource: [iam.amazonaws.com], eventName: [GetUser]}\nthreshold: {group_by: '\"g\"', sum: '1', count: 1000000, window: 10m}\n", Options{})
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	raised := 0
	for i := range 2000 {
		ts := start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano) // 2k events over 33 minutes
		raw := []byte(`{"eventVersion":"1.09","eventTime":"` + ts + `","eventSource":"iam.amazonaws.com","eventName":"GetUser","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","userName":"alice"}}`)
		raised += len(evalOne(t, count, raw))
		evalOne(t, sum, raw)
	}
	if raised != 4 { // at 0:00, and after each 10-minute quiet period: 10:00, 20:00, 30:00
		t.Errorf("count rule raised %d times over 33 minutes, want 4", raised)
	}
	if e, _ := count.thresholds.Get("g"); len(e.Times) > 20 {
		t.Errorf("count rule keeps %d times", len(e.Times))
	}
	if e, _ := sum.thresholds.Get("g"); len(e.Amounts) > 2*64+4 {
		t.Errorf("sum rule keeps %d buckets", len(e.Amounts))
	}
}

func TestStripTests(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"none", "id: a\ntitle: b\n", "id: a\ntitle: b\n"},
		{"block", "id: a\ntests:\n  - name: x\n    event: {}\n# note\nseverity: low\n", "id: a\n\n\n\n\nseverity: low\n"},
		{"documents", "id: a\ntests:\n  - name: x\n---\nid: b\ntests: []\n", "id: a\n\n\n---\nid: b\n\n"},
		{"suites keep tests_for", "tests_for: aws-x\ntests:\n  - name: x\n", "tests_for: aws-x\n\n\n"},
		{"blank and CRLF lines", "id: a\r\ntests:\r\n\r\n  - name: x\r\nmatch: {}\r\n", "id: a\r\n\n\n\nmatch: {}\r\n"},
		{"no final newline", "id: a\ntests:\n  - name: x", "id: a\n\n"},
		{"sequence at the key's indentation", "tags:\n- T1\ntests:\n- name: x\n  event: {}\n-\n---\nid: b\n", "tags:\n- T1\n\n\n\n\n---\nid: b\n"},
	} {
		got := string(StripTests([]byte(tc.in)))
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if strings.Count(got, "\n") != strings.Count(tc.in, "\n") {
			t.Errorf("%s: line count changed", tc.name)
		}
	}
}

// TestStateDoesNotKeepTheBatch checks that what a stateful rule keeps
// (group, distinct values, entity, learned value, dedup key) is a copy,
// not a string sharing the record's memory: state outlives the batch, and
// a shared string would keep the whole batch buffer alive.
func TestStateDoesNotKeepTheBatch(t *testing.T) {
	r := parseOne(t, `
id: t-keep
title: kept
severity: low
match: {eventName: [GetUser]}
threshold: {group_by: record.userIdentity.arn, distinct: record.sourceIPAddress, count: 2, window: 1h}
dedup: {key: record.eventID, window: 1h}
`, Options{})
	raw := record("GetUser", "")
	ev, err := parseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := r.Eval(context.Background(), ev)
	if err != nil || len(fs) != 1 {
		t.Fatal(fs, err)
	}
	p := fs[0].Pending.(pending)
	lo, hi := uintptr(unsafe.Pointer(unsafe.SliceData(ev.Record))), uintptr(unsafe.Pointer(unsafe.SliceData(ev.Record)))+uintptr(len(ev.Record))
	for _, s := range append([]string{p.group, p.dedupKey}, p.distinct...) {
		if s == "" {
			t.Fatal("a key is empty: the test reads nothing")
		}
		if d := uintptr(unsafe.Pointer(unsafe.StringData(s))); d >= lo && d < hi {
			t.Errorf("%q shares the record's memory", s)
		}
	}
}

// TestConfigViewsGoWithTheirConfig checks that the CEL views of a
// configuration are dropped once nothing uses the configuration: a
// daemon reloading its configuration must not keep every one it had.
func TestConfigViewsGoWithTheirConfig(t *testing.T) {
	// The test's own configuration's entry: other tests' configurations
	// come and go meanwhile (tests run in any order).
	var key weak.Pointer[config.Config]
	held := func() bool { _, ok := celConfigs.Load(key); return ok }
	func() {
		cfg := &config.Config{TrustedAccounts: []string{"444455556666"}}
		key = weak.Make(cfg)
		r := parseOne(t, "id: t-cfg\ntitle: t\nseverity: low\nmatch: {eventName: [GetUser]}\ncondition: event.account in config.trusted_accounts\n", Options{Config: cfg})
		if fs := evalOne(t, r, record("GetUser", "")); len(fs) != 0 {
			t.Fatalf("alerted: %+v", fs)
		}
		if !held() {
			t.Fatal("the configuration has no CEL view")
		}
	}()
	for i := 0; i < 100 && held(); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if held() {
		t.Error("the configuration's CEL view outlives the configuration")
	}
}
