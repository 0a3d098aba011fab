package rules

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/state"
)

// Impossible travel: two successful console sign-ins of one principal from
// places too far apart for the time between them. Distances under
// travelMinKm are ignored (GeoIP places an address within tens or hundreds
// of kilometres, and VPNs and mobile networks move addresses around a
// region); above that, a speed over travelMaxKmh (a fast airliner) is
// impossible.
const (
	travelMinKm  = 500
	travelMaxKmh = 1000
	// travelForget is how long half the Earth's circumference (20,000
	// km) takes at travelMaxKmh, rounded up.
	travelForget = 21 * time.Hour
)

// travelPoint is where and when a principal last signed in.
type travelPoint struct {
	Time  time.Time `json:"t"`
	Lat   float64   `json:"lat"`
	Lon   float64   `json:"lon"`
	Place string    `json:"place"`
	IP    string    `json:"ip"`
}

type travelRule struct {
	last *state.Table[travelPoint]
}

func impossibleTravel(s *state.Store) (*travelRule, error) {
	if s == nil {
		var err error
		if s, err = state.Open(""); err != nil {
			return nil, err
		}
	}
	t, err := state.TableOf[travelPoint](s, "aws-signin-impossible-travel/last")
	if err != nil {
		return nil, err
	}
	return &travelRule{last: t}, nil
}

func (r *travelRule) Meta() detect.Meta {
	return detect.Meta{
		ID:          "aws-signin-impossible-travel",
		Title:       "Impossible travel between console sign-ins",
		Description: fmt.Sprintf("A principal signed in to the console successfully from two places more than %d km apart, faster than %d km/h could carry them: stolen credentials, or a shared account. Needs GeoIP (geoip.city in the configuration).", travelMinKm, travelMaxKmh),
		Runbook:     "Ask the person whether both sign-ins were theirs (a VPN explains some). If not, reset the password and MFA, revoke the sessions (iam:DeleteLoginProfile/attach a deny-all policy), and review what the second session did.",
		Severity:    detect.High,
		Tags:        []string{"attack.initial-access", "attack.t1078.004", "signin"},
		Version:     1,
	}
}

func (r *travelRule) Keys() []detect.Key {
	return []detect.Key{{Kind: event.KindSignIn, Service: "signin.amazonaws.com", Action: "ConsoleLogin"}}
}

// Eval returns successful sign-ins with a location as candidates.
func (r *travelRule) Eval(_ context.Context, ev *event.Event) ([]detect.Finding, error) {
	if ev.SignIn == nil || ev.SignIn.Result != "Success" {
		return nil, nil
	}
	ev.Enrich()
	if ev.SourceGeo == nil || !ev.SourceGeo.HasLocation {
		return nil, nil
	}
	who := principalKey(ev)
	if who == "" {
		return nil, nil
	}
	g := ev.SourceGeo
	// Copies: the rule keeps them, and the event's strings share the
	// memory of the batch it came in.
	p := travelPoint{Time: ev.Time, Lat: g.Latitude, Lon: g.Longitude, Place: strings.Clone(place(g)), IP: strings.Clone(ev.SourceAddress)}
	return []detect.Finding{{Severity: detect.High, Pending: travelCandidate{who: strings.Clone(who), point: p}}}, nil
}

type travelCandidate struct {
	who   string
	point travelPoint
}

// Settle compares the sign-in with the principal's previous one.
func (r *travelRule) Settle(_ context.Context, f detect.Finding) ([]detect.Finding, error) {
	c, ok := f.Pending.(travelCandidate)
	if !ok {
		return nil, fmt.Errorf("candidate without sign-in data")
	}
	prev, seen := r.last.Get(c.who)
	if !seen || c.point.Time.After(prev.Time) {
		r.last.Put(c.who, &c.point)
	}
	if !seen {
		return nil, nil
	}
	km := distanceKm(prev.Lat, prev.Lon, c.point.Lat, c.point.Lon)
	hours := math.Abs(c.point.Time.Sub(prev.Time).Hours())
	if km < travelMinKm {
		return nil, nil
	}
	speed := math.Inf(1)
	if hours > 0 {
		speed = km / hours
	}
	if speed <= travelMaxKmh {
		return nil, nil
	}
	from, to := *prev, c.point
	if to.Time.Before(from.Time) {
		from, to = to, from
	}
	f.Title = fmt.Sprintf("Impossible travel for %s: %s to %s, %.0f km in %s", f.Event.Actor.Name(), from.Place, to.Place, km, roundDur(to.Time.Sub(from.Time)))
	f.Resource = f.Event.Actor.ARN
	f.Details = map[string]any{
		"from": map[string]any{"place": from.Place, "ip": from.IP, "time": from.Time},
		"to":   map[string]any{"place": to.Place, "ip": to.IP, "time": to.Time},
		"km":   math.Round(km),
		"km_per_hour": func() any {
			if math.IsInf(speed, 1) {
				return "simultaneous"
			}
			return math.Round(speed)
		}(),
	}
	return []detect.Finding{f}, nil
}

// Prune forgets sign-ins so old that no later sign-in can be impossible
// travel from them: in travelForget an airliner reaches anywhere.
func (r *travelRule) Prune(now time.Time) {
	since := now.Add(-travelForget)
	r.last.Prune(func(_ string, p *travelPoint) bool { return p.Time.Before(since) })
}

func principalKey(ev *event.Event) string {
	switch {
	case ev.Actor.ARN != "":
		return ev.Actor.ARN
	case ev.Actor.PrincipalID != "":
		return ev.Account + ":" + ev.Actor.PrincipalID
	case ev.Actor.UserName != "":
		return ev.Account + ":" + ev.Actor.UserName
	}
	return ""
}

func place(g *event.Geo) string {
	switch {
	case g.City != "" && g.Country != "":
		return g.City + ", " + g.Country
	case g.Country != "":
		return g.Country
	}
	return fmt.Sprintf("%.2f,%.2f", g.Latitude, g.Longitude)
}

// distanceKm is the great-circle distance (haversine formula).
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthKm = 6371.0
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

func roundDur(d time.Duration) time.Duration {
	if d < 0 {
		d = -d
	}
	return d.Round(time.Minute)
}
