package store

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-sec/vigil/internal/detect"
)

// deleteAlert removes the alert of event id, as a prune would.
func deleteAlert(t *testing.T, s *Store, id string) {
	t.Helper()
	p, err := s.List(Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Alerts {
		if st.Alert.EventID != id {
			continue
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketTime).Delete(indexKey(st.FirstSeen.UnixNano(), st.Alert.DedupKey)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketAlerts).Delete([]byte(st.Alert.DedupKey)); err != nil {
				return err
			}
			return putCount(tx, getCount(tx)-1)
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no alert of event %s", id)
}

func TestPrune(t *testing.T) {
	day := 24 * time.Hour
	s, clk, _ := openTest(t, Options{Retention: 10 * day})
	// One alert a day for 20 days; the first, second and fifth seen again on day 15.
	var all []Stored
	for i := range 20 {
		clk.Set(t0.Add(time.Duration(i) * day))
		st := stored(fmt.Sprintf("d%02d", i), "r", "1", detect.Low)
		all = append(all, st)
		if err := s.Put([]Stored{st}); err != nil {
			t.Fatal(err)
		}
		if i == 15 {
			if err := s.Put([]Stored{all[0], all[1], all[4]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// On day 20, alerts last seen before day 10 go: d02, d03, d05 to d09.
	n, err := s.Prune(t0.Add(20 * day))
	if err != nil || n != 7 {
		t.Fatalf("Prune = %d, %v, want 7", n, err)
	}
	p, _ := s.List(Query{})
	if got, want := ids(p), "d19 d18 d17 d16 d15 d14 d13 d12 d11 d10 d04 d01 d00"; got != want {
		t.Errorf("after Prune: %s, want %s", got, want)
	}
	for _, id := range []string{"d02", "d09"} {
		if _, ok, _ := s.Get(stored(id, "r", "1", detect.Low).Alert.DedupKey); ok {
			t.Errorf("%s still there", id)
		}
	}
	if l, _ := s.Len(); l != 13 {
		t.Errorf("Len = %d, want 13", l)
	}
	// Nothing more to do.
	if n, err := s.Prune(t0.Add(20 * day)); n != 0 || err != nil {
		t.Errorf("second Prune = %d, %v", n, err)
	}

	// MaxAlerts removes the oldest by first seen, even if seen again.
	s.opts.MaxAlerts = 10
	if n, err := s.Prune(t0.Add(20 * day)); n != 3 || err != nil {
		t.Fatalf("Prune to MaxAlerts = %d, %v, want 3", n, err)
	}
	p, _ = s.List(Query{})
	if got, want := ids(p), "d19 d18 d17 d16 d15 d14 d13 d12 d11 d10"; got != want {
		t.Errorf("after MaxAlerts: %s, want %s", got, want)
	}
}

// TestPruneBatches prunes more than one transaction's worth.
func TestPruneBatches(t *testing.T) {
	s, clk, _ := openTest(t, Options{Retention: time.Hour, MaxAlerts: 100})
	s.pruneBatch = 200
	const n = 2*200 + 123
	batch := make([]Stored, 0, n)
	for i := range n {
		batch = append(batch, stored(fmt.Sprint(i), "r", "1", detect.Low))
	}
	if err := s.Put(batch); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Minute))
	if err := s.Put(batch[:1]); err != nil { // seen again, but the oldest
		t.Fatal(err)
	}
	got, err := s.Prune(t0.Add(time.Minute))
	if err != nil || got != n-100 {
		t.Fatalf("Prune = %d, %v, want %d", got, err, n-100)
	}
	if l, _ := s.Len(); l != 100 {
		t.Errorf("Len = %d, want 100", l)
	}
	got, err = s.Prune(t0.Add(2 * time.Hour))
	if err != nil || got != 100 {
		t.Fatalf("Prune after the retention = %d, %v, want 100", got, err)
	}
	if p, _ := s.List(Query{}); len(p.Alerts) != 0 {
		t.Errorf("List after pruning all = %d alerts", len(p.Alerts))
	}
}
