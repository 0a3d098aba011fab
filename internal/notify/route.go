package notify

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
)

// Defaults of a route that does not say, nor its parents.
const (
	DefaultRepeatInterval = 4 * time.Hour
	DefaultGroupWait      = 0
)

// GroupByFields are the alert fields a route may group by.
var GroupByFields = []string{"rule", "severity", "account", "region", "resource", "actor", "source_ip", "kind"}

// Router picks the receivers of an alert with a route tree, like
// Alertmanager's: an alert enters the root, descends into the first child
// that matches (and into later matching children while the matched ones
// say continue), and is sent to the receiver of every deepest route it
// reached.
type Router struct {
	root   *route
	tagsOf func(rule string) []string
}

type route struct {
	id       string // "0", "0.1", …: the route's place in the tree
	receiver string
	severity detect.Severity
	hasSev   bool
	rules    []string
	tags     []string
	accounts []string
	regions  []string
	cont     bool
	groupBy  []string
	wait     time.Duration
	repeat   time.Duration
	children []*route
}

// Match is one receiver chosen for an alert, with the settings of the
// route that chose it.
type Match struct {
	Receiver string
	// GroupKey is the route and the alert's values of the route's
	// group_by fields (its dedup key without group_by).
	GroupKey  string
	GroupWait time.Duration
	Repeat    time.Duration
	// Alone says the alert is a notification of its own at once: the
	// route neither groups nor waits.
	Alone bool
}

// NewRouter builds the router. Without a route every alert goes to every
// receiver. tagsOf gives a rule's tags (nil when unknown).
func NewRouter(cfg *config.Route, receivers []string, tagsOf func(string) []string) (*Router, error) {
	known := map[string]bool{}
	for _, r := range receivers {
		known[r] = true
	}
	if tagsOf == nil {
		tagsOf = func(string) []string { return nil }
	}
	if cfg == nil {
		root := &route{id: "0", repeat: DefaultRepeatInterval, wait: DefaultGroupWait}
		for i, r := range receivers {
			root.children = append(root.children, &route{id: "0." + strconv.Itoa(i), receiver: r, cont: true, repeat: root.repeat})
		}
		return &Router{root: root, tagsOf: tagsOf}, nil
	}
	if cfg.Receiver == "" {
		return nil, fmt.Errorf("notify.route: the root route needs a receiver (the default)")
	}
	root, err := build(cfg, nil, "0", "notify.route", known)
	if err != nil {
		return nil, err
	}
	return &Router{root: root, tagsOf: tagsOf}, nil
}

func build(c *config.Route, parent *route, id, where string, known map[string]bool) (*route, error) {
	r := &route{id: id, receiver: c.Receiver, rules: c.Rules, tags: c.Tags, accounts: c.Accounts, regions: c.Regions,
		cont: c.Continue, groupBy: c.GroupBy, wait: c.GroupWait, repeat: c.RepeatInterval}
	if parent != nil {
		if r.receiver == "" {
			r.receiver = parent.receiver
		}
		if r.groupBy == nil {
			r.groupBy = parent.groupBy
		}
		if r.wait == 0 {
			r.wait = parent.wait
		}
		if r.repeat == 0 {
			r.repeat = parent.repeat
		}
	} else if r.repeat == 0 {
		r.repeat = DefaultRepeatInterval
	}
	if !known[r.receiver] {
		return nil, fmt.Errorf("%s: receiver %q is not configured", where, r.receiver)
	}
	if c.Severity != "" {
		s, err := detect.ParseSeverity(c.Severity)
		if err != nil {
			return nil, fmt.Errorf("%s.severity: %w", where, err)
		}
		r.severity, r.hasSev = s, true
	}
	for _, f := range r.groupBy {
		if !slices.Contains(GroupByFields, f) {
			return nil, fmt.Errorf("%s.group_by: %q is not one of %s", where, f, strings.Join(GroupByFields, ", "))
		}
	}
	for _, p := range append(slices.Clone(r.rules), r.regions...) {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("%s: bad pattern %q", where, p)
		}
	}
	if r.wait < 0 || r.repeat < 0 {
		return nil, fmt.Errorf("%s: negative group_wait or repeat_interval", where)
	}
	for i, child := range c.Routes {
		cr, err := build(child, r, id+"."+strconv.Itoa(i), fmt.Sprintf("%s.routes[%d]", where, i), known)
		if err != nil {
			return nil, err
		}
		r.children = append(r.children, cr)
	}
	return r, nil
}

// Route returns the receivers an alert goes to, each once.
func (rt *Router) Route(a *alert.Alert) []Match {
	var out []Match
	rt.walk(rt.root, a, &out)
	// A receiver reached by several routes gets the alert once: from the
	// first of them.
	seen := map[string]bool{}
	return slices.DeleteFunc(out, func(m Match) bool {
		if seen[m.Receiver] {
			return true
		}
		seen[m.Receiver] = true
		return false
	})
}

// walk appends the matches of the subtree at r for an alert that matched
// r, and reports whether there were any.
func (rt *Router) walk(r *route, a *alert.Alert, out *[]Match) {
	matched := false
	for _, c := range r.children {
		if !rt.matches(c, a) {
			continue
		}
		rt.walk(c, a, out)
		matched = true
		if !c.cont {
			break
		}
	}
	if !matched && r.receiver != "" {
		*out = append(*out, Match{Receiver: r.receiver, GroupKey: groupKey(r, a), GroupWait: r.wait, Repeat: r.repeat,
			Alone: len(r.groupBy) == 0 && r.wait <= 0})
	}
}

func (rt *Router) matches(r *route, a *alert.Alert) bool {
	if r.hasSev && a.Severity < r.severity {
		return false
	}
	if len(r.rules) > 0 && !anyMatch(r.rules, a.Rule) {
		return false
	}
	if len(r.regions) > 0 && !anyMatch(r.regions, a.Region) {
		return false
	}
	if len(r.accounts) > 0 {
		name := ""
		if a.AccountInfo != nil {
			name = a.AccountInfo.Name
		}
		if !slices.Contains(r.accounts, a.Account) && (name == "" || !slices.Contains(r.accounts, name)) {
			return false
		}
	}
	if len(r.tags) > 0 {
		tags := rt.tagsOf(a.Rule)
		if !slices.ContainsFunc(r.tags, func(t string) bool { return slices.Contains(tags, t) }) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// groupKey is the route's id and the alert's values of its group_by
// fields; without group_by every alert is its own group.
func groupKey(r *route, a *alert.Alert) string {
	if len(r.groupBy) == 0 {
		return r.id + "|" + a.DedupKey
	}
	var b strings.Builder
	b.WriteString(r.id)
	for _, f := range r.groupBy {
		b.WriteByte('|')
		switch f {
		case "rule":
			b.WriteString(a.Rule)
		case "severity":
			b.WriteString(a.Severity.String())
		case "account":
			b.WriteString(a.Account)
		case "region":
			b.WriteString(a.Region)
		case "resource":
			b.WriteString(a.Resource)
		case "actor":
			b.WriteString(cmp.Or(a.Actor.ARN, a.Actor.Name))
		case "source_ip":
			b.WriteString(a.SourceIP)
		case "kind":
			b.WriteString(a.Kind.String())
		}
	}
	return b.String()
}
