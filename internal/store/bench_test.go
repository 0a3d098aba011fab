package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
)

// benchAlert is alert i of a synthetic stream: 50 rules, 20 accounts, five
// severities, and one alert in a thousand of a rare rule.
func benchAlert(prefix string, i int) Stored {
	rule := fmt.Sprintf("rule-%02d", i%50)
	if i%1000 == 999 {
		rule = "rare-rule"
	}
	return stored(fmt.Sprintf("%s-%d", prefix, i), rule, fmt.Sprintf("1111222233%02d", (i/7)%20), detect.Severity(i%5))
}

func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, _, _ := openTest(b, Options{})
			batches := make([][]Stored, 16)
			for j := range batches {
				for i := range size {
					batches[j] = append(batches[j], benchAlert(fmt.Sprint(j), i))
				}
			}
			n := 0
			for b.Loop() {
				// New alerts, then (from the 17th batch on) replays.
				if err := s.Put(batches[n%len(batches)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkList lists a store of 100,000 alerts, first seen one a second.
func BenchmarkList(b *testing.B) {
	const total = 100_000
	s, clk, _ := openTest(b, Options{})
	batch := make([]Stored, 0, 5000)
	for i := range total {
		batch = append(batch, benchAlert("a", i))
		if len(batch) == cap(batch) {
			clk.Set(t0.Add(time.Duration(i) * time.Second))
			if err := s.Put(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	end := t0.Add(total * time.Second)
	mid, err := s.List(Query{Limit: total / 2})
	if err != nil {
		b.Fatal(err)
	}
	midCursor := mid.Next
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"newest", Query{}},
		{"rule", Query{Rules: []string{"rule-07"}}},             // 1 in 50
		{"rare-rule", Query{Rules: []string{"rare-rule"}}},      // 1 in 1000: scans everything
		{"absent-rule", Query{Rules: []string{"no-such-rule"}}}, // scans everything, returns nothing
		{"severity+account", Query{MinSeverity: detect.Critical, Accounts: []string{"111122223305"}}},
		{"last-hour", Query{Since: end.Add(-time.Hour)}},
		{"cursor-middle", Query{Cursor: midCursor}},
		{"limit-1000", Query{Limit: 1000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var got int
			for b.Loop() {
				p, err := s.List(bc.q)
				if err != nil {
					b.Fatal(err)
				}
				got = len(p.Alerts)
			}
			b.ReportMetric(float64(got), "alerts/op")
		})
	}
	b.Run("get", func(b *testing.B) {
		key := benchAlert("a", total/2).Alert.DedupKey
		for b.Loop() {
			if _, ok, err := s.Get(key); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkPrune removes 10,000 alerts past the retention from 20,000.
func BenchmarkPrune(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s, clk, _ := openTest(b, Options{Retention: time.Hour})
		for j := range 4 {
			clk.Set(t0.Add(time.Duration(j) * time.Hour))
			batch := make([]Stored, 0, 5000)
			for i := range 5000 {
				batch = append(batch, benchAlert(fmt.Sprint(j), i))
			}
			if err := s.Put(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if n, err := s.Prune(t0.Add(3 * time.Hour)); n != 10000 || err != nil {
			b.Fatal(n, err)
		}
	}
}
