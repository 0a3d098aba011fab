// Package alert defines Alert, the self-contained, serialisable form of a
// finding that outputs and notifiers deliver: who did what, when, where,
// how, how bad, and where the evidence is.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

// Alert is one finding ready for delivery. Its JSON form is Vigil's output
// contract (`vigil scan --format json`): fields are added, never renamed.
type Alert struct {
	Rule     string          `json:"rule"`
	Severity detect.Severity `json:"severity"`
	Title    string          `json:"title"`
	// EventID is the CloudTrail eventID, the finding id, or a stable hash
	// of the record for sources without ids.
	EventID   string     `json:"event_id"`
	EventTime time.Time  `json:"event_time"`
	Kind      event.Kind `json:"kind"`
	Account   string     `json:"account"`
	// AccountInfo is the configured name, environment and owner of
	// Account, when the configuration knows it.
	AccountInfo *event.AccountInfo `json:"account_info,omitempty"`
	Region      string             `json:"region"`
	Actor       Actor              `json:"actor"`
	SourceIP    string             `json:"source_ip"`
	UserAgent   string             `json:"user_agent,omitempty"`
	// Service and Action say how: the API called (eventSource, eventName)
	// or the finding type.
	Service  string         `json:"service"`
	Action   string         `json:"action"`
	Resource string         `json:"resource"`
	Details  map[string]any `json:"details"`
	Origin   event.Origin   `json:"origin"`
	// DedupKey is stable for the same rule on the same event and resource,
	// so a record delivered twice alerts once.
	DedupKey string `json:"dedup_key"`
	// Addresses are the event's IP addresses with their geolocation,
	// network owner and AWS range, as far as enrichment knows.
	Addresses []Address `json:"addresses,omitempty"`
	// EnrichmentOff names the enrichments that were not configured
	// ("geoip", "asn", "aws-ip-ranges"), so a reader knows an empty
	// field means "not looked up", not "nothing found".
	EnrichmentOff []string `json:"enrichment_off,omitempty"`
	// ReceivedAt is when Vigil received the event, for a daemon that
	// takes events as they come (zero in file scans): the gap from
	// EventTime is AWS's delivery delay, the gap to delivery Vigil's.
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// Address is one IP address of the event and what enrichment knows of it.
type Address struct {
	Field string `json:"field"` // see event.Address
	IP    string `json:"ip"`
	event.Geo
}

// Actor is who did it.
type Actor struct {
	Name string `json:"name"`
	event.Actor
}

// New builds the alert for a finding. The alert holds copies of the
// event's strings, which alias the batch the event was decoded from, so
// that keeping an alert does not keep the batch.
func New(f *detect.Finding) *Alert {
	a := new(Alert)
	fill(a, f, true, nil)
	return a
}

// View builds the alert for a finding without copying the event's
// strings: it is valid only while the finding's event is, for a caller
// that writes the alert out at once.
func View(f *detect.Finding) *Alert {
	a := new(Alert)
	fill(a, f, false, nil)
	return a
}

// ViewInto is View into a, which a caller writing alerts one at a time
// reuses. An alert without details gets an empty map shared by all such
// alerts: it must not be written to.
func ViewInto(a *Alert, f *detect.Finding) { fill(a, f, false, noDetails) }

var noDetails = map[string]any{}

// fill makes a the alert for f, with copies of the event's strings when
// copyStrings is set. An alert without details gets empty, or a new map
// when empty is nil.
func fill(a *Alert, f *detect.Finding, copyStrings bool, empty map[string]any) {
	c := func(s string) string { return s }
	if copyStrings {
		c = strings.Clone
	}
	ev := f.Event
	ev.Enrich()
	actor := ev.Actor
	if copyStrings {
		for _, p := range []*string{&actor.Type, &actor.ARN, &actor.PrincipalID, &actor.Account, &actor.UserName, &actor.AccessKeyID,
			&actor.SessionIssuer, &actor.SessionIssuerType, &actor.SessionIssuerName, &actor.SessionName, &actor.InvokedBy,
			&actor.IdentityProvider, &actor.SourceIdentity} {
			*p = c(*p)
		}
	}
	origin := ev.Origin
	origin.Source, origin.Path = c(origin.Source), c(origin.Path)
	*a = Alert{
		Rule:      f.Rule,
		Severity:  f.Severity,
		Title:     c(f.Title),
		EventID:   c(ev.StableID()),
		EventTime: ev.Time.UTC(),
		Kind:      ev.Kind,
		Account:   c(ev.Account),
		Region:    c(ev.Region),
		Actor:     Actor{Name: c(actor.Name()), Actor: actor},
		SourceIP:  c(ev.SourceAddress),
		UserAgent: c(ev.UserAgent),
		Service:   c(ev.Service),
		Action:    c(ev.Action),
		Resource:  c(f.Resource),
		Details:   f.Details,
		Origin:    origin,

		AccountInfo:   ev.AccountInfo,
		EnrichmentOff: ev.EnrichmentOff,
	}
	if len(ev.Addrs) > 0 {
		a.Addresses = make([]Address, len(ev.Addrs))
		for i, ad := range ev.Addrs {
			a.Addresses[i] = Address{Field: ad.Field, IP: ad.IP.String()}
			if ad.Info != nil {
				a.Addresses[i].Geo = *ad.Info
			}
		}
	}
	if ev.SourceIP.IsValid() {
		a.SourceIP = ev.SourceIP.String()
	}
	if a.Resource == "" && len(ev.Resources) > 0 {
		a.Resource = c(ev.Resources[0].ARN)
	}
	if a.Details == nil {
		if a.Details = empty; empty == nil {
			a.Details = map[string]any{}
		}
	}
	var buf [256]byte // on the stack for the usual lengths
	key := append(append(append(append(append(buf[:0], a.Rule...), 0), a.EventID...), 0), a.Resource...)
	sum := sha256.Sum256(key)
	a.DedupKey = hex.EncodeToString(sum[:16])
}
