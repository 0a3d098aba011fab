//go:build unix

package main

import (
	"math"
	"strings"
	"testing"
)

// TestMeasure times real commands: `sleep 0.05` must come out slower than
// `true`, at least 50 ms, and the ratios must say so.
func TestMeasure(t *testing.T) {
	cmds := []command{{"true", "true"}, {"sleep", "sleep 0.05"}}
	res, err := measure(cmds, 3, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "true" || res[1].Name != "sleep" {
		t.Fatalf("results not in command order: %+v", res)
	}
	for _, r := range res {
		if len(r.Wall) != 3 || len(r.CPU) != 3 {
			t.Errorf("%s: %d wall and %d cpu samples, want 3 (warm-up not counted)", r.Name, len(r.Wall), len(r.CPU))
		}
		if !(r.Min <= r.Median && r.Median <= r.Max) || r.Min <= 0 {
			t.Errorf("%s: want 0 < min <= median <= max, got %v %v %v", r.Name, r.Min, r.Median, r.Max)
		}
		if r.PeakRSS <= 0 || r.PeakRSS > 100 {
			t.Errorf("%s: peak RSS %.2f MiB, want a small positive number", r.Name, r.PeakRSS)
		}
	}
	tr, sl := res[0], res[1]
	if sl.Min < 0.05 {
		t.Errorf("sleep 0.05 took %.4f s at least, want >= 0.05", sl.Min)
	}
	if tr.Median >= sl.Median {
		t.Errorf("true median %.4f s >= sleep median %.4f s", tr.Median, sl.Median)
	}

	rs := ratios(res, "true")
	if len(rs) != 1 || rs[0].Name != "sleep" || rs[0].Base != "true" || rs[0].Ratio <= 1 {
		t.Errorf("ratios vs true = %+v, want one sleep/true ratio > 1", rs)
	}
	if rs := ratios(res, "sleep"); len(rs) != 1 || rs[0].Ratio >= 1 {
		t.Errorf("ratios vs sleep = %+v, want one true/sleep ratio < 1", rs)
	}
	if rs := ratios(res, "nosuch"); rs != nil {
		t.Errorf("ratios vs unknown base = %+v, want nil", rs)
	}

	for _, tc := range []struct {
		check string
		ok    bool
	}{
		{"true<=sleep", true},
		{"true<sleep", true},
		{"sleep<=true", false},
		{"sleep<=0.5*sleep2", false}, // unknown name
	} {
		c, err := parseCheck(tc.check)
		if err != nil {
			t.Fatal(err)
		}
		if o := c.eval(res); o.OK != tc.ok {
			t.Errorf("%s: ok = %v, want %v (%s)", tc.check, o.OK, tc.ok, o.Detail)
		}
	}
	if o := (rssLimit{"sleep", 100}).eval(res); !o.OK {
		t.Errorf("sleep under 100 MiB: %+v", o)
	}
	if o := (rssLimit{"sleep", 0.001}).eval(res); o.OK {
		t.Errorf("sleep under 1 KiB: %+v", o)
	}
}

// TestMeasureFailure checks that a failing command stops the run with its
// exit status and stderr tail.
func TestMeasureFailure(t *testing.T) {
	_, err := measure([]command{{"ok", "true"}, {"bad", "echo first >&2; echo oops >&2; exit 3"}}, 2, 0, nil)
	if err == nil {
		t.Fatal("no error for a command exiting 3")
	}
	for _, want := range []string{"bad failed", "exit status 3", "first", "oops"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseCheck(t *testing.T) {
	for _, tc := range []struct {
		in      string
		a, b    string
		factor  float64
		strict  bool
		wantErr bool
	}{
		{in: "vigil<=gzip", a: "vigil", b: "gzip", factor: 1},
		{in: " vigil <= gzip ", a: "vigil", b: "gzip", factor: 1},
		{in: "vigil<gzip", a: "vigil", b: "gzip", factor: 1, strict: true},
		{in: "vigil<=1.5*gzip", a: "vigil", b: "gzip", factor: 1.5},
		{in: "vigil <= .5 * gzip-dc", a: "vigil", b: "gzip-dc", factor: 0.5},
		{in: "a.b_c<x", a: "a.b_c", b: "x", factor: 1, strict: true},
		{in: "vigil>=gzip", wantErr: true},
		{in: "vigil=gzip", wantErr: true},
		{in: "vigil<=", wantErr: true},
		{in: "<=gzip", wantErr: true},
		{in: "vigil<=0*gzip", wantErr: true},
		{in: "vigil<=-1*gzip", wantErr: true},
		{in: "vigil<=vigil", wantErr: true},
		{in: "vig il<=gzip", wantErr: true},
		{in: "", wantErr: true},
	} {
		c, err := parseCheck(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseCheck(%q) = %+v, want an error", tc.in, c)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseCheck(%q): %v", tc.in, err)
			continue
		}
		if c.A != tc.a || c.B != tc.b || c.Factor != tc.factor || c.Strict != tc.strict {
			t.Errorf("parseCheck(%q) = %+v, want A=%s B=%s factor=%v strict=%v", tc.in, c, tc.a, tc.b, tc.factor, tc.strict)
		}
	}
}

// TestEval checks the floors against fixed results, including the edges.
func TestEval(t *testing.T) {
	res := []result{
		{Name: "vigil", Median: 0.9, PeakRSS: 150},
		{Name: "gzip", Median: 1.2, PeakRSS: 2},
		{Name: "same", Median: 0.9},
	}
	for _, tc := range []struct {
		check string
		ok    bool
	}{
		{"vigil<=gzip", true},
		{"vigil<gzip", true},
		{"gzip<=vigil", false},
		{"vigil<=same", true},      // equal passes <=
		{"vigil<same", false},      // but not <
		{"gzip<=1.5*vigil", true},  // 1.2 <= 1.35
		{"gzip<=1.2*vigil", false}, // 1.2 > 1.08
		{"vigil<=0.5*gzip", false},
	} {
		c, err := parseCheck(tc.check)
		if err != nil {
			t.Fatal(err)
		}
		if o := c.eval(res); o.OK != tc.ok {
			t.Errorf("%s: ok = %v, want %v (%s)", tc.check, o.OK, tc.ok, o.Detail)
		}
	}
	for _, tc := range []struct {
		limit   string
		ok      bool
		wantErr bool
	}{
		{limit: "vigil=200", ok: true},
		{limit: "vigil=150", ok: true},
		{limit: "vigil=149.9", ok: false},
		{limit: "nosuch=200", ok: false},
		{limit: "vigil", wantErr: true},
		{limit: "vigil=", wantErr: true},
		{limit: "vigil=0", wantErr: true},
		{limit: "vigil=lots", wantErr: true},
	} {
		l, err := parseRSSLimit(tc.limit)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseRSSLimit(%q) error = %v, want error %v", tc.limit, err, tc.wantErr)
			continue
		}
		if err == nil {
			if o := l.eval(res); o.OK != tc.ok {
				t.Errorf("%s: ok = %v, want %v (%s)", tc.limit, o.OK, tc.ok, o.Detail)
			}
		}
	}
	rs := ratios(res, "gzip")
	if len(rs) != 2 || rs[0].Name != "vigil" || math.Abs(rs[0].Ratio-0.75) > 1e-9 || rs[1].Name != "same" {
		t.Errorf("ratios = %+v, want vigil/gzip = 0.75 then same", rs)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 1, 4, 2, 3}, 3},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("median modified its input: %v", tc.in)
			}
		}
	}
}
