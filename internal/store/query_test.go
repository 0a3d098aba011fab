package store

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
)

// fill stores one alert a minute from t0, in order, for each spec
// "id rule account severity".
func fill(t *testing.T, s *Store, clk *clock, specs ...string) {
	t.Helper()
	for i, sp := range specs {
		f := strings.Fields(sp)
		sev, err := detect.ParseSeverity(f[3])
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		if err := s.Put([]Stored{stored(f[0], f[1], f[2], sev)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListFilters(t *testing.T) {
	s, clk, _ := openTest(t, Options{})
	fill(t, s, clk,
		"a r1 111 low", // t0
		"b r2 111 high",
		"c r1 222 critical",
		"d r3 222 info",
		"e r2 333 medium", // t0+4m
	)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"all", Query{}, "e d c b a"},
		{"rule", Query{Rules: []string{"r1"}}, "c a"},
		{"rules", Query{Rules: []string{"r1", "r3"}}, "d c a"},
		{"unknown rule", Query{Rules: []string{"r9"}}, ""},
		{"account", Query{Accounts: []string{"222"}}, "d c"},
		{"accounts", Query{Accounts: []string{"111", "333"}}, "e b a"},
		{"severity", Query{MinSeverity: detect.High}, "c b"},
		{"severity info", Query{MinSeverity: detect.Info}, "e d c b a"},
		{"since", Query{Since: at(3)}, "e d"},
		{"until", Query{Until: at(1)}, "a"},
		{"until between", Query{Until: at(1).Add(time.Second)}, "b a"},
		{"range", Query{Since: at(1), Until: at(4)}, "d c b"},
		{"until before all", Query{Until: t0.Add(-time.Hour)}, ""},
		{"since after all", Query{Since: at(10)}, ""},
		{"combined", Query{Rules: []string{"r1", "r2"}, Accounts: []string{"111", "222"}, MinSeverity: detect.Medium, Since: at(1)}, "c b"},
		{"limit", Query{Limit: 2}, "e d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.List(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); got != tc.want {
				t.Errorf("List(%+v) = %q, want %q", tc.q, got, tc.want)
			}
			for _, st := range p.Alerts {
				if st.Event != nil {
					t.Errorf("List returned the event of %s", st.Alert.EventID)
				}
			}
		})
	}
}

// TestListPages pages through alerts while new ones arrive and old ones
// are seen again: every alert there was at the first page comes exactly
// once, in order, and the last page has no Next.
func TestListPages(t *testing.T) {
	for _, n := range []int{0, 1, 39, 40, 41, 200, 257} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s, clk, _ := openTest(t, Options{})
			var batch []Stored
			for i := range n {
				batch = append(batch, stored(fmt.Sprintf("old-%03d", i), "r", "1", detect.Severity(i%5)))
			}
			if err := s.Put(batch); err != nil {
				t.Fatal(err)
			}
			var got []string
			q := Query{Limit: 40}
			for page := 0; ; page++ {
				if page > n/40+1 {
					t.Fatalf("more than %d pages", page)
				}
				p, err := s.List(q)
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range p.Alerts {
					got = append(got, st.Alert.EventID)
				}
				if p.Next == "" {
					break
				}
				// Meanwhile: new alerts, and replays of shown and unshown ones.
				clk.Set(clk.Now().Add(time.Second))
				more := []Stored{stored(fmt.Sprintf("new-%d", page), "r", "1", detect.High), batch[0], batch[len(batch)-1]}
				if err := s.Put(more); err != nil {
					t.Fatal(err)
				}
				q.Cursor = p.Next
			}
			var want []string
			for i := n - 1; i >= 0; i-- {
				want = append(want, fmt.Sprintf("old-%03d", i))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("paged %d alerts:\n got %v\nwant %v", n, got, want)
			}
		})
	}
}

// TestListPagesFiltered pages through a filter, and after alerts under
// the cursor were pruned.
func TestListPagesFiltered(t *testing.T) {
	s, clk, _ := openTest(t, Options{})
	var specs []string
	for i := range 30 {
		specs = append(specs, fmt.Sprintf("e%02d r%d 1 low", i, i%3))
	}
	fill(t, s, clk, specs...)
	p1, err := s.List(Query{Rules: []string{"r0"}, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p1); got != "e27 e24 e21 e18" || p1.Next == "" {
		t.Fatalf("page 1 = %q next %q", got, p1.Next)
	}
	// Remove the alerts from e18 down to e16 (the cursor's own included).
	for _, id := range []string{"e18", "e17", "e16"} {
		deleteAlert(t, s, id)
	}
	p2, err := s.List(Query{Rules: []string{"r0"}, Limit: 4, Cursor: p1.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p2); got != "e15 e12 e09 e06" || p2.Next == "" {
		t.Errorf("page 2 = %q next %q", got, p2.Next)
	}
	p3, err := s.List(Query{Rules: []string{"r0"}, Limit: 4, Cursor: p2.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p3); got != "e03 e00" || p3.Next != "" {
		t.Errorf("page 3 = %q next %q", got, p3.Next)
	}
	// A cursor combined with until starts below both.
	p, err := s.List(Query{Cursor: p1.Next, Until: t0.Add(10 * time.Minute)})
	if err != nil || !strings.HasPrefix(ids(p), "e09 e08") {
		t.Errorf("cursor and until = %q, %v", ids(p), err)
	}
	var qe *QueryError
	if _, err := s.List(Query{Cursor: "!!"}); !errors.As(err, &qe) || qe.Param != "cursor" {
		t.Errorf("List with a bad cursor = %v, want a cursor QueryError", err)
	}
}

func TestParseQuery(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	cursor := encodeCursor(indexKey(1, "k"))
	tests := []struct {
		in   string
		want Query
	}{
		{"", Query{}},
		{"since=24h", Query{Since: now.Add(-24 * time.Hour)}},
		{"since=7d&until=90m", Query{Since: now.Add(-7 * 24 * time.Hour), Until: now.Add(-90 * time.Minute)}},
		{"since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00.5%2B01:00", Query{
			Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 2, 0, 0, 0, 5e8, time.FixedZone("", 3600))}},
		{"rule=a,b&rule=c&rule=a&rule=", Query{Rules: []string{"a", "b", "c"}}},
		{"account=111,+222", Query{Accounts: []string{"111", "222"}}},
		{"severity=HIGH", Query{MinSeverity: detect.High}},
		{"limit=1000&cursor=" + cursor, Query{Limit: 1000, Cursor: cursor}},
	}
	for _, tc := range tests {
		v, err := url.ParseQuery(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseQuery(v, now)
		if err != nil {
			t.Errorf("ParseQuery(%s): %v", tc.in, err)
			continue
		}
		if !got.Since.Equal(tc.want.Since) || !got.Until.Equal(tc.want.Until) {
			t.Errorf("ParseQuery(%s) times = %v..%v, want %v..%v", tc.in, got.Since, got.Until, tc.want.Since, tc.want.Until)
		}
		got.Since, got.Until, tc.want.Since, tc.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseQuery(%s) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct{ in, param, msg string }{
		{"since=yesterday", "since", "RFC 3339"},
		{"since=-24h", "since", "duration"},
		{"until=2026-13-01T00:00:00Z", "until", "RFC 3339"},
		{"since=1h&since=2h", "since", "more than once"},
		{"since=1h&until=2h", "until", "not after since"},
		{"since=xd", "since", "duration"},
		{"severity=urgent", "severity", "unknown severity"},
		{"limit=0", "limit", "1 to 1000"},
		{"limit=1001", "limit", "1 to 1000"},
		{"limit=ten", "limit", "1 to 1000"},
		{"cursor=AAA", "cursor", "not a cursor"},
		{"sevrity=high", "sevrity", "unknown parameter"},
	}
	for _, tc := range tests {
		v, err := url.ParseQuery(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseQuery(v)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Param != tc.param || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), `"`+tc.param+`"`) {
			t.Errorf("ParseQuery(%s) = %v, want a QueryError for %s saying %q", tc.in, err, tc.param, tc.msg)
		}
	}
}
