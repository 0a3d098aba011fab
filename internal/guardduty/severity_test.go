package guardduty

import (
	"math"
	"testing"
)

func TestBandOf(t *testing.T) {
	tests := []struct {
		severity float64
		want     Band
	}{
		{0, Low},
		{0.1, Low},
		{1.0, Low},
		{2, Low},
		{3.9, Low},
		{3.95, Low},
		{3.999, Low},
		{math.Nextafter(4, 0), Low},
		{4.0, Medium},
		{5, Medium},
		{6.9, Medium},
		{6.95, Medium},
		{math.Nextafter(7, 0), Medium},
		{7.0, High},
		{8, High},
		{8.9, High},
		{8.99, High},
		{math.Nextafter(9, 0), High},
		{9.0, Critical},
		{9.5, Critical},
		{10.0, Critical},
	}
	for _, tc := range tests {
		if got := BandOf(tc.severity); got != tc.want {
			t.Errorf("BandOf(%v) = %q, want %q", tc.severity, got, tc.want)
		}
	}
}

// TestBandOfNoGaps walks 0–10 in steps of 0.001 and checks that every value
// has a band and that bands only ever go up, changing exactly at 4, 7 and 9.
func TestBandOfNoGaps(t *testing.T) {
	order := map[Band]int{Low: 0, Medium: 1, High: 2, Critical: 3}
	lower := map[Band]float64{Low: 0, Medium: 4, High: 7, Critical: 9}
	prev := BandOf(0)
	for i := 0; i <= 10000; i++ {
		s := float64(i) / 1000
		b := BandOf(s)
		rank, ok := order[b]
		if !ok {
			t.Fatalf("BandOf(%v) = %q, not a band", s, b)
		}
		if rank < order[prev] || rank > order[prev]+1 {
			t.Fatalf("BandOf(%v) = %q after %q", s, b, prev)
		}
		if s < lower[b] {
			t.Fatalf("BandOf(%v) = %q, whose band starts at %v", s, b, lower[b])
		}
		if b != prev && s != lower[b] {
			t.Fatalf("band changes from %q to %q at %v, want at %v", prev, b, s, lower[b])
		}
		prev = b
	}
	if prev != Critical {
		t.Fatalf("BandOf(10) = %q, want Critical", prev)
	}
}
