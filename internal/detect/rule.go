// Package detect is Vigil's detection engine: the Rule contract, the
// catalogue entry every rule carries, the findings rules raise, and the
// Engine that routes each event to the rules that can match it.
package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

// Severity ranks findings. The zero value is Info.
type Severity uint8

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lower-case name.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", s)
}

// ParseSeverity reads a severity name, in any letter case.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Meta is a rule's catalogue entry: static, with no event-specific data.
// Documentation, `vigil rules list` and alert routing are built from it.
type Meta struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Runbook     string   `json:"runbook,omitempty"`
	Severity    Severity `json:"severity"` // the usual severity; a finding may differ
	Tags        []string `json:"tags,omitempty"`
	Version     int      `json:"version"`
}

// Key selects the events a rule can match. Empty fields match anything.
type Key struct {
	Kind    event.Kind
	Service string // CloudTrail eventSource, e.g. "s3.amazonaws.com"
	Action  string // CloudTrail eventName, e.g. "PutBucketAcl"
}

// Rule is a built-in or compiled user rule.
//
// Eval is called only for events whose key is in Keys; it may be called
// concurrently from many goroutines and must not modify the event. A rule
// that keeps state is built with its store and judges time by event time,
// never by the wall clock. Eval returns an error only for a fault of the
// rule itself; a malformed field in the event is a reason not to match.
type Rule interface {
	Meta() Meta
	Keys() []Key // nil means every event: use sparingly
	Eval(ctx context.Context, ev *event.Event) ([]Finding, error)
}

// Stateful is implemented by rules whose verdict depends on other events
// (thresholds, first-seen values, deduplication). Their Eval runs in
// parallel and returns candidates, findings with Pending set, computed from
// the event alone; Settle is then called for each candidate in input order,
// from one goroutine at a time, and decides against the rule's state which
// findings to report. Splitting the work this way keeps the expensive part
// parallel and the outcome independent of scheduling.
type Stateful interface {
	Settle(ctx context.Context, candidate Finding) ([]Finding, error)
}

// Pruner is implemented by stateful rules whose memory of recent events
// can be forgotten once it is older than the rule can use. now is event
// time: the latest event seen.
type Pruner interface {
	Prune(now time.Time)
}

// Finding is one rule match on one event.
type Finding struct {
	Rule     string
	Severity Severity
	// Title says what happened in one line, e.g. "Bucket logs made public
	// by an ACL granting READ to AllUsers".
	Title string
	// Resource is the ARN of the resource the finding is about.
	Resource string
	// Details holds structured evidence: the grants, the statement, the
	// flags that changed. Values must marshal to JSON.
	Details map[string]any
	Event   *event.Event
	// Pending is set on a candidate of a Stateful rule: whatever the rule
	// computed in Eval and needs in Settle. Reported findings have none.
	Pending any
}

// DetailsJSON returns the details as JSON, for logs and tests.
func (f *Finding) DetailsJSON() string {
	b, err := json.Marshal(f.Details)
	if err != nil {
		return fmt.Sprintf("%q", err.Error())
	}
	return string(b)
}
