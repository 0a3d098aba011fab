package outbox

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestEarly: an entry sent before it was queued is queued as its send
// went, whether the send ended before Add or while Add ran.
func TestEarly(t *testing.T) {
	boom := errors.New("503 Service Unavailable")
	retryAt := t0.Add(time.Minute)
	type outcome struct {
		// before Add: "ok", "fail", "dead", "untried"; "" leaves the
		// send in flight through Add.
		before string
		// after Add, for one in flight: the same words.
		after string
	}
	finish := func(x *Early, how string) *Item {
		switch how {
		case "ok":
			return x.Finish(nil, time.Time{})
		case "fail":
			return x.Finish(boom, retryAt)
		case "dead":
			return x.Finish(boom, time.Time{})
		case "untried":
			return x.Untried()
		}
		t.Fatalf("bad outcome %q", how)
		return nil
	}
	for _, tc := range []struct {
		name string
		outcome
		queued   int // items queued when all is settled
		attempts int // of the queued or dead item
		dead     int
		dueAt    time.Time // when the queued item is due
	}{
		{name: "delivered before Add", outcome: outcome{before: "ok"}},
		{name: "failed before Add", outcome: outcome{before: "fail"}, queued: 1, attempts: 1, dueAt: retryAt},
		{name: "dead before Add", outcome: outcome{before: "dead"}, dead: 1, attempts: 1},
		{name: "not tried before Add", outcome: outcome{before: "untried"}, queued: 1, dueAt: t0},
		{name: "delivered after Add", outcome: outcome{after: "ok"}},
		{name: "failed after Add", outcome: outcome{after: "fail"}, queued: 1, attempts: 1, dueAt: retryAt},
		{name: "dead after Add", outcome: outcome{after: "dead"}, dead: 1, attempts: 1},
		{name: "not tried after Add", outcome: outcome{after: "untried"}, queued: 1, dueAt: t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
			x := new(Early)
			if tc.before != "" {
				if it := finish(x, tc.before); it != nil {
					t.Fatalf("finished before Add: item %+v", it)
				}
			}
			e := Entry{Dest: "hook", Receiver: "r", GroupKey: "0|a", Alert: al("a"), Repeat: time.Hour, Early: x}
			if n, err := o.Add(t0, []Entry{e}); n != 1 || err != nil {
				t.Fatalf("Add = %d, %v", n, err)
			}
			if tc.after != "" {
				if got, _, _ := o.Due("hook", t0.Add(time.Hour), 10); len(got) != 0 {
					t.Fatalf("an early entry in flight was handed out by Due: %+v", got)
				}
				it := finish(x, tc.after)
				if it == nil {
					t.Fatal("Add did not hand the item over to the send in flight")
				}
				if titles(it) != "a" {
					t.Errorf("item's alerts %q, want a", titles(it))
				}
				switch tc.after {
				case "untried":
					o.Release([]*Item{it})
				case "ok":
					if err := o.Done(t0, []Result{{Item: it}}); err != nil {
						t.Fatal(err)
					}
				default:
					r := Result{Item: it, Err: boom}
					if tc.after == "fail" {
						r.Retry = retryAt
					}
					if err := o.Done(t0, []Result{r}); err != nil {
						t.Fatal(err)
					}
				}
			}
			q, dead, _, err := o.Count("hook")
			if err != nil || q != tc.queued || dead != tc.dead {
				t.Fatalf("Count = %d queued, %d dead, %v; want %d, %d", q, dead, err, tc.queued, tc.dead)
			}
			if tc.queued == 1 {
				if got, _, _ := o.Due("hook", tc.dueAt.Add(-time.Nanosecond), 10); len(got) != 0 {
					t.Errorf("due before %v", tc.dueAt)
				}
				got, _, _ := o.Due("hook", tc.dueAt, 10)
				if len(got) != 1 || titles(got[0]) != "a" || got[0].Attempts != tc.attempts || got[0].Receiver != "r" {
					t.Fatalf("Due = %+v, want the alert with %d attempts", got, tc.attempts)
				}
			}
			if tc.dead == 1 {
				d, _ := o.Dead("hook")
				if len(d) != 1 || titles(d[0]) != "a" || d[0].Attempts != tc.attempts || d[0].LastError != boom.Error() {
					t.Fatalf("Dead = %+v", d)
				}
			}
			// Whatever the outcome, the alert counts as queued for the
			// repeat interval.
			if n, _ := o.Add(t0.Add(time.Minute), []Entry{{Dest: "hook", GroupKey: "0|a", Alert: al("a"), Repeat: time.Hour}}); n != 0 {
				t.Errorf("the same alert again within the repeat interval was queued")
			}
		})
	}
}

// TestEarlyDoesNotJoin: an early entry's item is its own: a later alert
// of the same group opens another.
func TestEarlyDoesNotJoin(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	x := new(Early)
	x.Untried()
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "g", Alert: al("a"), Early: x}})
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "g", Alert: al("b")}})
	got, _, _ := o.Due("hook", t0, 10)
	if len(got) != 2 || titles(got[0]) != "a" || titles(got[1]) != "b" {
		t.Fatalf("Due = %d items", len(got))
	}
}

// TestDoneOfAnItemNotQueued: settling an item that is not on disk (an
// early item whose Add failed) changes nothing.
func TestDoneOfAnItemNotQueued(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "g", Alert: al("a")}})
	ghost := &Item{ID: 999, Dest: "hook", Due: t0}
	if err := o.Done(t0, []Result{{Item: ghost, Err: errors.New("x"), Retry: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if q, _ := o.Queued("hook"); len(q) != 1 || titles(q[0]) != "a" {
		t.Fatalf("queued = %+v, want only a", q)
	}
}

func TestRepeats(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "g", Alert: al("a"), Repeat: time.Hour}})
	got, err := o.Repeats(t0.Add(time.Minute), []Entry{
		{Dest: "hook", Alert: al("a"), Repeat: time.Hour},
		{Dest: "hook", Alert: al("b"), Repeat: time.Hour},
		{Dest: "other", Alert: al("a"), Repeat: time.Hour},
		{Dest: "hook", Alert: al("a"), Repeat: 30 * time.Second},
		{Dest: "hook", Alert: al("a")},
	})
	want := []bool{true, false, false, false, false}
	if err != nil || len(got) != len(want) {
		t.Fatalf("Repeats = %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Repeats[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
