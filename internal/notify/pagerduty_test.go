package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
)

// pdTrigger mirrors an Events API v2 alert event as documented
// (developer.pagerduty.com, "Send an Alert Event").
type pdTrigger struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
	Images []struct {
		Src, Href, Alt string
	} `json:"images"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
	Client    string `json:"client"`
	ClientURL string `json:"client_url"`
}

const pdKey = "R0UTINGKEY0123456789abcdefghijkl"

func newTestPD(t *testing.T, u string) *pagerDuty {
	t.Helper()
	ss, err := New(config.Receiver{Name: "oncall", PagerDuty: &config.PagerDutyReceiver{RoutingKey: pdKey, URL: u}}, testOptions)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ss[0].(*pagerDuty)
}

func TestPagerDutyPayload(t *testing.T) {
	srv := newRecorder(t, nil)
	s := newTestPD(t, srv.URL+"/v2/enqueue")
	if err := s.Send(context.Background(), testNotification(testAlert(), awsAlert())); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want one event per alert", len(reqs))
	}
	golden(t, "pagerduty.json", reqs[0].Body)

	var ev pdTrigger
	decodeStrict(t, reqs[0].Body, &ev)
	if reqs[0].Path != "/v2/enqueue" {
		t.Errorf("path %q", reqs[0].Path)
	}
	p := ev.Payload
	for _, c := range []struct{ name, got, want string }{
		{"routing_key", ev.RoutingKey, pdKey},
		{"event_action", ev.EventAction, "trigger"},
		{"dedup_key", ev.DedupKey, "0123456789abcdef0123456789abcdef"},
		{"summary", p.Summary, "[HIGH] Access key created for another user by alice in payments-prod us-east-1 from 203.0.113.7"},
		{"source", p.Source, "arn:aws:iam::111122223333:user/bob"},
		{"severity", p.Severity, "error"},
		{"timestamp", p.Timestamp, "2024-05-01T12:34:56Z"},
		{"component", p.Component, "iam.amazonaws.com"},
		{"group", p.Group, "payments-prod"},
		{"class", p.Class, "aws-iam-access-key-created"},
		{"client", ev.Client, "Vigil"},
		{"client_url", ev.ClientURL, "https://vigil.example.com"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
		t.Errorf("timestamp not ISO 8601: %v", err)
	}
	if len(ev.Links) != 1 || ev.Links[0].Href != "https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef" || ev.Links[0].Text == "" {
		t.Errorf("links = %+v", ev.Links)
	}
	cd := p.CustomDetails
	if cd["rule"] != "aws-iam-access-key-created" || cd["who"] == nil || cd["from"] == nil {
		t.Errorf("custom_details lack the alert fields: %v", cd)
	}
	var ev2 pdTrigger
	decodeStrict(t, reqs[1].Body, &ev2)
	if ev2.DedupKey != "fedcba9876543210fedcba9876543210" || ev2.Payload.Severity != "critical" {
		t.Errorf("second event: dedup %q severity %q", ev2.DedupKey, ev2.Payload.Severity)
	}
}

func TestPagerDutySummaryLimit(t *testing.T) {
	a := testAlert()
	a.Title = strings.Repeat("€", 5000)
	n := testNotification(a)
	n.Test = true
	ev := newTestPD(t, "").event(a, n.Test)
	if c := utf8.RuneCountInString(ev.Payload.Summary); c > pdMaxSummary {
		t.Errorf("summary has %d characters, PagerDuty allows %d", c, pdMaxSummary)
	}
	if !utf8.ValidString(ev.Payload.Summary) || !strings.HasPrefix(ev.Payload.Summary, "[TEST] [HIGH] €") {
		t.Errorf("summary = %.40q", ev.Payload.Summary)
	}
	b, _ := json.Marshal(ev)
	if !strings.Contains(string(b), `"test":true`) {
		t.Error("custom_details of a test do not say test")
	}
}

func TestPagerDutySeverity(t *testing.T) {
	for s, want := range map[detect.Severity]string{
		detect.Critical: "critical", detect.High: "error", detect.Medium: "warning", detect.Low: "warning", detect.Info: "info",
	} {
		if got := pdSeverity(s); got != want {
			t.Errorf("pdSeverity(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestPagerDutyDefaultURL(t *testing.T) {
	if s := newTestPD(t, ""); s.url != DefaultPagerDutyURL {
		t.Errorf("url = %q, want %q", s.url, DefaultPagerDutyURL)
	}
}

func TestPagerDutyStopsAtFirstFailure(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	err := newTestPD(t, srv.URL).Send(context.Background(), testNotification(testAlert(), awsAlert()))
	if se, calls := sendErr(t, err), len(srv.requests()); se.Status != 500 || calls != 1 {
		t.Errorf("Send = %v after %d calls, want 500 after 1", err, calls)
	}
}

func TestPagerDutyStatus(t *testing.T) {
	mk := func(t *testing.T, u string) Sender { return newTestPD(t, u) }
	runStatusCases(t, mk, testNotification())
	runTransportCases(t, mk, testNotification())
}
