package outbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-sec/vigil/internal/alert"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Outbox {
	t.Helper()
	o, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func al(key string) *alert.Alert { return &alert.Alert{Rule: "r", Title: "t " + key, DedupKey: key} }

func titles(it *Item) string {
	var s []string
	for _, a := range it.Alerts {
		s = append(s, a.DedupKey)
	}
	return strings.Join(s, ",")
}

func TestGroupsWaitAndDedup(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	n, err := o.Add(t0, []Entry{
		{Dest: "slack", GroupKey: "g1", Alert: al("a"), Wait: 30 * time.Second, Repeat: time.Hour},
		{Dest: "slack", GroupKey: "g1", Alert: al("b"), Wait: 30 * time.Second, Repeat: time.Hour},
		{Dest: "slack", GroupKey: "g2", Alert: al("c"), Wait: 10 * time.Second, Repeat: time.Hour},
		{Dest: "slack", GroupKey: "g1", Alert: al("a"), Wait: 30 * time.Second, Repeat: time.Hour}, // the same event again
		{Dest: "pd", GroupKey: "g1", Alert: al("a"), Repeat: time.Hour},                            // another destination
	})
	if err != nil || n != 4 {
		t.Fatalf("Add = %d, %v; want 4 (one duplicate dropped)", n, err)
	}
	items, next, err := o.Due("slack", t0.Add(5*time.Second), 10)
	if err != nil || len(items) != 0 || !next.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("Due before any wait ended = %v, next %v, %v", items, next, err)
	}
	items, _, _ = o.Due("slack", t0.Add(31*time.Second), 10)
	if len(items) != 2 || titles(items[0]) != "c" || titles(items[1]) != "a,b" {
		t.Fatalf("Due = %d items", len(items))
	}
	// The groups are closed: a new alert of g1 opens a new item.
	o.Add(t0.Add(32*time.Second), []Entry{{Dest: "slack", GroupKey: "g1", Alert: al("d"), Repeat: time.Hour}})
	if err := o.Done(t0.Add(33*time.Second), []Result{{Item: items[0]}, {Item: items[1]}}); err != nil {
		t.Fatal(err)
	}
	q, _ := o.Queued("slack")
	if len(q) != 1 || titles(q[0]) != "d" {
		t.Errorf("queued after delivery: %d items", len(q))
	}
	// After the repeat interval the same alert is queued again.
	if n, _ := o.Add(t0.Add(2*time.Hour), []Entry{{Dest: "slack", GroupKey: "g1", Alert: al("a"), Repeat: time.Hour}}); n != 1 {
		t.Errorf("after the repeat interval Add = %d, want 1", n)
	}
	if n, _ := o.Add(t0, []Entry{{Dest: "slack", GroupKey: "g9", Alert: al("a")}}); n != 1 {
		t.Errorf("Repeat 0 never drops: Add = %d", n)
	}
}

func TestRetryDeadAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path)
	o.Add(t0, []Entry{{Dest: "am/1", GroupKey: "g", Alert: al("a")}, {Dest: "am/1", GroupKey: "h", Alert: al("b")}})
	items, _, _ := o.Due("am/1", t0, 10)
	boom := errors.New("connection refused")
	if err := o.Done(t0, []Result{{Item: items[0], Err: boom, Retry: t0.Add(time.Minute)}, {Item: items[1], Err: boom}}); err != nil {
		t.Fatal(err)
	}
	if q, d, last, err := o.Count("am/1"); q != 1 || d != 1 || last != "connection refused" || err != nil {
		t.Errorf("Count = %d queued, %d dead, %q, %v", q, d, last, err)
	}
	if got, next, _ := o.Due("am/1", t0.Add(time.Second), 10); len(got) != 0 || !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("rescheduled item due early: %d, next %v", len(got), next)
	}
	o.Close()

	o = open(t, path) // a restart keeps both the queue and the dead letters
	got, _, _ := o.Due("am/1", t0.Add(time.Minute), 10)
	if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "connection refused" || titles(got[0]) != "a" {
		t.Fatalf("after restart due = %+v", got)
	}
	o.Release(got) // not tried: due again as it was
	dead, _ := o.Dead("")
	if len(dead) != 1 || titles(dead[0]) != "b" || dead[0].DeadAt.IsZero() || dead[0].Attempts != 1 {
		t.Fatalf("dead = %+v", dead)
	}
	dests, _ := o.Dests()
	if strings.Join(dests, ",") != "am/1" {
		t.Errorf("Dests = %q", dests)
	}
	moved, err := o.Retry(t0.Add(2*time.Minute), []uint64{dead[0].ID})
	if err != nil || len(moved) != 1 {
		t.Fatalf("Retry = %v, %v", moved, err)
	}
	select {
	case <-o.Wake("am/1"):
	default:
		t.Error("Retry did not wake the destination")
	}
	if dead, _ := o.Dead("am/1"); len(dead) != 0 {
		t.Errorf("still dead: %+v", dead)
	}
	got, _, _ = o.Due("am/1", t0.Add(2*time.Minute), 10)
	if len(got) != 2 {
		t.Errorf("after retry due = %d items, want 2", len(got))
	}
	if again, _, _ := o.Due("am/1", t0.Add(2*time.Minute), 10); len(again) != 0 {
		t.Errorf("items being sent handed out again: %d", len(again))
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open = %v, want in use", err)
	}
}

func TestPruneForgetsOldDedupKeys(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	var es []Entry
	for i := range 4100 {
		es = append(es, Entry{Dest: "w", GroupKey: "g", Alert: al(string(rune('a'+i%26)) + string(rune(i))), Repeat: time.Minute})
	}
	if _, err := o.Add(t0, es); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Add(t0.Add(time.Hour), []Entry{{Dest: "w", GroupKey: "g", Alert: al("late"), Repeat: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	n, x := 0, 0
	o.db.View(func(tx *bolt.Tx) error {
		n, x = tx.Bucket(bucketSent).Stats().KeyN, tx.Bucket(bucketExp).Stats().KeyN
		return nil
	})
	if n != 1 || x != 1 {
		t.Errorf("%d dedup keys and %d in the expiry index after the prune, want 1 and 1", n, x)
	}
}

// TestDedupIndexOfAnOlderFile: a file written before the expiry index
// gets one at Open, and its old records are pruned through it; a record
// queued again moves in the index.
func TestDedupIndexOfAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path)
	o.Add(t0, []Entry{
		{Dest: "w", GroupKey: "g", Alert: al("old"), Repeat: time.Minute},
		{Dest: "w", GroupKey: "g", Alert: al("again"), Repeat: time.Minute},
	})
	o.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketExp) })
	o.Close()

	o = open(t, path)
	keys := func() (sent, exp []string) {
		o.db.View(func(tx *bolt.Tx) error {
			tx.Bucket(bucketSent).ForEach(func(k, _ []byte) error { sent = append(sent, string(k)); return nil })
			tx.Bucket(bucketExp).ForEach(func(k, _ []byte) error { exp = append(exp, string(k[8:])); return nil })
			return nil
		})
		return sent, exp
	}
	if sent, exp := keys(); len(sent) != 2 || len(exp) != 2 {
		t.Fatalf("after Open: sent %q, index %q", sent, exp)
	}
	// "again" is queued again after its interval; "old" only expires.
	o.Add(t0.Add(2*time.Minute), []Entry{{Dest: "w", GroupKey: "g", Alert: al("again"), Repeat: time.Hour}})
	sent, exp := keys()
	if strings.Join(sent, ",") != "w\x00again" || strings.Join(exp, ",") != "w\x00again" {
		t.Errorf("after the prune: sent %q, index %q; want only again in both", sent, exp)
	}
	if n, _ := o.Add(t0.Add(30*time.Minute), []Entry{{Dest: "w", GroupKey: "g", Alert: al("again"), Repeat: time.Hour}}); n != 0 {
		t.Errorf("again within its new interval was queued")
	}
}

// TestBigGroupSplits: a burst into one group fills items of MaxGroup
// alerts, in order, each written once (adding 2,000 stays linear).
func TestBigGroupSplits(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	var es []Entry
	for i := range 2*MaxGroup + 3 {
		es = append(es, Entry{Dest: "w", GroupKey: "g", Alert: &alert.Alert{Rule: "r", DedupKey: strings.Repeat("k", i%5) + string(rune('0'+i%10)), Title: string(rune(i))}})
	}
	if n, err := o.Add(t0, es); err != nil || n != len(es) {
		t.Fatalf("Add = %d, %v", n, err)
	}
	items, _, _ := o.Due("w", t0, 10)
	if len(items) != 3 || len(items[0].Alerts) != MaxGroup || len(items[1].Alerts) != MaxGroup || len(items[2].Alerts) != 3 {
		t.Fatalf("items: %d", len(items))
	}
	if items[1].Alerts[0].Title != string(rune(MaxGroup)) || items[2].Alerts[2].Title != string(rune(2*MaxGroup+2)) {
		t.Error("alerts out of order")
	}
	if err := o.Done(t0, []Result{{Item: items[0]}, {Item: items[1]}, {Item: items[2]}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	o.db.View(func(tx *bolt.Tx) error { n = tx.Bucket([]byte(prefixA + "w")).Stats().KeyN; return nil })
	if n != 0 {
		t.Errorf("%d alerts left after delivery", n)
	}
}

// TestJoinWhileSending: an alert that joins an item in the instant Due
// reads it (Due has its alerts, the join commits after) is not lost: Done
// removes only the alerts that were sent and queues the one that joined.
func TestJoinWhileSending(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "g", Alert: al("a")}})
	items, _, _ := o.Due("hook", t0, 10)
	if len(items) != 1 || titles(items[0]) != "a" {
		t.Fatalf("Due = %v", items)
	}
	// The race: the join decided before Due marked the item as sending.
	o.mu.Lock()
	delete(o.sending["hook"], items[0].ID)
	o.mu.Unlock()
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "g", Alert: al("b")}})
	if q, _ := o.Queued("hook"); len(q) != 1 || titles(q[0]) != "a,b" {
		t.Fatalf("b did not join: %v", q)
	}
	if err := o.Done(t0.Add(time.Second), []Result{{Item: items[0]}}); err != nil {
		t.Fatal(err)
	}
	q, _ := o.Queued("hook")
	if len(q) != 1 || titles(q[0]) != "b" || !q[0].Due.Equal(t0.Add(time.Second)) {
		t.Fatalf("after a was delivered, queued: %+v", q)
	}
	// And b is delivered in turn, leaving nothing.
	items, _, _ = o.Due("hook", t0.Add(time.Second), 10)
	if len(items) != 1 || titles(items[0]) != "b" {
		t.Fatalf("Due = %v", items)
	}
	o.Done(t0.Add(2*time.Second), []Result{{Item: items[0]}})
	if q, _ := o.Queued("hook"); len(q) != 0 {
		t.Errorf("left queued: %v", q)
	}
	// Items being sent are not joined in the normal course.
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "h", Alert: al("c")}})
	items, _, _ = o.Due("hook", t0.Add(3*time.Second), 10)
	o.Add(t0.Add(3*time.Second), []Entry{{Dest: "hook", GroupKey: "h", Alert: al("d")}})
	if q, _ := o.Queued("hook"); len(q) != 2 {
		t.Errorf("d joined an item being sent: %d items", len(q))
	}
}

// TestDueDuringDone: Done settles an item while Due's read, begun before
// Done's commit, still sees it queued; Due must not hand it out again
// (it was delivered: a second send is a duplicate).
func TestDueDuringDone(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"))
	o.Add(t0, []Entry{{Dest: "hook", GroupKey: "a", Alert: al("a")}, {Dest: "hook", GroupKey: "b", Alert: al("b")}})
	first, _, _ := o.Due("hook", t0, 1)
	if len(first) != 1 || titles(first[0]) != "a" {
		t.Fatalf("Due = %+v", first)
	}
	o.dueHook = func() {
		o.dueHook = nil
		done := make(chan error)
		go func() { done <- o.Done(t0, []Result{{Item: first[0]}}) }()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	got, _, _ := o.Due("hook", t0, 10)
	if len(got) != 1 || titles(got[0]) != "b" {
		t.Fatalf("Due during Done = %d items (%v), want only b", len(got), got)
	}
}

// BenchmarkAddBesideManyDedupRecords: adding alerts costs the same with
// 100,000 dedup records in their repeat interval as with none (pruning
// reads only what expired).
func BenchmarkAddBesideManyDedupRecords(b *testing.B) {
	o, err := Open(filepath.Join(b.TempDir(), "outbox.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var es []Entry
	for i := range 100_000 {
		es = append(es, Entry{Dest: "w", GroupKey: "g", Alert: al(fmt.Sprintf("old-%d", i)), Repeat: 4 * time.Hour})
		if len(es) == 5000 {
			if _, err := o.Add(t0, es); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	b.ResetTimer()
	for i := range b.N {
		es = es[:0]
		for j := range 10 {
			es = append(es, Entry{Dest: "w", GroupKey: fmt.Sprint(i, j), Alert: al(fmt.Sprintf("new-%d-%d", i, j)), Repeat: 4 * time.Hour})
		}
		if _, err := o.Add(t0.Add(time.Minute), es); err != nil {
			b.Fatal(err)
		}
	}
}
