package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
)

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// pdMaxSummary is the Events API's limit on payload.summary.
const pdMaxSummary = 1024

// pdEvent is an Events API v2 alert event.
type pdEvent struct {
	RoutingKey  string    `json:"routing_key"`
	EventAction string    `json:"event_action"`
	DedupKey    string    `json:"dedup_key,omitempty"`
	Payload     pdPayload `json:"payload"`
	Links       []pdLink  `json:"links,omitempty"`
	Client      string    `json:"client,omitempty"`
	ClientURL   string    `json:"client_url,omitempty"`
}

type pdPayload struct {
	Summary       string     `json:"summary"`
	Source        string     `json:"source"`
	Severity      string     `json:"severity"`
	Timestamp     string     `json:"timestamp,omitempty"`
	Component     string     `json:"component,omitempty"`
	Group         string     `json:"group,omitempty"`
	Class         string     `json:"class,omitempty"`
	CustomDetails *pdDetails `json:"custom_details,omitempty"`
}

// pdDetails are the alert's fields, with its rendering in words first.
type pdDetails struct {
	Who   string `json:"who,omitempty"`
	When  string `json:"when,omitempty"`
	Where string `json:"where,omitempty"`
	From  string `json:"from,omitempty"`
	How   string `json:"how,omitempty"`
	Link  string `json:"link,omitempty"`
	Test  bool   `json:"test,omitempty"`
	*alert.Alert
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// pdSeverity maps Vigil's severities to PagerDuty's four: critical to
// critical, high to error, medium and low to warning, info to info.
// Low stays a warning rather than info so that it is not taken for a
// notice in PagerDuty's severity-based urgency.
func pdSeverity(s detect.Severity) string {
	switch {
	case s >= detect.Critical:
		return "critical"
	case s == detect.High:
		return "error"
	case s == detect.Medium, s == detect.Low:
		return "warning"
	}
	return "info"
}

// pagerDuty sends Events API v2 trigger events. The routing key is a
// secret: it appears neither in Name nor in errors.
type pagerDuty struct {
	name string
	key  string
	url  string
	p    *poster
	o    Options
}

func newPagerDuty(name string, c *config.PagerDutyReceiver, o Options) (*pagerDuty, error) {
	if c.RoutingKey == "" {
		return nil, fmt.Errorf("receiver %q: pagerduty.routing_key: required", name)
	}
	u := c.URL
	if u == "" {
		u = DefaultPagerDutyURL
	}
	if _, err := parseHTTPURL(u); err != nil {
		return nil, fmt.Errorf("receiver %q: pagerduty.url: %w", name, err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("receiver %q: pagerduty.timeout: must not be negative", name)
	}
	return &pagerDuty{name: name, key: c.RoutingKey, url: u, p: newPoster(name, c.Timeout, nil, o, c.RoutingKey), o: o}, nil
}

// Name implements Sender.
func (s *pagerDuty) Name() string { return s.name }

// Send implements Sender: one trigger event per alert, with the alert's
// dedup key, in order, stopping at the first failure. A retry sends
// again the events already accepted; PagerDuty adds those to the alert
// open for their dedup key rather than open another. PagerDuty answers
// 202; 400 is permanent; 429 and 5xx are worth a retry.
func (s *pagerDuty) Send(ctx context.Context, n *Notification) error {
	for _, a := range n.Alerts {
		body, err := json.Marshal(s.event(a, n.Test))
		if err != nil {
			return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("encode event: %w", err)}
		}
		if err := s.p.post(ctx, s.url, body, nil); err != nil {
			return err
		}
	}
	return nil
}

// event maps a to a PagerDuty Common Event Format trigger: the affected
// resource is the source, the AWS service the component, the account
// the group and the rule the class.
func (s *pagerDuty) event(a *alert.Alert, test bool) *pdEvent {
	v := newView(a, test, s.o)
	sum := "[" + v.Severity + "] " + strings.TrimPrefix(v.sentence(), testPrefix)
	if test {
		sum = testPrefix + sum
	}
	source := a.Resource
	if source == "" {
		source = "aws"
		for _, x := range []string{a.Account, a.Region} {
			if x != "" {
				source += ":" + x
			}
		}
	}
	ev := &pdEvent{
		RoutingKey:  s.key,
		EventAction: "trigger",
		DedupKey:    truncate(a.DedupKey, 255),
		Payload: pdPayload{
			Summary:   truncate(sum, pdMaxSummary),
			Source:    source,
			Severity:  pdSeverity(a.Severity),
			Timestamp: v.When,
			Component: a.Service,
			Group:     accountName(a),
			Class:     a.Rule,
			CustomDetails: &pdDetails{
				Who: v.Who, When: v.When, Where: v.Where, From: v.Source, How: v.How, Link: v.Link,
				Test: test, Alert: a,
			},
		},
		Client:    "Vigil",
		ClientURL: baseURL(s.o),
	}
	if v.Link != "" {
		ev.Links = []pdLink{{Href: v.Link, Text: "Alert in Vigil"}}
	}
	return ev
}
