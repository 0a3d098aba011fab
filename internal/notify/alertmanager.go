package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
)

// amAlert is an Alertmanager API v2 postableAlert (api/v2/openapi.yaml):
// labels and annotations are label sets of strings.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alertmanager posts alerts to one member of an Alertmanager cluster.
//
// Vigil's alerts are events, not states: nothing will later say that a
// root login "stopped". So the alerts are posted without endsAt, and
// Alertmanager sets endsAt to the time it received them plus its
// resolve_timeout (5m by default), after which it resolves them by
// itself. Alertmanager groups and notifies them meanwhile as long as its
// resolve_timeout is longer than the route's group_wait, which the
// defaults are. A receiver with send_resolved gets a "resolved" message
// then, which means "no longer posted", not "fixed". A fixed endsAt
// computed here would instead resolve at once every alert older than it
// (Vigil also scans old logs), and Alertmanager would never notify it.
//
// startsAt is the event time, or now when that is unknown or in the
// future: Alertmanager refuses an alert that ends before it starts.
type alertmanager struct {
	name string
	url  string // {base}/api/v2/alerts
	p    *poster
	o    Options
}

// NewAlertmanager returns a Sender for each member of an Alertmanager
// cluster, named "name/host:port". Each alert is posted to every member,
// as Prometheus does, and each member is a Sender of its own so that the
// outbox retries one member that is down without posting again to those
// that accepted.
func NewAlertmanager(name string, c config.AlertmanagerReceiver, o Options) ([]Sender, error) {
	if len(c.URLs) == 0 {
		return nil, fmt.Errorf("receiver %q: alertmanager.urls: required", name)
	}
	if err := checkHeaders(c.Headers, "Content-Type"); err != nil {
		return nil, fmt.Errorf("receiver %q: alertmanager.headers: %w", name, err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("receiver %q: alertmanager.timeout: must not be negative", name)
	}
	seen := make(map[string]bool, len(c.URLs))
	out := make([]Sender, 0, len(c.URLs))
	for i, raw := range c.URLs {
		u, err := parseHTTPURL(raw)
		if err != nil {
			return nil, fmt.Errorf("receiver %q: alertmanager.urls[%d]: %w", name, i, err)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		member := name + "/" + net.JoinHostPort(u.Hostname(), port)
		if seen[member] {
			return nil, fmt.Errorf("receiver %q: alertmanager.urls[%d]: member %s given twice", name, i, member)
		}
		seen[member] = true
		var secrets []string
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		out = append(out, &alertmanager{
			name: member,
			url:  u.JoinPath("api/v2/alerts").String(),
			p:    newPoster(member, c.Timeout, c.Headers, o, secrets...),
			o:    o,
		})
	}
	return out, nil
}

// Name implements Sender.
func (s *alertmanager) Name() string { return s.name }

// Send implements Sender: it posts all the notification's alerts in one
// request. Alertmanager answers 200, 400 when an alert is invalid
// (permanent) or 500.
func (s *alertmanager) Send(ctx context.Context, n *Notification) error {
	if len(n.Alerts) == 0 {
		return nil
	}
	now := time.Now()
	alerts := make([]amAlert, len(n.Alerts))
	for i, a := range n.Alerts {
		alerts[i] = s.amAlert(a, n, now)
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("encode alerts: %w", err)}
	}
	return s.p.post(ctx, s.url, body, nil)
}

// amAlert maps a to Alertmanager's labels, which identify an alert and
// route it, and annotations, which describe it.
func (s *alertmanager) amAlert(a *alert.Alert, n *Notification, now time.Time) amAlert {
	v := newView(a, n.Test, s.o)
	labels := map[string]string{
		"alertname": a.Rule,
		"severity":  a.Severity.String(),
		"account":   a.Account,
		"region":    a.Region,
		"resource":  a.Resource,
		"dedup_key": a.DedupKey,
		"source":    "vigil",
	}
	if a.AccountInfo != nil {
		labels["account_name"] = a.AccountInfo.Name
		labels["environment"] = a.AccountInfo.Environment
	}
	if n.Test {
		labels["test"] = "true"
	}
	annotations := map[string]string{
		"title":       v.Title,
		"summary":     v.sentence(),
		"description": v.text(),
		"actor":       v.Who,
		"source_ip":   a.SourceIP,
		"geo":         v.Geo,
		"event_id":    a.EventID,
		"event_time":  v.When,
		"link":        v.Link,
		"origin":      v.Origin,
	}
	// Alertmanager drops empty labels; leave them out here so that what
	// is sent is what it keeps.
	for _, m := range []map[string]string{labels, annotations} {
		for k, val := range m {
			if val == "" {
				delete(m, k)
			}
		}
	}
	start := a.EventTime
	if start.IsZero() || start.After(now) {
		start = now
	}
	return amAlert{
		Labels:       labels,
		Annotations:  annotations,
		StartsAt:     start.UTC(),
		GeneratorURL: v.Link,
	}
}

// parseHTTPURL parses an absolute http or https URL with a host.
func parseHTTPURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a secret.
		return nil, fmt.Errorf("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("must be an http or https URL")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("must have a host")
	}
	return u, nil
}
