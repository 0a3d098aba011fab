package notify

import (
	"errors"
	"fmt"

	"github.com/vigil-sec/vigil/internal/config"
)

// New builds the senders of a configured receiver: one for a Slack,
// PagerDuty, email or webhook receiver, one per member for an
// Alertmanager cluster. It checks that exactly one kind is set and that
// its fields are usable (URLs parse and are http or https, addresses
// parse, files load), with errors that name the receiver and the field
// and never quote a secret. It does not contact the destination.
func New(r config.Receiver, o Options) ([]Sender, error) {
	if r.Name == "" {
		return nil, errors.New("receiver: name: required")
	}
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"alertmanager", r.Alertmanager != nil},
		{"slack", r.Slack != nil},
		{"pagerduty", r.PagerDuty != nil},
		{"email", r.Email != nil},
		{"webhook", r.Webhook != nil},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	switch len(kinds) {
	case 0:
		return nil, fmt.Errorf("receiver %q: needs one of alertmanager, slack, pagerduty, email, webhook", r.Name)
	case 1:
	default:
		return nil, fmt.Errorf("receiver %q: has %d kinds (%v); one receiver has exactly one", r.Name, len(kinds), kinds)
	}
	var (
		s   Sender
		err error
	)
	switch {
	case r.Alertmanager != nil:
		return NewAlertmanager(r.Name, *r.Alertmanager, o)
	case r.Slack != nil:
		s, err = newSlack(r.Name, r.Slack, o)
	case r.PagerDuty != nil:
		s, err = newPagerDuty(r.Name, r.PagerDuty, o)
	case r.Email != nil:
		s, err = newEmail(r.Name, r.Email, o)
	case r.Webhook != nil:
		s, err = newWebhook(r.Name, r.Webhook, o)
	}
	if err != nil {
		return nil, err
	}
	return []Sender{s}, nil
}
