package alert

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

func TestNew(t *testing.T) {
	ev := &event.Event{
		Kind: event.KindCloudTrail, ID: "e-1", Time: time.Date(2026, 11, 20, 9, 0, 0, 0, time.FixedZone("x", 3600)),
		Account: "111122223333", Region: "eu-west-1", Service: "s3.amazonaws.com", Action: "PutBucketAcl",
		Actor:         event.Actor{Type: "IAMUser", UserName: "bob", AccessKeyID: "AKIAEXAMPLE"},
		SourceIP:      netip.MustParseAddr("192.0.2.1"),
		SourceAddress: "192.0.2.1",
		Resources:     []event.Resource{{ARN: "arn:aws:s3:::fallback"}},
		Origin:        event.Origin{Source: "f.json", Index: 2},
	}
	f := &detect.Finding{Rule: "aws-s3-bucket-acl-public", Severity: detect.High, Title: "t", Resource: "arn:aws:s3:::b", Event: ev}
	a := New(f)
	if v := View(f); !reflect.DeepEqual(v, a) {
		t.Errorf("View %+v differs from New %+v", v, a)
	}
	var into Alert
	into.Title = "left over from the previous alert"
	if ViewInto(&into, f); !reflect.DeepEqual(&into, a) {
		t.Errorf("ViewInto %+v differs from New %+v", into, a)
	}
	if a.EventTime.Location() != time.UTC || a.EventTime.Hour() != 8 {
		t.Errorf("EventTime = %v, want UTC", a.EventTime)
	}
	if a.Actor.Name != "bob" || a.SourceIP != "192.0.2.1" || a.Resource != "arn:aws:s3:::b" || a.Details == nil {
		t.Errorf("alert %+v", a)
	}
	// The dedup key depends on rule, event and resource only.
	again := New(&detect.Finding{Rule: f.Rule, Severity: detect.Critical, Title: "other", Resource: f.Resource, Event: ev})
	other := New(&detect.Finding{Rule: f.Rule, Resource: "arn:aws:s3:::c", Event: ev})
	if a.DedupKey != again.DedupKey || a.DedupKey == other.DedupKey || len(a.DedupKey) != 32 {
		t.Errorf("dedup keys %s %s %s", a.DedupKey, again.DedupKey, other.DedupKey)
	}
	// Without a resource from the rule, the event's first resource is used.
	if r := New(&detect.Finding{Rule: "r", Event: ev}).Resource; r != "arn:aws:s3:::fallback" {
		t.Errorf("fallback resource %q", r)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"rule":`, `"severity":"high"`, `"event_id":"e-1"`, `"event_time":"2026-11-20T08:00:00Z"`, `"kind":"cloudtrail"`, `"origin":{"source":"f.json","index":2`, `"access_key_id":"AKIAEXAMPLE"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}
