package notify

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

// testPrefix marks the notifications of `vigil notify test`.
const testPrefix = "[TEST] "

// view is an alert as people read it. Every sender renders alerts from
// a view, so that an alert says the same in Slack, email, PagerDuty and
// Alertmanager. Its strings are plain text, not escaped for any format:
// much of an alert (titles from rules, user agents, session names) is
// chosen by whoever made the API call, and each sender escapes for its
// own format.
type view struct {
	Alert    *alert.Alert
	Test     bool
	Title    string // the alert's title, "[TEST] " first for a test
	Severity string // upper case: "HIGH"
	Rule     string
	Who      string // actor name, ARN and account
	What     string // title, rule and severity on one line
	When     string // event time, RFC 3339 UTC
	Where    string // account with its configured name, region
	Source   string // source IP with what enrichment knows of it
	Geo      string // what enrichment knows of the source IP alone
	How      string // service, action and user agent
	Resource string
	Event    string // kind and event id
	Origin   string // where the raw event is
	Link     string // the alert in Vigil
}

// field is one labelled line of a view.
type field struct{ Name, Value string }

// newView renders a for people.
func newView(a *alert.Alert, test bool, o Options) *view {
	v := &view{
		Alert:    a,
		Test:     test,
		Title:    cmpStr(a.Title, a.Rule, "Vigil alert"),
		Severity: strings.ToUpper(a.Severity.String()),
		Rule:     a.Rule,
		Who:      who(a),
		When:     when(a.EventTime),
		Where:    where(a),
		How:      how(a),
		Resource: a.Resource,
		Link:     o.AlertURL(a),
	}
	if test {
		v.Title = testPrefix + v.Title
	}
	v.What = v.Title + " (rule " + cmpStr(a.Rule, "unknown") + ", severity " + v.Severity + ")"
	v.Geo = sourceGeo(a)
	if a.SourceIP != "" {
		v.Source = a.SourceIP
		if v.Geo != "" {
			v.Source += " (" + v.Geo + ")"
		}
	}
	if a.EventID != "" {
		v.Event = a.Kind.String() + " event " + a.EventID
	}
	if a.Origin.Source != "" {
		v.Origin = a.Origin.String()
	}
	return v
}

// fields returns the view's non-empty lines in reading order: who,
// what, when, where, how, then the references.
func (v *view) fields() []field {
	all := []field{
		{"Who", v.Who},
		{"What", v.What},
		{"When", v.When},
		{"Where", v.Where},
		{"Source", v.Source},
		{"How", v.How},
		{"Resource", v.Resource},
		{"Event", v.Event},
		{"Origin", v.Origin},
		{"Link", v.Link},
	}
	out := all[:0]
	for _, f := range all {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

// text is the view as plain text, one field a line.
func (v *view) text() string {
	var b strings.Builder
	b.WriteString(v.Title)
	b.WriteString("\n")
	for _, f := range v.fields() {
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Value)
		b.WriteString("\n")
	}
	return b.String()
}

// sentence is who did what, where, from where, in one short line:
// "Title by alice in payments-prod us-east-1 from 203.0.113.7".
func (v *view) sentence() string {
	a := v.Alert
	s := v.Title
	if name := cmpStr(a.Actor.Name, a.Actor.ARN, a.Actor.PrincipalID); name != "" {
		s += " by " + name
	}
	if acct := strings.TrimSpace(accountName(a) + " " + a.Region); acct != "" {
		s += " in " + acct
	}
	if a.SourceIP != "" {
		s += " from " + a.SourceIP
	}
	return s
}

// line is the view in one line, for lists of many alerts.
func (v *view) line() string {
	s := v.Severity + " " + v.Rule + ": " + v.Title
	if acct := accountName(v.Alert); acct != "" {
		s += " (" + acct
		if v.Alert.Region != "" {
			s += ", " + v.Alert.Region
		}
		s += ")"
	}
	return s
}

func who(a *alert.Alert) string {
	ac := &a.Actor
	name := cmpStr(ac.Name, ac.ARN, ac.PrincipalID)
	if name == "" {
		return ""
	}
	s := name
	if ac.ARN != "" && ac.ARN != name {
		s += " (" + ac.ARN + ")"
	}
	if ac.Type != "" {
		s += ", " + ac.Type
	}
	if acct := cmpStr(ac.Account, a.Account); acct != "" {
		s += ", account " + acct
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func where(a *alert.Alert) string {
	var parts []string
	if a.Account != "" {
		s := "account " + a.Account
		if ai := a.AccountInfo; ai != nil {
			var info []string
			for _, x := range []string{ai.Name, ai.Environment} {
				if x != "" {
					info = append(info, x)
				}
			}
			if ai.Owner != "" {
				info = append(info, "owner "+ai.Owner)
			}
			if len(info) > 0 {
				s += " (" + strings.Join(info, ", ") + ")"
			}
		}
		parts = append(parts, s)
	}
	if a.Region != "" {
		parts = append(parts, "region "+a.Region)
	}
	return strings.Join(parts, ", ")
}

// accountName is the account's configured name, else its id.
func accountName(a *alert.Alert) string {
	if a.AccountInfo != nil && a.AccountInfo.Name != "" {
		return a.AccountInfo.Name
	}
	return a.Account
}

func how(a *alert.Alert) string {
	s := strings.TrimSpace(a.Service + " " + a.Action)
	if a.UserAgent != "" {
		if s != "" {
			s += " "
		}
		s += "via " + a.UserAgent
	}
	return s
}

// sourceGeo says what enrichment knows of the alert's source IP: place,
// network owner, AWS range. When nothing is known because enrichment is
// off, it says so, so that an empty answer is not read as "nowhere".
func sourceGeo(a *alert.Alert) string {
	if a.SourceIP == "" {
		return ""
	}
	for i := range a.Addresses {
		ad := &a.Addresses[i]
		if ad.IP == a.SourceIP || ad.Field == "source_ip" {
			if s := geoText(&ad.Geo); s != "" {
				return s
			}
			break
		}
	}
	if len(a.EnrichmentOff) > 0 {
		return "not looked up: " + strings.Join(a.EnrichmentOff, ", ")
	}
	return ""
}

// geoText renders a location as "Berlin, Germany; AS3320 Deutsche
// Telekom AG; AWS EC2 us-east-1", leaving out what is unknown.
func geoText(g *event.Geo) string {
	var parts []string
	var place []string
	if g.City != "" {
		place = append(place, g.City)
	}
	if c := cmpStr(g.CountryName, g.Country); c != "" {
		place = append(place, c)
	}
	if len(place) > 0 {
		parts = append(parts, strings.Join(place, ", "))
	}
	if g.ASN != 0 || g.ASOrg != "" {
		s := ""
		if g.ASN != 0 {
			s = "AS" + strconv.FormatUint(uint64(g.ASN), 10)
		}
		if g.ASOrg != "" {
			s = strings.TrimSpace(s + " " + g.ASOrg)
		}
		parts = append(parts, s)
	}
	if g.AWS != nil {
		s := strings.TrimSpace("AWS " + g.AWS.Service + " " + g.AWS.Region)
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// maxSeverity returns the highest severity of alerts.
func maxSeverity(alerts []*alert.Alert) detect.Severity {
	var s detect.Severity
	for _, a := range alerts {
		s = max(s, a.Severity)
	}
	return s
}

// headline is a notification in one line: the first of its most severe
// alerts, with how many others there are, "[TEST] " first for a test.
// Example: "[HIGH] Root account used (+2 more)".
func headline(n *Notification) string {
	if len(n.Alerts) == 0 {
		return ""
	}
	top := n.Alerts[0]
	for _, a := range n.Alerts {
		if a.Severity > top.Severity {
			top = a
		}
	}
	s := "[" + strings.ToUpper(top.Severity.String()) + "] " + cmpStr(top.Title, top.Rule, "Vigil alert")
	if k := len(n.Alerts) - 1; k > 0 {
		s += " (+" + strconv.Itoa(k) + " more)"
	}
	if n.Test {
		s = testPrefix + s
	}
	return s
}

// baseURL is Vigil's external base URL, as Options.AlertURL uses it.
func baseURL(o Options) string {
	return strings.TrimSuffix(o.AlertURL(&alert.Alert{}), "/api/alerts/")
}

// cmpStr returns the first of ss that is not empty.
func cmpStr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// truncate returns s cut to at most n runes, ending in "…" when cut.
// It never splits a rune, and replaces invalid UTF-8 first.
func truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for j := range s {
		if count == n-1 {
			i = j
			break
		}
		count++
	}
	return s[:i] + "…"
}
