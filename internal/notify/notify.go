// Package notify delivers alerts to the places people read them:
// Alertmanager clusters, Slack, PagerDuty, email and webhooks. A Sender
// talks to one destination; the router picks destinations for each alert
// and the outbox keeps what is not yet delivered across failures and
// restarts.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
)

// Notification is what one destination receives at once: the alerts of
// one group, in the order they were found.
type Notification struct {
	// Receiver is the configured receiver's name.
	Receiver string
	// GroupKey identifies the group (stable across retries), for
	// destinations that thread or deduplicate by it.
	GroupKey string
	Alerts   []*alert.Alert
	// Test marks a `vigil notify test` notification: destinations say so
	// plainly in what they render.
	Test bool
}

// Sender delivers notifications to one destination. Send must be safe
// for concurrent use, must honour ctx, and returns nil only when the
// destination accepted the notification. Errors it returns should be
// *SendError when the destination answered, so the outbox knows whether
// and when to retry.
type Sender interface {
	// Name identifies the destination in logs, metrics and the outbox:
	// the receiver name, and for a cluster member "name/host:port".
	Name() string
	Send(ctx context.Context, n *Notification) error
}

// SendError is a failed delivery.
type SendError struct {
	Dest string
	// Status is the HTTP status or SMTP reply code, 0 when there was no
	// answer (connection refused, timeout).
	Status int
	// Permanent means retrying the same request will not help (most
	// 4xx answers); the notification goes to the dead letters at once.
	Permanent bool
	// RetryAfter is the wait the destination asked for (429/503
	// Retry-After), 0 when it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString(e.Dest)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err says retrying cannot help.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// RetryAfter returns the wait err asks for, or 0.
func RetryAfter(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// Options are what every sender shares.
type Options struct {
	// ExternalURL is Vigil's base URL for links back to alerts.
	ExternalURL string
	// Version goes into User-Agent headers ("vigil/<version>").
	Version string
}

// AlertURL is the link to an alert in Vigil's API.
func (o Options) AlertURL(a *alert.Alert) string {
	base := strings.TrimRight(o.ExternalURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	return base + "/api/alerts/" + a.DedupKey
}
