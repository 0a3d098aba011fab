// Package rulefile compiles Vigil's YAML rule files into detection rules.
//
// A rule file holds one rule, or several separated by "---". A rule says
// which events it is about with an EventBridge event pattern (match), what
// else must hold in CEL (condition), how bad it is (severity or
// severity_expr), what to call it (a title template), what never to alert on
// (allow), and optionally what it must remember: a threshold, a first-seen
// value, a dedup window. Each rule carries its own tests: events and the
// verdict they must get. See docs/rules.md.
package rulefile

import (
	"gopkg.in/yaml.v3"
)

// Spec is the YAML form of a rule. Unknown keys are errors.
type Spec struct {
	// TestsFor makes the document a test suite for a rule defined
	// elsewhere (a built-in rule written in Go, or any rule by id): it
	// holds only tests (and a description).
	TestsFor string `yaml:"tests_for"`

	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Runbook     string   `yaml:"runbook"`
	Severity    string   `yaml:"severity"`
	Tags        []string `yaml:"tags"`
	Version     int      `yaml:"version"`
	// Source is the kind of events the rule reads: cloudtrail (API calls,
	// console sign-ins, service events; the default), guardduty,
	// accessanalyzer, flowlog, or any.
	Source string `yaml:"source"`
	// Match is an EventBridge event pattern over the record as AWS writes
	// it, or over the EventBridge envelope when it names envelope keys
	// (source, detail-type, detail...).
	Match yaml.Node `yaml:"match"`
	// Condition is a CEL expression that must be true.
	Condition string `yaml:"condition"`
	// SeverityExpr is a CEL expression giving the severity by name; it
	// overrides Severity, which stays the rule's catalogue severity.
	SeverityExpr string `yaml:"severity_expr"`
	// Resource is a CEL expression giving the ARN the alert is about;
	// default the event's first resource.
	Resource string `yaml:"resource"`
	// Details maps names to CEL expressions whose values the alert carries.
	Details   map[string]string `yaml:"details"`
	Allow     *AllowSpec        `yaml:"allow"`
	Dedup     *DedupSpec        `yaml:"dedup"`
	Threshold *ThresholdSpec    `yaml:"threshold"`
	FirstSeen *FirstSeenSpec    `yaml:"first_seen"`
	Tests     []TestSpec        `yaml:"tests"`
}

// AllowSpec lists what never raises the rule.
type AllowSpec struct {
	// Actors are globs over the actor's ARN, name, user name, principal id
	// and session issuer ARN.
	Actors []string `yaml:"actors"`
	// IPs are addresses or CIDRs of the source.
	IPs []string `yaml:"ips"`
	// Accounts are account ids (the event's or the actor's).
	Accounts []string `yaml:"accounts"`
	// Resources are globs over the ARNs of the event's resources.
	Resources []string `yaml:"resources"`
}

// DedupSpec suppresses repeats: one alert per key per window.
type DedupSpec struct {
	Key    string `yaml:"key"` // CEL, a string
	Window string `yaml:"window"`
}

// ThresholdSpec raises the rule when a group of matching events reaches a
// count (or a count of distinct values) within a window of event time.
type ThresholdSpec struct {
	GroupBy  string `yaml:"group_by"` // CEL, a string
	Count    int    `yaml:"count"`
	Distinct string `yaml:"distinct"` // CEL; count distinct values instead of events
	Sum      string `yaml:"sum"`      // CEL number; add it up instead of counting
	Window   string `yaml:"window"`
}

// FirstSeenSpec raises the rule when an entity shows a value it has not
// shown before, once the entity has been observed for the learning period.
type FirstSeenSpec struct {
	Entity   string `yaml:"entity"` // CEL, a string
	Value    string `yaml:"value"`  // CEL, a string
	Learning string `yaml:"learning"`
}

// TestSpec is one of a rule's tests: an event, or a sequence of events for
// stateful rules, and what the rule must do.
type TestSpec struct {
	Name string `yaml:"name"`
	// Event is a record: a CloudTrail record, an EventBridge event, a
	// finding (as a mapping or as JSON text), or a flow-log line (text).
	Event yaml.Node `yaml:"event"`
	// Events is a sequence of records, decided in order.
	Events []yaml.Node `yaml:"events"`
	// Expect is "alert" or "none": whether the (last) event raises the rule.
	Expect string `yaml:"expect"`
	// Alerts is how many alerts the whole sequence raises.
	Alerts *int `yaml:"alerts"`
	// Severity and Title (a substring) check the alert of the last event.
	Severity string `yaml:"severity"`
	Title    string `yaml:"title"`
	// Geo sets where the source address of every event is, as enrichment
	// would: {country: SE, lat: 59.3, lon: 18.1}.
	Geo *GeoSpec `yaml:"geo"`
	// Config replaces the configuration for this test (the same keys as the
	// configuration file).
	Config yaml.Node `yaml:"config"`
}

// GeoSpec is a location for tests.
type GeoSpec struct {
	Country string   `yaml:"country"`
	City    string   `yaml:"city"`
	Lat     *float64 `yaml:"lat"`
	Lon     *float64 `yaml:"lon"`
	ASN     uint32   `yaml:"asn"`
}
