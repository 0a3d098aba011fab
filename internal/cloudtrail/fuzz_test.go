package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

func FuzzParse(f *testing.F) {
	for _, name := range []string{
		"console-sign-in-events.examples.json",
		"cloudtrail-log-file-examples.examples.json",
		"non-api-service-events.examples.json",
		"s3-cloudtrail-entries.examples.json",
	} {
		for _, r := range examples(f, name) {
			f.Add([]byte(r))
		}
	}
	// A few real records of every actor type, not all 515: the seed corpus
	// also runs as a plain test.
	seen := map[string]int{}
	for _, recs := range realRecords(f) {
		for _, r := range recs {
			var probe struct {
				UserIdentity struct{ Type string } `json:"userIdentity"`
			}
			_ = json.Unmarshal(r, &probe)
			if seen[probe.UserIdentity.Type] < 3 {
				seen[probe.UserIdentity.Type]++
				f.Add([]byte(r))
			}
		}
	}
	f.Add(record())
	f.Add(record("userIdentity", `null`, "sourceIPAddress", `"::ffff:10.0.0.1"`, "readOnly", `"true"`))
	f.Add(record("resources", `[{"ARN":"a"},{"arn":"b"},{}]`, "errorCode", `"AccessDenied"`))
	f.Add(record("eventName", "", "insightDetails", `{"eventSource":"ssm.amazonaws.com","eventName":"X"}`))
	f.Add([]byte(`{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2024-05-01T12:00:00Z"}`))
	f.Add(record("userIdentity", `{"type":"Root","type":"IAMUser","typ\u0065":"x","invokedBy":null,"sessionContext":{"attributes":{"mfaAuthenticated":"true"}}}`))
	f.Add([]byte(`{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"IAMUser"},"userIdentity":{"type":"Root"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))

	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := Parse(raw)
		// ParseFrom, on the record followed by more input, finds the same
		// event and where the record ends.
		trimmed := bytes.TrimRight(raw, " \t\r\n")
		more := append(append([]byte(nil), trimmed...), `,{"eventVersion":"1.08"}]`...)
		fev, n, ferr := ParseFrom(new(event.Event), more)
		switch {
		case (err == nil) != (ferr == nil) && json.Valid(raw):
			t.Fatalf("Parse err %v, ParseFrom err %v", err, ferr)
		case err == nil && ferr == nil:
			if n != len(trimmed) || len(fev.Raw) != n {
				t.Fatalf("ParseFrom ends the record at %d, want %d", n, len(trimmed))
			}
			want, got := *ev, *fev
			want.Raw, want.Record, got.Raw, got.Record = nil, nil, nil, nil
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("ParseFrom gives %+v, Parse %+v", got, want)
			}
		}
		if err != nil {
			if ev != nil {
				t.Fatalf("Parse returned an event and error %v", err)
			}
			var fe *event.FieldError
			if errors.As(err, &fe) && fe.Field == "" {
				t.Fatalf("FieldError without a field: %v", err)
			}
			return
		}
		if ev == nil {
			t.Fatal("Parse = nil, nil")
		}
		if !json.Valid(raw) {
			t.Fatalf("Parse accepted invalid JSON %q", raw)
		}
		// The indexes (TopFields, IdentFields) answer as a lookup in the
		// record does.
		plain := *ev
		plain.Top, plain.Ident = event.TopFields{}, event.IdentFields{}
		for _, p := range indexedPaths {
			var got, want []string
			ev.Values(p, func(v []byte) bool { got = append(got, string(v)); return true })
			plain.Values(p, func(v []byte) bool { want = append(want, string(v)); return true })
			if !slices.Equal(got, want) {
				t.Fatalf("Values(%v) = %q with the indexes, %q without", p, got, want)
			}
			if ev.Present(p) != plain.Present(p) {
				t.Fatalf("Present(%v) = %v with the indexes, %v without", p, ev.Present(p), plain.Present(p))
			}
		}
		if len(ev.Raw) != len(raw) || (len(raw) > 0 && &ev.Raw[0] != &raw[0]) {
			t.Fatal("Raw is not the input")
		}
		if ev.Action == "" {
			t.Fatal("Action is empty on success")
		}
		if strings.HasPrefix(ev.Service, "aws:") {
			t.Fatalf("Service %q accepted", ev.Service)
		}
		switch ev.Kind {
		case event.KindSignIn:
			if ev.SignIn == nil {
				t.Fatal("KindSignIn without SignIn")
			}
			if ev.SignIn.MFAUsed != event.Unknown && ev.Actor.MFA != ev.SignIn.MFAUsed {
				t.Fatalf("Actor.MFA %v != SignIn.MFAUsed %v", ev.Actor.MFA, ev.SignIn.MFAUsed)
			}
		case event.KindCloudTrail:
			if ev.SignIn != nil {
				t.Fatal("KindCloudTrail with SignIn")
			}
		default:
			t.Fatalf("Kind = %v", ev.Kind)
		}
		if ev.SourceIP.IsValid() && ev.SourceIP.Is4In6() {
			t.Fatalf("SourceIP %v is IPv4-mapped", ev.SourceIP)
		}
		if ev.SourceIP.IsValid() && ev.SourceAddress == "" {
			t.Fatal("SourceIP without SourceAddress")
		}
		if ev.Account == "" && ev.Actor.Account != "" {
			t.Fatalf("Account empty but Actor.Account %q", ev.Actor.Account)
		}
		for name, sub := range map[string][]byte{
			"RequestParameters":   ev.RequestParameters,
			"ResponseElements":    ev.ResponseElements,
			"AdditionalEventData": ev.AdditionalEventData,
			"ServiceEventDetails": ev.ServiceEventDetails,
			"InsightDetails":      ev.InsightDetails,
		} {
			if sub == nil {
				continue
			}
			if !within(sub, raw) {
				t.Fatalf("%s = %q is not a sub-slice of the input", name, sub)
			}
			if !json.Valid(sub) || string(sub) == "null" {
				t.Fatalf("%s = %q is not a non-null JSON value", name, sub)
			}
		}
		for i, r := range ev.Resources {
			if r == (event.Resource{}) {
				t.Fatalf("Resources[%d] is empty", i)
			}
		}
		checkTopIndex(t, ev)
	})
}

// topPaths are field paths rules look up, through the top-level index and
// past it.
var topPaths = [][]string{
	{"eventSource"}, {"eventName"}, {"eventType"}, {"awsRegion"}, {"recipientAccountId"}, {"sourceIPAddress"},
	{"errorCode"}, {"userIdentity", "type"}, {"userIdentity", "sessionContext", "sessionIssuer", "arn"},
	{"requestParameters"}, {"requestParameters", "bucketName"}, {"responseElements", "ConsoleLogin"},
	{"additionalEventData", "MFAUsed"}, {"resources", "ARN"}, {"readOnly"}, {"userAgent"}, {"eventTime"}, {"nope"},
	{"RequestParameters"}, {"insightDetails", "eventName"},
}

// checkTopIndex checks that looking fields up through the event's
// top-level index finds exactly what a scan of the record finds.
func checkTopIndex(t *testing.T, ev *event.Event) {
	t.Helper()
	if !ev.Top.Indexed {
		t.Fatal("the top-level index is not filled")
	}
	for _, path := range topPaths {
		var viaIndex, viaScan []string
		ev.Values(path, func(v []byte) bool { viaIndex = append(viaIndex, string(v)); return true })
		jsonscan.Lookup(ev.Record, path, func(v []byte) bool { viaScan = append(viaScan, string(v)); return true })
		if !slices.Equal(viaIndex, viaScan) {
			t.Fatalf("%v: index finds %q, a scan %q", path, viaIndex, viaScan)
		}
	}
}

// TestTopIndexOnRealRecords runs checkTopIndex over every real record.
func TestTopIndexOnRealRecords(t *testing.T) {
	n := 0
	for _, recs := range realRecords(t) {
		for _, r := range recs {
			ev, err := Parse([]byte(r))
			if err != nil {
				continue
			}
			checkTopIndex(t, ev)
			n++
		}
	}
	if n < 500 {
		t.Fatalf("only %d records", n)
	}
	dup := record("eventName", `"A"`)
	dup = append(dup[:len(dup)-1], []byte(`,"eventName":"B","errorCode":"X","errorCode":"Y"}`)...)
	ev, err := Parse(dup)
	if err != nil {
		t.Fatal(err)
	}
	checkTopIndex(t, ev)
}

// indexedPaths are paths the record's indexes answer for, and some they
// leave to a lookup.
var indexedPaths = [][]string{
	{"eventName"}, {"eventSource"}, {"userIdentity"}, {"userIdentity", "type"}, {"userIdentity", "invokedBy"},
	{"userIdentity", "arn"}, {"userIdentity", "accountId"}, {"userIdentity", "principalId"}, {"userIdentity", "userName"},
	{"userIdentity", "sessionContext"}, {"userIdentity", "sessionContext", "attributes", "mfaAuthenticated"},
	{"userIdentity", "accessKeyId"}, {"userIdentity", "nope"}, {"requestParameters", "bucketName"}, {"resources", "ARN"},
	{"nope", "deeper"},
}
