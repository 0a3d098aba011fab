package rules

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/state"
)

type signIn struct {
	who      string
	at       string // time of day on 2026-11-20, or a full RFC 3339 time
	result   string
	lat, lon float64
	city     string
	noGeo    bool
}

func (s signIn) event(t *testing.T) *event.Event {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s.at)
	if err != nil {
		if at, err = time.Parse(time.RFC3339, "2026-11-20T"+s.at+":00Z"); err != nil {
			t.Fatal(err)
		}
	}
	ev := &event.Event{
		Kind: event.KindSignIn, Time: at, Service: "signin.amazonaws.com", Action: "ConsoleLogin",
		Account: "111122223333", SourceAddress: "198.51.100.7",
		Actor:  event.Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/" + s.who, UserName: s.who},
		SignIn: &event.SignIn{Result: s.result},
	}
	if !s.noGeo {
		ev.SourceGeo = &event.Geo{Country: "XX", City: s.city, Latitude: s.lat, Longitude: s.lon, HasLocation: true}
	}
	return ev
}

func runTravel(t *testing.T, r *travelRule, seq []signIn) []detect.Finding {
	t.Helper()
	engine, err := detect.New([]detect.Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	var out []detect.Finding
	for _, s := range seq {
		cands, errs := engine.Eval(context.Background(), s.event(t), nil)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, c := range cands {
			fs, err := engine.Settle(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fs...)
		}
	}
	return out
}

var (
	stockholm  = signIn{lat: 59.33, lon: 18.07, city: "Stockholm"}
	newYork    = signIn{lat: 40.71, lon: -74.01, city: "New York"}
	gothenburg = signIn{lat: 57.71, lon: 11.97, city: "Gothenburg"} // ~400 km from Stockholm
)

func at(p signIn, who, when, result string) signIn {
	p.who, p.at, p.result = who, when, result
	return p
}

func TestImpossibleTravel(t *testing.T) {
	tests := []struct {
		name   string
		seq    []signIn
		alerts int
		title  string
	}{
		{"Stockholm then New York an hour later", []signIn{at(stockholm, "alice", "10:00", "Success"), at(newYork, "alice", "11:00", "Success")}, 1, "Stockholm, XX to New York, XX, 6320 km in 1h0m0s"},
		{"the same flight taken in a day is possible", []signIn{at(stockholm, "alice", "2026-11-20T01:00:00Z", "Success"), at(newYork, "alice", "2026-11-20T13:00:00Z", "Success")}, 0, ""},
		{"near places are never impossible", []signIn{at(stockholm, "alice", "10:00", "Success"), at(gothenburg, "alice", "10:01", "Success")}, 0, ""},
		{"different people", []signIn{at(stockholm, "alice", "10:00", "Success"), at(newYork, "bob", "10:30", "Success")}, 0, ""},
		{"failed sign-ins do not count", []signIn{at(stockholm, "alice", "10:00", "Failure"), at(newYork, "alice", "10:30", "Success")}, 0, ""},
		{"no location, no verdict", []signIn{at(stockholm, "alice", "10:00", "Success"), func() signIn { s := at(newYork, "alice", "10:30", "Success"); s.noGeo = true; return s }()}, 0, ""},
		{"simultaneous", []signIn{at(stockholm, "alice", "10:00", "Success"), at(newYork, "alice", "10:00", "Success")}, 1, "in 0s"},
		{"out of order input still compares neighbours", []signIn{at(newYork, "alice", "11:00", "Success"), at(stockholm, "alice", "10:00", "Success")}, 1, "Stockholm, XX to New York, XX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := impossibleTravel(nil)
			if err != nil {
				t.Fatal(err)
			}
			fs := runTravel(t, r, tc.seq)
			if len(fs) != tc.alerts {
				t.Fatalf("%d alerts, want %d: %+v", len(fs), tc.alerts, fs)
			}
			if tc.alerts > 0 {
				if got := fs[0].Title; !strings.Contains(got, tc.title) {
					t.Errorf("title %q does not contain %q", got, tc.title)
				}
				if fs[0].Severity != detect.High || fs[0].Resource != "arn:aws:iam::111122223333:user/alice" {
					t.Errorf("finding %+v", fs[0])
				}
			}
		})
	}
}

// TestImpossibleTravelRemembersAcrossRestarts: the last sign-in survives a
// restart, and pruning forgets only what can no longer matter.
func TestImpossibleTravelRemembersAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := impossibleTravel(s)
	runTravel(t, r, []signIn{at(stockholm, "alice", "10:00", "Success"), at(stockholm, "carol", "2026-11-19T08:00:00Z", "Success")})
	r.Prune(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)) // carol's is 26h old
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _ = impossibleTravel(s)
	if _, ok := r.last.Get("arn:aws:iam::111122223333:user/carol"); ok {
		t.Error("pruning kept a sign-in older than any possible trip")
	}
	if fs := runTravel(t, r, []signIn{at(newYork, "alice", "11:00", "Success")}); len(fs) != 1 {
		t.Fatalf("after a restart: %d alerts, want 1", len(fs))
	}
}
