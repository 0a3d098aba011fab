package rulefile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// TestJSONRecordMatchesDecoded holds the lazy JSON view of a record to the
// semantics of the record decoded into maps: every expression gives the
// same value, or fails in both.
func TestJSONRecordMatchesDecoded(t *testing.T) {
	exprs := []string{
		`record.eventName`,
		`has(record.errorCode)`,
		`has(record.userIdentity.sessionContext.sessionIssuer.arn)`,
		`record.userIdentity.type == "AssumedRole"`,
		`record.requestParameters`,
		`record.requestParameters == null`,
		`has(record.requestParameters) && record.requestParameters != null && "userName" in record.requestParameters`,
		`size(record)`,
		`size(record.userIdentity)`,
		`record.resources.exists(r, r.type == "AWS::IAM::Role")`,
		`record.resources.map(r, r.ARN)`,
		`size(record.resources)`,
		`record.resources[0]`,
		`record.resources[0] == record.resources[0]`,
		`record.userIdentity == record.userIdentity`,
		`record.readOnly == true`,
		`record.managementEvent`,
		`record.additionalEventData`,
		`string(record.eventVersion) + "!"`,
		`record.eventTime.startsWith("20")`,
		`record.nope`,
		`record.requestParameters.nope.deeper`,
		`[record.awsRegion, record.recipientAccountId]`,
		`record.userIdentity.all(k, k != "")`,
		`record.responseElements.assumedRoleUser`,
		`record.requestParameters.durationSeconds > 100`,
	}
	paths, _ := filepath.Glob("../../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	if len(paths) < 10 {
		t.Fatal("no records")
	}
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) != nil {
			var one json.RawMessage
			if json.Unmarshal(b, &one) != nil {
				continue
			}
			recs = []json.RawMessage{one}
		}
		for _, r := range recs[:min(3, len(recs))] {
			records = append(records, r)
		}
	}
	checked := 0
	for _, expr := range exprs {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", expr, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for i, raw := range records {
			var tree any
			if err := json.Unmarshal(raw, &tree); err != nil {
				t.Fatal(err)
			}
			lazy, _, lerr := prg.Eval(map[string]any{"record": jsonValueOf(raw)})
			want, _, werr := prg.Eval(map[string]any{"record": tree})
			if (lerr != nil) != (werr != nil) {
				t.Errorf("record %d: %s: lazy err %v, decoded err %v", i, expr, lerr, werr)
				continue
			}
			if lerr != nil {
				continue
			}
			if lazy.Equal(want) != types.True {
				t.Errorf("record %d: %s: lazy %v, decoded %v", i, expr, lazy.Value(), want.Value())
			}
			checked++
		}
	}
	if checked < 200 {
		t.Errorf("only %d comparisons succeeded", checked)
	}
}

// TestSparseRecordMatchesWhole: a title reads the values it names from a
// sparse decoding of the record exactly as it would from the whole record.
func TestSparseRecordMatchesWhole(t *testing.T) {
	titles := []string{
		`{{ .record.eventName }} by {{ .record.userIdentity.arn }}`,
		`{{ default "none" .record.requestParameters.userName }}`,
		`{{ with .record.requestParameters }}{{ .roleArn }}{{ end }}`,
		`{{ range .record.resources }}{{ .ARN }} {{ end }}`,
		`{{ .record.responseElements.credentials.accessKeyId }}`,
		`{{ .record.requestParameters }} {{ .record.requestParameters.bucketName }}`,
		`{{ if eq (printf "%v" .record.userIdentity.type) "Root" }}root{{ else }}{{ .record.userIdentity.userName }}{{ end }}`,
		`{{ $.record.awsRegion }} {{ .record.nope.deeper }}`,
	}
	paths, _ := filepath.Glob("../../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	var records []json.RawMessage
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) == nil {
			records = append(records, recs...)
		}
	}
	if len(records) < 100 {
		t.Fatalf("%d records", len(records))
	}
	for _, title := range titles {
		tmpl := template.Must(template.New("t").Option("missingkey=zero").Funcs(templateFuncs).Parse(title))
		ps, whole := recordPaths(tmpl)
		if whole || len(ps) == 0 {
			t.Fatalf("%s: paths %v, whole %v", title, ps, whole)
		}
		for i, raw := range records {
			var tree any
			if err := json.Unmarshal(raw, &tree); err != nil {
				t.Fatal(err)
			}
			var a, b strings.Builder
			errA := tmpl.Execute(&a, map[string]any{"record": tree})
			errB := tmpl.Execute(&b, map[string]any{"record": sparseRecord(raw, ps)})
			if (errA != nil) != (errB != nil) || a.String() != b.String() {
				t.Fatalf("record %d: %s: whole %q (%v), sparse %q (%v)", i, title, a.String(), errA, b.String(), errB)
			}
		}
	}
	tmpl := template.Must(template.New("t").Parse(`{{ with .record }}{{ .x }}{{ end }}`))
	if _, whole := recordPaths(tmpl); !whole {
		t.Error(".record alone must mean the whole record")
	}
}

// TestEventViewMatchesFields holds the lazy view of the normalised event
// to the semantics of the whole tree event.Fields builds.
func TestEventViewMatchesFields(t *testing.T) {
	exprs := []string{
		`event.action`, `event.kind`, `has(event.error_code)`, `event.actor.type`, `has(event.actor.invoked_by)`,
		`event.actor`, `size(event.actor)`, `event.actor.name + "/" + event.account`, `has(event.source_ip) && is_private_ip(event.source_ip)`,
		`event.resources.exists(r, has(r.arn) && r.arn.startsWith("arn:aws:iam"))`, `event.time > timestamp("2020-01-01T00:00:00Z")`,
		`has(event.signin) && event.signin.result == "Success"`, `event.actor.mfa`, `event.nope`, `event == event`,
		`event.actor == event.actor`, `"actor" in event`, `"mfa" in event.actor`, `event.read_only`, `size(event)`,
	}
	paths, _ := filepath.Glob("../../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) != nil {
			continue
		}
		for _, r := range recs[:min(3, len(recs))] {
			ev, err := parseEvent(r)
			if err == nil {
				evs = append(evs, ev)
			}
		}
	}
	checked := 0
	for _, expr := range exprs {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", expr, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range evs {
			lazy, _, lerr := prg.Eval(map[string]any{"event": newEventView(ev)})
			want, _, werr := prg.Eval(map[string]any{"event": ev.Fields()})
			if (lerr != nil) != (werr != nil) {
				t.Errorf("event %d: %s: lazy err %v, whole err %v", i, expr, lerr, werr)
				continue
			}
			if lerr != nil {
				continue
			}
			if lazy.Equal(want) != types.True {
				t.Errorf("event %d: %s: lazy %v, whole %v", i, expr, lazy.Value(), want.Value())
			}
			checked++
		}
	}
	if checked < 300 {
		t.Errorf("only %d comparisons succeeded", checked)
	}
}

// TestDecodeJSONAgreesWithUnmarshal holds the title decoder's short cuts
// to encoding/json's answers.
func TestDecodeJSONAgreesWithUnmarshal(t *testing.T) {
	for _, in := range []string{
		`"plain"`, `""`, `"with \"escape\""`, `"tab\there"`, "\"raw\ttab\"", `"é ü"`, "\"bad \xff utf8\"", `"\u00e9"`,
		`true`, `false`, `null`, `12`, `-1.5e3`, `{"a":1}`, `[1,"b"]`, `"unterminated`, `nul`, `tru`, `"a"b"`,
	} {
		var want any
		werr := json.Unmarshal([]byte(in), &want)
		got, ok := decodeJSON([]byte(in))
		if ok != (werr == nil) || (ok && !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: got %#v, %v; encoding/json %#v, %v", in, got, ok, want, werr)
		}
	}
}

// TestRecordObjectAgreesWithIndex checks that a record's view, which reads
// the decoder's spans for the most-read top-level fields, finds what a
// view that indexes the whole record finds, repeated keys included.
func TestRecordObjectAgreesWithIndex(t *testing.T) {
	evs := fastTestEvents(t)
	dup, err := decodeTestEvent(scalarNode(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","requestParameters":{"a":1},"requestParameters":{"a":2},"RequestParameters":{"a":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, dup...)
	keys := []string{"eventSource", "eventName", "eventType", "awsRegion", "recipientAccountId", "sourceIPAddress", "errorCode",
		"userIdentity", "requestParameters", "responseElements", "additionalEventData", "resources", "readOnly", "userAgent",
		"RequestParameters", "eventTime", "eventID", "nope"}
	used := 0
	for i, ev := range evs {
		if ev.Kind == event.KindFlowLog {
			continue
		}
		rec := recordObject(ev)
		if o, ok := rec.(*jsonObject); ok && o.ev != nil {
			used++
		}
		plain := jsonValueOf(jsonscan.SkipSpaceBytes(ev.Record))
		for _, k := range keys {
			for range 2 { // the second lookup reads what the first kept
				got, gok := rec.(traits.Mapper).Find(types.String(k))
				want, wok := plain.(traits.Mapper).Find(types.String(k))
				if gok != wok || (gok && got.Equal(want) != types.True) {
					t.Errorf("event %d: %s: %v %v, whole index %v %v", i, k, got, gok, want, wok)
				}
			}
		}
		if rec.Equal(plain) != types.True {
			t.Errorf("event %d: views differ", i)
		}
	}
	if used < 50 {
		t.Errorf("only %d events used the decoder's spans", used)
	}
}

// TestJSONObjectKeys covers the keys an index keeps apart from the object:
// escaped ones (unescaped in a side table), empty ones, repeated ones.
func TestJSONObjectKeys(t *testing.T) {
	o := jsonValueOf([]byte(`{"a\u0062":1,"":"empty","x":{"k\"q":"esc","k":"plain"},"d":1,"d":2,"\u00e9t\u00e9":"summer"}`)).(*jsonObject)
	for _, tc := range []struct {
		key  string
		want ref.Val
	}{
		{"ab", types.Double(1)}, {"", types.String("empty")}, {"d", types.Double(1)}, {"été", types.String("summer")}, {"nope", nil},
	} {
		got, found := o.Find(types.String(tc.key))
		if found != (tc.want != nil) || (found && got.Equal(tc.want) != types.True) {
			t.Errorf("Find(%q) = %v, %v; want %v", tc.key, got, found, tc.want)
		}
	}
	if v, raw, ok := o.lastValue("d"); !ok || v.Equal(types.Double(2)) != types.True || string(raw) != "2" {
		t.Errorf("lastValue(d) = %v, %s, %v; want the last, 2", v, raw, ok)
	}
	x, _ := o.Find(types.String("x"))
	for key, want := range map[string]string{`k"q`: "esc", "k": "plain"} {
		if v, found := x.(traits.Mapper).Find(types.String(key)); !found || v.Equal(types.String(want)) != types.True {
			t.Errorf("x[%q] = %v, %v; want %q", key, v, found, want)
		}
	}
}

func TestJSONObjectEmpty(t *testing.T) {
	for raw, want := range map[string]bool{`{}`: true, ` { } `: true, "{\n}": true, `{"a":1}`: false, ` { "" : null }`: false} {
		o := &jsonObject{raw: []byte(raw)}
		if got := o.empty(); got != want {
			t.Errorf("empty(%q) = %v before indexing, want %v", raw, got, want)
		}
		o.index()
		if got := o.empty(); got != want {
			t.Errorf("empty(%q) = %v after indexing, want %v", raw, got, want)
		}
	}
}
