package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// clock is a settable time source for a Store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// openTest opens a store in a temporary directory with its clock at t0.
func openTest(t testing.TB, o Options) (*Store, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "alerts.db")
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &clock{t: t0}
	s.now = c.Now
	return s, c, path
}

// finding builds a finding on a CloudTrail event with a raw record, as
// the pipeline hands them over.
func finding(id, rule, account string, sev detect.Severity) *detect.Finding {
	raw := fmt.Sprintf(`{"eventVersion":"1.09","eventID":%q,"eventTime":"2026-11-20T08:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","recipientAccountId":%q}`, id, account)
	ev := &event.Event{
		Kind: event.KindCloudTrail, ID: id, Time: t0.Add(-time.Hour),
		Account: account, Region: "eu-west-1", Service: "s3.amazonaws.com", Action: "PutBucketAcl",
		Actor:         event.Actor{Type: "IAMUser", UserName: "bob"},
		SourceIP:      netip.MustParseAddr("192.0.2.1"),
		SourceAddress: "192.0.2.1",
		Raw:           []byte(raw),
		Origin:        event.Origin{Source: "inbox/f.json", Index: 2},
	}
	return &detect.Finding{Rule: rule, Severity: sev, Title: "bucket made public", Resource: "arn:aws:s3:::b-" + id,
		Details: map[string]any{"grantee": "AllUsers", "n": 2.0}, Event: ev}
}

func stored(id, rule, account string, sev detect.Severity) Stored {
	return FromFinding(finding(id, rule, account, sev))
}

func alertJSON(t *testing.T, a *alert.Alert) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPutGet(t *testing.T) {
	s, _, _ := openTest(t, Options{})
	st := stored("e-1", "aws-s3-bucket-acl-public", "111122223333", detect.High)
	flow := FromFinding(&detect.Finding{Rule: "flow-rule", Event: &event.Event{
		Kind: event.KindFlowLog, Raw: []byte(`2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK`)}})
	if err := s.Put([]Stored{st, flow}); err != nil {
		t.Fatal(err)
	}

	got, ok, err := s.Get(st.Alert.DedupKey)
	if err != nil || !ok {
		t.Fatalf("Get(%s) = %v, %v", st.Alert.DedupKey, ok, err)
	}
	if g, w := alertJSON(t, got.Alert), alertJSON(t, st.Alert); g != w {
		t.Errorf("Get alert =\n%s\nwant\n%s", g, w)
	}
	if string(got.Event) != string(st.Event) {
		t.Errorf("Get event = %s, want %s", got.Event, st.Event)
	}
	if !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(t0) || got.Count != 1 || got.Deliveries != 1 {
		t.Errorf("Get = first %v last %v count %d deliveries %d, want %v %v 1 1", got.FirstSeen, got.LastSeen, got.Count, got.Deliveries, t0, t0)
	}

	// A record that is not JSON is kept as a JSON string.
	got, _, err = s.Get(flow.Alert.DedupKey)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	if err := json.Unmarshal(got.Event, &line); err != nil || line != string(flow.Event) {
		t.Errorf("flow event = %s (%v), want the line as a JSON string", got.Event, err)
	}
	// The whole Stored marshals as the API returns it.
	b, err := json.Marshal(got)
	if err != nil || !strings.Contains(string(b), `"event":"2 123456789010`) || !strings.Contains(string(b), `"dedup_key":"`+flow.Alert.DedupKey) {
		t.Errorf("JSON %s, %v", b, err)
	}

	if _, ok, err := s.Get("no-such-key"); ok || err != nil {
		t.Errorf("Get(no-such-key) = %v, %v, want false, nil", ok, err)
	}
	if err := s.Put([]Stored{{Alert: &alert.Alert{Rule: "r"}}}); err == nil {
		t.Error("Put of an alert without dedup key: no error")
	}
}

func TestPutUpdates(t *testing.T) {
	s, clk, _ := openTest(t, Options{})
	a := stored("e-1", "r", "111122223333", detect.High)

	// The same key twice in one batch is one record.
	if err := s.Put([]Stored{a, a}); err != nil {
		t.Fatal(err)
	}
	// Replayed later, without an event: last seen moves, the event stays.
	clk.Set(t0.Add(time.Minute))
	again := a
	again.Event = nil
	if err := s.Put([]Stored{again}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Get(a.Alert.DedupKey)
	if err != nil {
		t.Fatal(err)
	}
	if !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(t0.Add(time.Minute)) || got.Count != 1 || got.Deliveries != 3 || string(got.Event) != string(a.Event) {
		t.Errorf("after replays: first %v last %v count %d deliveries %d event %s", got.FirstSeen, got.LastSeen, got.Count, got.Deliveries, got.Event)
	}

	// Another event under the same key (a coarser dedup key) is counted,
	// and its alert and event replace the stored ones.
	other := stored("e-2", "r", "111122223333", detect.Critical)
	other.Alert.DedupKey = a.Alert.DedupKey
	clk.Set(t0.Add(2 * time.Minute))
	if err := s.Put([]Stored{other, other}); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Get(a.Alert.DedupKey)
	if got.Count != 2 || got.Deliveries != 5 || got.Alert.Severity != detect.Critical || string(got.Event) != string(other.Event) {
		t.Errorf("after another event: count %d deliveries %d severity %v event %s", got.Count, got.Deliveries, got.Alert.Severity, got.Event)
	}
	// The index follows: a critical filter finds it.
	p, err := s.List(Query{MinSeverity: detect.Critical})
	if err != nil || len(p.Alerts) != 1 {
		t.Errorf("List(critical) = %d alerts, %v", len(p.Alerts), err)
	}
	if n, err := s.Len(); n != 1 || err != nil {
		t.Errorf("Len = %d, %v, want 1", n, err)
	}

	// Only the latest event ids are remembered: one seen long ago counts again.
	for i := range keepEventIDs {
		e := stored(fmt.Sprintf("x-%d", i), "r", "1", detect.Low)
		e.Alert.DedupKey = a.Alert.DedupKey
		if err := s.Put([]Stored{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put([]Stored{a}); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Get(a.Alert.DedupKey)
	if want := 2 + keepEventIDs + 1; got.Count != want {
		t.Errorf("count = %d, want %d", got.Count, want)
	}
}

// TestFirstSeenIncreases checks that new alerts sort after all others
// even when the clock steps back, also across a reopen.
func TestFirstSeenIncreases(t *testing.T) {
	s, clk, path := openTest(t, Options{})
	if err := s.Put([]Stored{stored("a", "r", "1", detect.Low), stored("b", "r", "1", detect.Low)}); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(-time.Hour))
	if err := s.Put([]Stored{stored("c", "r", "1", detect.Low)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.now = clk.Now
	if err := s2.Put([]Stored{stored("d", "r", "1", detect.Low)}); err != nil {
		t.Fatal(err)
	}
	p, err := s2.List(Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p); got != "d c b a" {
		t.Errorf("List after the clock stepped back and a reopen = %s, want d c b a", got)
	}
	for i := 1; i < len(p.Alerts); i++ {
		if !p.Alerts[i-1].FirstSeen.After(p.Alerts[i].FirstSeen) {
			t.Errorf("first seen %v not after %v", p.Alerts[i-1].FirstSeen, p.Alerts[i].FirstSeen)
		}
	}
}

// ids returns the event ids of a page, space-separated.
func ids(p Page) string {
	var s []string
	for _, st := range p.Alerts {
		s = append(s, st.Alert.EventID)
	}
	return strings.Join(s, " ")
}

func TestReopenPersists(t *testing.T) {
	s, _, path := openTest(t, Options{})
	a := stored("e-1", "r", "111122223333", detect.High)
	if err := s.Put([]Stored{a}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, ok, err := s2.Get(a.Alert.DedupKey)
	if err != nil || !ok || string(got.Event) != string(a.Event) || alertJSON(t, got.Alert) != alertJSON(t, a.Alert) {
		t.Errorf("after reopen Get = %+v, %v, %v", got, ok, err)
	}
	if n, _ := s2.Len(); n != 1 {
		t.Errorf("Len after reopen = %d, want 1", n)
	}
}

// TestOpenInUse checks that a second process cannot open the store (in
// a bubble, so that bbolt's lock timeout passes at once).
func TestOpenInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "alerts.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "in use by another Vigil process") {
			t.Errorf("second Open = %v, want in use", err)
		}
	})
}

func TestRecordCorrupt(t *testing.T) {
	r := record{first: 1, last: 2, count: 3, deliveries: 4, eventIDs: []string{"a", "bc"}, alert: []byte(`{}`), event: []byte(`[1]`)}
	b := r.append(nil)
	var got record
	if err := got.decode(b, true); err != nil || got.count != 3 || got.deliveries != 4 || len(got.eventIDs) != 2 || string(got.alert) != "{}" || string(got.event) != "[1]" {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	for i := range len(b) - 4 { // every truncation before the event
		if err := got.decode(b[:i], true); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of %d bytes = %v, want corrupt", i, err)
		}
	}
}
