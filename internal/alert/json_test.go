package alert

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

// sampleAlert is an alert with every field set.
func sampleAlert(s string, details map[string]any) *Alert {
	return sampleAlertAt(s, details, 59.3293)
}

// sampleAlertAt is sampleAlert with its first address at latitude lat.
func sampleAlertAt(s string, details map[string]any, lat float64) *Alert {
	return &Alert{
		AccountInfo: &event.AccountInfo{Name: s, Owner: s},
		Addresses: []Address{
			{Field: "source_ip", IP: "89.160.20.156", Geo: event.Geo{Country: "SE", CountryName: s, City: s, Latitude: lat, Longitude: -0.5, ASN: 29518, ASOrg: s,
				AWS: &event.AWSRange{Service: "EC2", Region: s, NetworkBorderGroup: s, Prefix: "3.5.140.0/22"}}},
			{Field: "flow.dstaddr", IP: s},
			{Field: s, IP: "10.0.0.1", Geo: event.Geo{AWS: &event.AWSRange{Service: s}}},
		},
		EnrichmentOff: []string{"geoip", s},
		Rule:          "r-" + s, Severity: detect.High, Title: "title " + s, EventID: s, EventTime: time.Date(2026, 11, 20, 9, 0, 0, 123456789, time.UTC),
		Kind: event.KindCloudTrail, Account: "111122223333", Region: s,
		Actor:    Actor{Name: s, Actor: event.Actor{Type: "IAMUser", ARN: s, UserName: s, MFA: event.True, SessionName: s, SourceIdentity: s}},
		SourceIP: "192.0.2.1", UserAgent: s, Service: "s3.amazonaws.com", Action: "PutBucketAcl", Resource: s,
		Details: details, Origin: event.Origin{Source: s, Index: 3, Line: 7, Offset: 99, Path: s}, DedupKey: "abc",
		ReceivedAt: time.Date(2026, 11, 20, 9, 0, 2, 500, time.FixedZone("x", 3600)),
	}
}

// TestAppendJSONAgreesWithEncodingJSON holds the hand-written encoder to
// encoding/json's bytes for awkward strings and every detail type rules
// produce, and checks that what it leaves to encoding/json goes there.
func TestAppendJSONAgreesWithEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "ctl \x00\x01\x1f\x7f \b\f\n\r\t", "<html> & stuff", "é ü 日本", "bad \xff\xfe utf8 \xe2\x82",
		"line\u2028sep\u2029", "\U0001F600", "\ufffd"}
	details := []map[string]any{
		nil, {}, {"b": "x", "a": 1.5, "c": true, "d": nil},
		{"n": []any{1.0, "two", []any{}, map[string]any{"z": 1e21, "y": 1e-7, "x": -0.0, "w": 123456789.0, "v": 1e20}}},
		{"ints": int64(-5), "int": 7, "uint": uint64(1 << 63), "strs": []string{"a", "<b>"}, "nilstrs": []string(nil), "nilany": []any(nil)},
		{"é": 1.0, "A": 2.0, "a": 3.0, "": 4.0},
	}
	for _, s := range strs {
		for _, d := range details {
			a := sampleAlert(s, d)
			want, err := a.encodeJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.AppendJSON(nil)
			if err != nil || string(got) != string(want) {
				t.Errorf("AppendJSON (%v):\n got %s\nwant %s", err, got, want)
			}
		}
	}
	// Left to encoding/json: it decides (writes or refuses) as before.
	for _, d := range []map[string]any{{"t": time.Unix(0, 0).UTC()}, {"m": map[string]string{"a": "b"}}, {"f": float32(1.5)}, {"nan": math.NaN()}} {
		a := sampleAlert("x", d)
		if _, err := a.AppendJSON(nil); err == nil {
			t.Errorf("%v: AppendJSON wrote it", d)
		}
		want, werr := a.encodeJSON(nil)
		got, gerr := a.MarshalLine(nil)
		if (werr != nil) != (gerr != nil) || (werr == nil && string(got) != string(want)+"\n") {
			t.Errorf("%v: MarshalLine %s (%v), encoding/json %s (%v)", d, got, gerr, want, werr)
		}
	}
	old := sampleAlert("x", nil)
	old.EventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := old.MarshalLine(nil); err == nil {
		t.Error("an event time in year 10000 was written; encoding/json refuses it")
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("plain", "key", 1.5)
	f.Add("bad \xff", "\u2028", 1e-9)
	f.Fuzz(func(t *testing.T, s, k string, x float64) {
		a := sampleAlertAt(s, map[string]any{k: s, "n": x, "l": []any{k, x, map[string]any{s: k}}}, x)
		want, werr := a.encodeJSON(nil)
		got, gerr := a.MarshalLine(nil)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("MarshalLine err %v, encoding/json err %v", gerr, werr)
		}
		if werr == nil && string(got) != string(want)+"\n" {
			t.Fatalf("MarshalLine:\n got %s\nwant %s", got, want)
		}
	})
}

// TestAlertRoundTrips: an alert read back from its JSON (as the outbox
// and dead letters keep it) writes the same JSON again.
func TestAlertRoundTrips(t *testing.T) {
	a := sampleAlert("x <é>", map[string]any{"n": 1.5, "l": []any{"a", true}, "m": map[string]any{"k": nil}})
	first, err := a.MarshalLine(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back Alert
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	again, err := back.MarshalLine(nil)
	if err != nil || string(again) != string(first) {
		t.Errorf("round trip (%v):\n got %s\nwant %s", err, again, first)
	}
	for _, bad := range []string{`{"kind":"nonsense"}`, `{"severity":"urgent"}`, `{"actor":{"mfa":"maybe"}}`} {
		if err := json.Unmarshal([]byte(bad), new(Alert)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
