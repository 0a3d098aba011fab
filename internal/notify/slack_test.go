package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
)

// Block Kit as documented (api.slack.com/reference/block-kit), strictly:
// an element is a text object or a button.
type (
	bkMessage struct {
		Text        string         `json:"text"`
		Blocks      []bkBlock      `json:"blocks"`
		Attachments []bkAttachment `json:"attachments"`
	}
	bkAttachment struct {
		Color    string    `json:"color"`
		Fallback string    `json:"fallback"`
		Blocks   []bkBlock `json:"blocks"`
	}
	bkBlock struct {
		Type     string      `json:"type"`
		Text     *bkText     `json:"text"`
		Fields   []bkText    `json:"fields"`
		Elements []bkElement `json:"elements"`
	}
	bkText struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	bkElement struct {
		Type string          `json:"type"`
		Text json.RawMessage `json:"text"` // a string in context, a text object in a button
		URL  string          `json:"url"`
	}
)

const slackSecret = "T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"

func newTestSlack(t *testing.T, base string) *slack {
	t.Helper()
	ss, err := New(config.Receiver{Name: "team-slack", Slack: &config.SlackReceiver{WebhookURL: base + "/services/" + slackSecret}}, testOptions)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ss[0].(*slack)
}

// checkBlockKit asserts Slack's documented limits on m.
func checkBlockKit(t *testing.T, m *bkMessage) {
	t.Helper()
	total := len(m.Blocks)
	all := append([]bkBlock(nil), m.Blocks...)
	for _, a := range m.Attachments {
		total += len(a.Blocks)
		all = append(all, a.Blocks...)
		if !strings.HasPrefix(a.Color, "#") {
			t.Errorf("attachment color %q", a.Color)
		}
	}
	if total > slackMaxBlocks {
		t.Errorf("%d blocks, Slack allows %d", total, slackMaxBlocks)
	}
	count := func(what, s string, limit int) {
		if !utf8.ValidString(s) {
			t.Errorf("%s is not valid UTF-8", what)
		}
		if n := utf8.RuneCountInString(s); n > limit || n == 0 {
			t.Errorf("%s has %d characters, want 1..%d", what, n, limit)
		}
	}
	for _, b := range all {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" {
				t.Fatalf("header without plain_text: %+v", b)
			}
			count("header", b.Text.Text, slackMaxHeader)
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				t.Errorf("section without text or fields")
			}
			if b.Text != nil {
				count("section text", b.Text.Text, slackMaxSectionText)
			}
			if len(b.Fields) > slackMaxFields {
				t.Errorf("section has %d fields, Slack allows %d", len(b.Fields), slackMaxFields)
			}
			for _, f := range b.Fields {
				count("field", f.Text, slackMaxField)
			}
		case "context":
			for _, e := range b.Elements {
				var s string
				if err := json.Unmarshal(e.Text, &s); err != nil || e.Type != "mrkdwn" {
					t.Errorf("context element %s %s", e.Type, e.Text)
				}
				count("context", s, 3000)
			}
		case "actions":
			for _, e := range b.Elements {
				var txt bkText
				if err := json.Unmarshal(e.Text, &txt); err != nil || e.Type != "button" || txt.Type != "plain_text" {
					t.Errorf("actions element %s %s", e.Type, e.Text)
				}
				count("button text", txt.Text, slackMaxButtonText)
				count("button url", e.URL, slackMaxURL)
			}
		default:
			t.Errorf("unexpected block type %q", b.Type)
		}
	}
}

func TestSlackPayload(t *testing.T) {
	srv := newRecorder(t, nil)
	s := newTestSlack(t, srv.URL)
	n := testNotification(testAlert(), awsAlert())
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := srv.only(t)
	if req.Path != "/services/"+slackSecret || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s", req.Path, req.Header.Get("Content-Type"))
	}
	golden(t, "slack.json", req.Body)

	var m bkMessage
	decodeStrict(t, req.Body, &m)
	checkBlockKit(t, &m)
	if want := "[CRITICAL] Bucket made public (+1 more)"; m.Text != want || m.Blocks[0].Text.Text != want {
		t.Errorf("text = %q, header = %q, want %q", m.Text, m.Blocks[0].Text.Text, want)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("%d attachments, want one per alert", len(m.Attachments))
	}
	if m.Attachments[0].Color != slackColor(detect.High) || m.Attachments[1].Color != slackColor(detect.Critical) {
		t.Errorf("colors %q %q", m.Attachments[0].Color, m.Attachments[1].Color)
	}
	body := string(req.Body)
	for _, want := range []string{
		"alice (arn:aws:iam::111122223333:user/alice)", "2024-05-01T12:34:56Z", "payments-prod",
		"203.0.113.7 (Berlin, Germany; AS3320 Deutsche Telekom AG)", "AWS EC2 us-east-1",
		"iam.amazonaws.com CreateAccessKey", "x.json.gz record 3", "https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("message lacks %q", want)
		}
	}
}

func TestSlackColors(t *testing.T) {
	for s, want := range map[detect.Severity]string{
		detect.Critical: "#d40e0d", detect.High: "#d40e0d", detect.Medium: "#ff8c00", detect.Low: "#f2c744", detect.Info: "#9e9e9e",
	} {
		if got := slackColor(s); got != want {
			t.Errorf("slackColor(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestSlackLimits(t *testing.T) {
	long := strings.Repeat("ab&<>é🔥", 5000/7+1) // 5,000+ characters, multi-byte, escapes
	a := testAlert()
	a.Title = long
	a.UserAgent = strings.Repeat("x", 5000)
	a.Resource = strings.Repeat("ü", 3000)
	a.Origin.Path = strings.Repeat("p", 4000)

	many := []*alert.Alert{a}
	for range 80 {
		many = append(many, testAlert())
	}
	for _, tc := range []struct {
		name string
		n    *Notification
	}{
		{"long title", testNotification(a)},
		{"long title test", &Notification{Alerts: []*alert.Alert{a}, Test: true}},
		{"81 alerts", testNotification(many...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(newTestSlack(t, "http://x").message(tc.n))
			if err != nil {
				t.Fatal(err)
			}
			var m bkMessage
			decodeStrict(t, b, &m)
			checkBlockKit(t, &m)
			if tc.n.Test && !strings.HasPrefix(m.Blocks[0].Text.Text, "[TEST] ") {
				t.Errorf("header %q lacks [TEST]", m.Blocks[0].Text.Text)
			}
			if len(tc.n.Alerts) > slackDetailed {
				last := m.Attachments[len(m.Attachments)-1].Blocks[0].Text.Text
				if !strings.HasPrefix(last, "*76 more alerts:*") || !strings.Contains(last, "more") {
					t.Errorf("summary = %.200q", last)
				}
			}
		})
	}
}

func TestSlackEscapes(t *testing.T) {
	a := testAlert()
	a.Title = "<!channel> <https://evil.example|click> & co"
	a.UserAgent = "<@U123>"
	b, _ := json.Marshal(newTestSlack(t, "http://x").message(testNotification(a)))
	var m bkMessage
	decodeStrict(t, b, &m)
	for _, at := range m.Attachments {
		for _, bl := range at.Blocks {
			var texts []string
			if bl.Text != nil {
				texts = append(texts, bl.Text.Text)
			}
			for _, f := range bl.Fields {
				texts = append(texts, f.Text)
			}
			for _, s := range texts {
				if strings.ContainsAny(s, "<>") {
					t.Errorf("unescaped mrkdwn: %q", s)
				}
			}
		}
	}
	if !strings.Contains(m.Text, "&lt;!channel&gt;") || !strings.Contains(m.Text, "&amp; co") {
		t.Errorf("fallback text %q not escaped", m.Text)
	}
}

func TestMrkdwn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a<b", 10, "a&lt;b"},
		{"a<b", 5, "a…"}, // never half an escape
		{"a<b", 6, "a&lt;b"},
		{"ééééé", 3, "éé…"},
		{"\xff", 5, "\uFFFD"},
	} {
		if got := mrkdwn(tc.in, tc.n); got != tc.want {
			t.Errorf("mrkdwn(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestSlackStatus(t *testing.T) {
	mk := func(t *testing.T, u string) Sender { return newTestSlack(t, u) }
	runStatusCases(t, mk, testNotification())
	runTransportCases(t, mk, testNotification())
}
