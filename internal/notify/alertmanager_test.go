package notify

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
)

// amPostableAlert mirrors postableAlert of Alertmanager's
// api/v2/openapi.yaml.
type amPostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *time.Time        `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func newTestAM(t *testing.T, urls ...string) []Sender {
	t.Helper()
	ss, err := NewAlertmanager("am", config.AlertmanagerReceiver{URLs: urls, Headers: map[string]string{"Authorization": "Bearer am-token"}}, testOptions)
	if err != nil {
		t.Fatalf("NewAlertmanager: %v", err)
	}
	return ss
}

func TestAlertmanagerPayload(t *testing.T) {
	srv := newRecorder(t, nil)
	s := newTestAM(t, srv.URL+"/prefix")[0]
	n := testNotification(testAlert(), awsAlert())
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := srv.only(t)
	if req.Method != http.MethodPost || req.Path != "/prefix/api/v2/alerts" {
		t.Errorf("request = %s %s, want POST /prefix/api/v2/alerts", req.Method, req.Path)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer am-token", "User-Agent": "vigil/1.2.3",
	} {
		if got := req.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	golden(t, "alertmanager.json", req.Body)

	var got []amPostableAlert
	decodeStrict(t, req.Body, &got)
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2", len(got))
	}
	a := got[0]
	wantLabels := map[string]string{
		"alertname": "aws-iam-access-key-created", "severity": "high", "account": "111122223333",
		"account_name": "payments-prod", "environment": "production", "region": "us-east-1",
		"resource": "arn:aws:iam::111122223333:user/bob", "dedup_key": "0123456789abcdef0123456789abcdef",
		"source": "vigil",
	}
	if len(a.Labels) != len(wantLabels) {
		t.Errorf("labels = %v, want %v", a.Labels, wantLabels)
	}
	for k, v := range wantLabels {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
		}
	}
	for _, al := range got {
		for k, v := range al.Labels {
			if !labelName.MatchString(k) || v == "" {
				t.Errorf("invalid label %q=%q", k, v)
			}
		}
		for k, v := range al.Annotations {
			if !labelName.MatchString(k) || v == "" {
				t.Errorf("invalid annotation %q=%q", k, v)
			}
		}
	}
	for _, k := range []string{"title", "summary", "description", "actor", "source_ip", "geo", "event_id", "event_time", "link", "origin"} {
		if a.Annotations[k] == "" {
			t.Errorf("annotation %s missing", k)
		}
	}
	if want := "Berlin, Germany; AS3320 Deutsche Telekom AG"; a.Annotations["geo"] != want {
		t.Errorf("geo = %q, want %q", a.Annotations["geo"], want)
	}
	if g := got[1].Annotations["geo"]; !strings.Contains(g, "AWS EC2 us-east-1") {
		t.Errorf("geo of an AWS address = %q, want it to say AWS EC2 us-east-1", g)
	}
	if a.StartsAt == nil || !a.StartsAt.Equal(testAlert().EventTime) {
		t.Errorf("startsAt = %v, want the event time", a.StartsAt)
	}
	if a.EndsAt != nil {
		t.Errorf("endsAt = %v, want none (Alertmanager's resolve_timeout applies)", a.EndsAt)
	}
	if want := "https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef"; a.GeneratorURL != want {
		t.Errorf("generatorURL = %q, want %q", a.GeneratorURL, want)
	}
	if _, err := url.ParseRequestURI(a.GeneratorURL); err != nil {
		t.Errorf("generatorURL is not a URI: %v", err)
	}
}

func TestAlertmanagerStartsAt(t *testing.T) {
	s := newTestAM(t, "http://am:9093")[0].(*alertmanager)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		event time.Time
		want  time.Time
	}{
		{"past", now.Add(-48 * time.Hour), now.Add(-48 * time.Hour)},
		{"zero", time.Time{}, now},
		{"future", now.Add(time.Hour), now}, // Alertmanager refuses endsAt before startsAt
	} {
		a := testAlert()
		a.EventTime = tc.event
		got := s.amAlert(a, testNotification(a), now)
		if !got.StartsAt.Equal(tc.want) {
			t.Errorf("%s: startsAt = %v, want %v", tc.name, got.StartsAt, tc.want)
		}
	}
}

func TestAlertmanagerOmitsEmpty(t *testing.T) {
	s := newTestAM(t, "http://am:9093")[0].(*alertmanager)
	a := &alert.Alert{Rule: "r", DedupKey: "k"}
	n := testNotification(a)
	n.Test = true
	got := s.amAlert(a, n, time.Now())
	want := map[string]string{"alertname": "r", "severity": "info", "dedup_key": "k", "source": "vigil", "test": "true"}
	if len(got.Labels) != len(want) {
		t.Errorf("labels = %v, want %v", got.Labels, want)
	}
	for k, v := range want {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, got.Labels[k], v)
		}
	}
	if !strings.HasPrefix(got.Annotations["title"], "[TEST] ") {
		t.Errorf("title = %q, want [TEST] first", got.Annotations["title"])
	}
}

func TestAlertmanagerCluster(t *testing.T) {
	ok1, ok2 := newRecorder(t, nil), newRecorder(t, nil)
	bad := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	ss := newTestAM(t, ok1.URL, bad.URL, ok2.URL)
	if len(ss) != 3 {
		t.Fatalf("NewAlertmanager returned %d senders, want 3", len(ss))
	}
	names := map[string]bool{}
	for i, s := range ss {
		u, _ := url.Parse([]string{ok1.URL, bad.URL, ok2.URL}[i])
		if want := "am/" + u.Host; s.Name() != want {
			t.Errorf("Name() = %q, want %q", s.Name(), want)
		}
		names[s.Name()] = true
		err := s.Send(context.Background(), testNotification())
		if i == 1 {
			se := sendErr(t, err)
			if se.Status != 500 || se.Permanent || se.Dest != s.Name() {
				t.Errorf("member 1: %+v, want retryable 500 from %s", se, s.Name())
			}
		} else if err != nil {
			t.Errorf("member %d: %v", i, err)
		}
	}
	for _, r := range []*recorder{ok1, bad, ok2} {
		if n := len(r.requests()); n != 1 {
			t.Errorf("member %s got %d requests, want 1", r.URL, n)
		}
	}
}

func TestAlertmanagerNames(t *testing.T) {
	ss := newTestAM(t, "https://am-0.example.com", "http://user:pw@am-1.example.com/am", "http://[::1]:9093")
	want := []string{"am/am-0.example.com:443", "am/am-1.example.com:80", "am/[::1]:9093"}
	for i, s := range ss {
		if s.Name() != want[i] {
			t.Errorf("Name() = %q, want %q", s.Name(), want[i])
		}
	}
	if _, err := NewAlertmanager("am", config.AlertmanagerReceiver{URLs: []string{"http://a:1", "http://a:1/x"}}, testOptions); err == nil {
		t.Error("the same member twice: no error")
	}
}

func TestAlertmanagerStatus(t *testing.T) {
	mk := func(t *testing.T, u string) Sender { return newTestAM(t, u)[0] }
	runStatusCases(t, mk, testNotification())
	runTransportCases(t, mk, testNotification())
}
