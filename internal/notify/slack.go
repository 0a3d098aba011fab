package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
)

// Slack's Block Kit limits, in characters.
const (
	slackMaxBlocks       = 50
	slackMaxHeader       = 150
	slackMaxSectionText  = 3000
	slackMaxField        = 2000
	slackMaxFields       = 10
	slackMaxContext      = 2000 // per element; Slack allows more
	slackMaxButtonText   = 75
	slackMaxURL          = 3000
	slackMaxFallbackText = 3000
	// slackDetailed is how many alerts of a notification are shown in
	// full; the others are listed one a line.
	slackDetailed = 5
	// slackMaxLine bounds one line of that list.
	slackMaxLine = 300
)

// Slack attachment colours: the bar beside each alert.
var slackColors = [...]string{
	detect.Info:     "#9e9e9e", // grey
	detect.Low:      "#f2c744", // yellow
	detect.Medium:   "#ff8c00", // orange
	detect.High:     "#d40e0d", // red
	detect.Critical: "#d40e0d", // red
}

func slackColor(s detect.Severity) string {
	if int(s) < len(slackColors) {
		return slackColors[s]
	}
	return slackColors[detect.Critical]
}

// Block Kit, as much of it as Vigil uses.
type (
	slackMessage struct {
		Text        string            `json:"text"`
		Blocks      []slackBlock      `json:"blocks,omitempty"`
		Attachments []slackAttachment `json:"attachments,omitempty"`
	}
	slackAttachment struct {
		Color    string       `json:"color"`
		Fallback string       `json:"fallback,omitempty"`
		Blocks   []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text,omitempty"`
		Fields   []slackText `json:"fields,omitempty"`
		Elements []any       `json:"elements,omitempty"` // slackText (context) or slackButton (actions)
	}
	slackText struct {
		Type string `json:"type"` // plain_text or mrkdwn
		Text string `json:"text"`
	}
	slackButton struct {
		Type string    `json:"type"` // button
		Text slackText `json:"text"`
		URL  string    `json:"url"`
	}
)

// slack posts Block Kit messages to an incoming webhook. The webhook URL
// is a secret: it appears neither in Name nor in errors.
type slack struct {
	name string
	url  string
	p    *poster
	o    Options
}

func newSlack(name string, c *config.SlackReceiver, o Options) (*slack, error) {
	u, err := parseHTTPURL(c.WebhookURL)
	if err != nil {
		return nil, fmt.Errorf("receiver %q: slack.webhook_url: %w", name, err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("receiver %q: slack.timeout: must not be negative", name)
	}
	secrets := []string{c.WebhookURL}
	if len(u.Path) > 1 {
		secrets = append(secrets, strings.TrimPrefix(u.Path, "/"))
	}
	return &slack{name: name, url: c.WebhookURL, p: newPoster(name, c.Timeout, nil, o, secrets...), o: o}, nil
}

// Name implements Sender.
func (s *slack) Name() string { return s.name }

// Parallel is 1: an incoming webhook takes about one message a second,
// and messages should arrive in order.
func (s *slack) Parallel() int { return 1 }

// Send implements Sender. Slack answers 200 "ok"; 429 with Retry-After
// when rate limited; 400 invalid_payload, 403 and 404 no_service are
// permanent.
func (s *slack) Send(ctx context.Context, n *Notification) error {
	if len(n.Alerts) == 0 {
		return nil
	}
	body, err := json.Marshal(s.message(n))
	if err != nil {
		return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("encode message: %w", err)}
	}
	return s.p.post(ctx, s.url, body, nil)
}

// message renders n: a header, then an attachment per alert (for the
// colour bar) with its fields, origin and link, for the first
// slackDetailed alerts, and a list of the others.
func (s *slack) message(n *Notification) *slackMessage {
	head := headline(n)
	m := &slackMessage{
		Text:   mrkdwn(head, slackMaxFallbackText),
		Blocks: []slackBlock{{Type: "header", Text: &slackText{Type: "plain_text", Text: plain(head, slackMaxHeader)}}},
	}
	blocks := 1
	shown := min(len(n.Alerts), slackDetailed)
	for i, a := range n.Alerts[:shown] {
		v := newView(a, n.Test, s.o)
		bl := slackAlert(v)
		if blocks+len(bl)+1 > slackMaxBlocks { // keep one for the list
			shown = i
			break
		}
		blocks += len(bl)
		m.Attachments = append(m.Attachments, slackAttachment{
			Color:    slackColor(a.Severity),
			Fallback: plain(v.line(), slackMaxLine),
			Blocks:   bl,
		})
	}
	if rest := n.Alerts[shown:]; len(rest) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d more alert", len(rest))
		if len(rest) > 1 {
			b.WriteString("s")
		}
		b.WriteString(":*")
		listed := 0
		for _, a := range rest {
			line := "\n• " + mrkdwn(newView(a, n.Test, s.o).line(), slackMaxLine)
			tail := "\n…and " + strconv.Itoa(len(rest)-listed) + " more"
			if utf8.RuneCountInString(b.String())+utf8.RuneCountInString(line)+len(tail) > slackMaxSectionText {
				break
			}
			b.WriteString(line)
			listed++
		}
		if listed < len(rest) {
			b.WriteString("\n…and " + strconv.Itoa(len(rest)-listed) + " more")
		}
		m.Attachments = append(m.Attachments, slackAttachment{
			Color:  slackColor(maxSeverity(rest)),
			Blocks: []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: b.String()}}},
		})
	}
	return m
}

// slackAlert renders one alert: title, rule and severity; who, when,
// where, source, how and resource as fields; origin and event id; a
// button to the alert in Vigil.
func slackAlert(v *view) []slackBlock {
	title := "*" + mrkdwn(v.Title, slackMaxSectionText-200) + "*\n`" +
		mrkdwn(v.Rule, 100) + "` · *" + v.Severity + "*"
	blocks := []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: title}}}

	var fields []slackText
	for _, f := range []field{
		{"Who", v.Who}, {"When", v.When}, {"Where", v.Where},
		{"Source", v.Source}, {"How", v.How}, {"Resource", v.Resource},
	} {
		if f.Value == "" || len(fields) == slackMaxFields {
			continue
		}
		label := "*" + f.Name + "*\n"
		fields = append(fields, slackText{Type: "mrkdwn", Text: label + mrkdwn(f.Value, slackMaxField-len(label))})
	}
	if len(fields) > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
	}

	var ctx []string
	if v.Origin != "" {
		ctx = append(ctx, "Origin: "+v.Origin)
	}
	if v.Event != "" {
		ctx = append(ctx, "Event: "+v.Event)
	}
	if len(ctx) > 0 {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []any{
			slackText{Type: "mrkdwn", Text: mrkdwn(strings.Join(ctx, " · "), slackMaxContext)},
		}})
	}
	if v.Link != "" && len(v.Link) <= slackMaxURL {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []any{
			slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: plain("Open in Vigil", slackMaxButtonText)}, URL: v.Link},
		}})
	}
	return blocks
}

// plain is s for a plain_text object: at most n characters, never
// empty (Slack refuses empty text).
func plain(s string, n int) string {
	s = truncate(strings.TrimSpace(s), n)
	if s == "" {
		return "-"
	}
	return s
}

// mrkdwn escapes s for Slack's mrkdwn (&, < and >, so that text from an
// event cannot make links or @channel mentions) and cuts it to at most
// n characters without splitting an escape.
func mrkdwn(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	esc := slackEscaper.Replace(s)
	if utf8.RuneCountInString(esc) <= n {
		return esc
	}
	var b strings.Builder
	count := 0
	for _, r := range s {
		piece := slackEscaper.Replace(string(r))
		pl := utf8.RuneCountInString(piece)
		if count+pl > n-1 {
			break
		}
		b.WriteString(piece)
		count += pl
	}
	b.WriteString("…")
	return b.String()
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
