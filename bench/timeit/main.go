//go:build unix

// Command timeit times shell commands side by side, on the same machine in
// the same run, and prints how they compare.
//
// Usage:
//
//	timeit [-runs N] [-warmup N] [-base NAME] [-check 'A<=B']... [-max-rss NAME=MiB]...
//	       [-json FILE] -cmd NAME=COMMAND [-cmd NAME=COMMAND]...
//
// For example, as bench/run.sh uses it:
//
//	go run ./bench/timeit -runs 5 -base gzip -check 'vigil<=gzip' -max-rss vigil=200 \
//		-cmd 'vigil=bench/out/vigil scan --format json bench/out/corpus >/dev/null' \
//		-cmd 'gzip=gzip -dc bench/out/corpus/*.gz >/dev/null'
//
// Each COMMAND is a shell string run as `bash -c COMMAND` in the current
// directory, with stdin and stdout on /dev/null (so a command that forgets to
// redirect its output does not flood the table) and stderr kept in a
// temporary file. NAME is made of letters, digits, '.', '_' and '-'; the
// commands are reported in the order of their -cmd flags.
//
// The commands run interleaved: -warmup untimed rounds (default 1, to fill
// the page cache and so on), then -runs timed rounds (default 5), each round
// running every command once, one at a time. Interleaving spreads any drift
// in the machine's state (other load, thermal throttling) over all commands
// instead of charging it to whichever ran last.
//
// For each command timeit reports the median, minimum and maximum wall time
// of the timed runs, the peak resident set size (the maximum over the timed
// runs) and the median CPU time (user+system). Both of the latter come from
// the rusage that wait4 returns for the bash process; it covers bash and every
// descendant it waited for, and for the RSS that means the largest single
// process, not a sum: for `bash -c 'a | b'` the peak RSS is max(bash, a, b),
// although a and b run at the same time. (A simple command like
// `bash -c 'a >/dev/null'` is exec'd by bash directly, so its numbers are a's
// own.) Wall time includes starting bash, a few milliseconds.
//
// With -base NAME it then prints the ratio of every other command's median
// wall time to the base's, and the inverse ("vigil / gzip = 0.71 (gzip /
// vigil = 1.41)"). Floors, checked after the table:
//
//	-check 'A<=B'      median wall time of A at most that of B
//	-check 'A<B'       strictly less
//	-check 'A<=1.5*B'  at most 1.5 times that of B
//	-max-rss A=200     peak RSS of A at most 200 MiB
//
// -json FILE writes all results, samples included, as JSON (also when a floor
// is violated).
//
// Exit status: 0 all well; 1 a -check or -max-rss floor was violated; 2 a
// usage error, or a command exited non-zero (its stderr tail is printed).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// command is one -cmd flag.
type command struct {
	Name  string // short name used in the table, ratios and floors
	Shell string // run as bash -c Shell
}

// result holds the measurements of one command over the timed runs.
type result struct {
	Name    string    `json:"name"`
	Command string    `json:"command"`
	Wall    []float64 `json:"wall_s"` // wall time of each timed run, in seconds, in run order
	CPU     []float64 `json:"cpu_s"`  // user+system time of each timed run, bash and its children
	Median  float64   `json:"median_s"`
	Min     float64   `json:"min_s"`
	Max     float64   `json:"max_s"`
	CPUMed  float64   `json:"cpu_median_s"`
	PeakRSS float64   `json:"peak_rss_mib"` // max over the timed runs of the largest process's max RSS
}

// sample is one run of one command.
type sample struct {
	wall, cpu time.Duration
	rssKiB    int64
}

// measure runs warmup untimed rounds then runs timed rounds, each round
// running every command once in order, and summarises the timed runs. It
// stops at the first command that fails. Progress goes to progress if not nil.
func measure(cmds []command, runs, warmup int, progress io.Writer) ([]result, error) {
	res := make([]result, len(cmds))
	for i, c := range cmds {
		res[i].Name, res[i].Command = c.Name, c.Shell
	}
	for round := -warmup; round < runs; round++ {
		if progress != nil {
			if round < 0 {
				fmt.Fprintf(progress, "warm-up %d/%d:", round+warmup+1, warmup)
			} else {
				fmt.Fprintf(progress, "run %d/%d:", round+1, runs)
			}
		}
		for i, c := range cmds {
			s, err := runOnce(c)
			if err != nil {
				if progress != nil {
					fmt.Fprintln(progress)
				}
				return nil, err
			}
			if progress != nil {
				fmt.Fprintf(progress, " %s %.3fs", c.Name, s.wall.Seconds())
			}
			if round < 0 {
				continue
			}
			r := &res[i]
			r.Wall = append(r.Wall, s.wall.Seconds())
			r.CPU = append(r.CPU, s.cpu.Seconds())
			r.PeakRSS = max(r.PeakRSS, float64(s.rssKiB)/1024)
		}
		if progress != nil {
			fmt.Fprintln(progress)
		}
	}
	for i := range res {
		r := &res[i]
		if len(r.Wall) == 0 {
			continue
		}
		r.Median, r.CPUMed = median(r.Wall), median(r.CPU)
		r.Min, r.Max = slices.Min(r.Wall), slices.Max(r.Wall)
	}
	return res, nil
}

// runOnce runs c once and returns its wall time, CPU time and max RSS, or an
// error with the tail of its stderr if it exits non-zero.
func runOnce(c command) (sample, error) {
	// Stderr goes to a file rather than a pipe so that no goroutine of ours
	// copies output while the command runs.
	errf, err := os.CreateTemp("", "timeit-stderr-*")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()

	cmd := exec.Command("bash", "-c", c.Shell)
	cmd.Stderr = errf // Stdin and Stdout nil: /dev/null
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s failed: %v\ncommand: %s\n%s", c.Name, err, c.Shell, tail(errf.Name(), 20))
	}
	ps := cmd.ProcessState
	rss := int64(ps.SysUsage().(*syscall.Rusage).Maxrss) // KiB on Linux and the BSDs,
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		rss /= 1024 // bytes on Darwin
	}
	return sample{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rssKiB: rss}, nil
}

// tail returns the last n lines (at most 4 KiB) of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(stderr unavailable: " + err.Error() + ")"
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return "(stderr empty)"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "stderr tail:\n  " + strings.Join(lines, "\n  ")
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is not modified.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median wall time of Name divided by that of Base.
type ratio struct {
	Name  string  `json:"name"`
	Base  string  `json:"base"`
	Ratio float64 `json:"ratio"`
}

// ratios returns the ratio of every result other than base's to base.
func ratios(res []result, base string) []ratio {
	b := find(res, base)
	if b == nil {
		return nil
	}
	var out []ratio
	for _, r := range res {
		if r.Name != base {
			out = append(out, ratio{Name: r.Name, Base: base, Ratio: r.Median / b.Median})
		}
	}
	return out
}

func find(res []result, name string) *result {
	for i := range res {
		if res[i].Name == name {
			return &res[i]
		}
	}
	return nil
}

// check is a floor on wall time: median(A) <= Factor*median(B), or < when
// Strict.
type check struct {
	Text   string
	A, B   string
	Factor float64
	Strict bool
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	checkRE = regexp.MustCompile(`^\s*([A-Za-z0-9._-]+)\s*(<=|<)\s*(?:([0-9]*\.?[0-9]+)\s*\*\s*)?([A-Za-z0-9._-]+)\s*$`)
)

// parseCheck parses "A<=B", "A<B" or "A<=F*B" (F a positive number).
func parseCheck(s string) (check, error) {
	m := checkRE.FindStringSubmatch(s)
	if m == nil {
		return check{}, fmt.Errorf("bad -check %q: want A<=B, A<B or A<=F*B", s)
	}
	c := check{Text: s, A: m[1], Strict: m[2] == "<", B: m[4], Factor: 1}
	if m[3] != "" {
		f, err := strconv.ParseFloat(m[3], 64)
		if err != nil || f <= 0 {
			return check{}, fmt.Errorf("bad -check %q: factor must be a positive number", s)
		}
		c.Factor = f
	}
	if c.A == c.B {
		return check{}, fmt.Errorf("bad -check %q: compares %s with itself", s, c.A)
	}
	return c, nil
}

// outcome is the verdict on one floor.
type outcome struct {
	Floor  string `json:"floor"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// eval checks c against the results.
func (c check) eval(res []result) outcome {
	a, b := find(res, c.A), find(res, c.B)
	if a == nil || b == nil {
		return outcome{Floor: c.Text, Detail: "unknown command name"}
	}
	limit := c.Factor * b.Median
	ok, op, nop := a.Median <= limit, "<=", ">"
	if c.Strict {
		ok, op, nop = a.Median < limit, "<", ">="
	}
	if !ok {
		op = nop
	}
	of := ""
	if c.Factor != 1 {
		of = strconv.FormatFloat(c.Factor, 'g', -1, 64) + " * "
	}
	return outcome{Floor: c.Text, OK: ok, Detail: fmt.Sprintf("median wall time: %s %.3f s %s %s%s %.3f s",
		a.Name, a.Median, op, of, b.Name, b.Median)}
}

// rssLimit is a -max-rss floor.
type rssLimit struct {
	Name string
	MiB  float64
}

func parseRSSLimit(s string) (rssLimit, error) {
	name, v, ok := strings.Cut(s, "=")
	mib, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if !ok || !nameRE.MatchString(name) || err != nil || mib <= 0 {
		return rssLimit{}, fmt.Errorf("bad -max-rss %q: want NAME=MiB", s)
	}
	return rssLimit{Name: name, MiB: mib}, nil
}

func (l rssLimit) eval(res []result) outcome {
	floor := fmt.Sprintf("peak RSS %s <= %g MiB", l.Name, l.MiB)
	r := find(res, l.Name)
	if r == nil {
		return outcome{Floor: floor, Detail: "unknown command name"}
	}
	ok := r.PeakRSS <= l.MiB
	op := "<="
	if !ok {
		op = ">"
	}
	return outcome{Floor: floor, OK: ok, Detail: fmt.Sprintf("peak RSS %s %.1f MiB %s %g MiB", r.Name, r.PeakRSS, op, l.MiB)}
}

// report is what -json writes.
type report struct {
	Time     string    `json:"time"`
	GOOS     string    `json:"goos"`
	NumCPU   int       `json:"num_cpu"`
	Runs     int       `json:"runs"`
	Warmup   int       `json:"warmup"`
	Base     string    `json:"base,omitempty"`
	Results  []result  `json:"results"`
	Ratios   []ratio   `json:"ratios,omitempty"`
	Floors   []outcome `json:"floors,omitempty"`
	FloorsOK bool      `json:"floors_ok"`
}

// printTable writes the aligned results table.
func printTable(w io.Writer, res []result) {
	width := len("command")
	for _, r := range res {
		width = max(width, len(r.Name))
	}
	fmt.Fprintf(w, "%-*s  %9s  %9s  %9s  %13s  %12s\n", width, "command", "median s", "min s", "max s", "peak RSS MiB", "median cpu s")
	for _, r := range res {
		fmt.Fprintf(w, "%-*s  %9.3f  %9.3f  %9.3f  %13.1f  %12.3f\n", width, r.Name, r.Median, r.Min, r.Max, r.PeakRSS, r.CPUMed)
	}
}

// printRatios writes one line per ratio, with its inverse.
func printRatios(w io.Writer, rs []ratio) {
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Name+" / "+r.Base))
	}
	for _, r := range rs {
		fmt.Fprintf(w, "  %-*s = %.2f   (%s / %s = %.2f)\n", width, r.Name+" / "+r.Base, r.Ratio, r.Base, r.Name, 1/r.Ratio)
	}
}

// listFlag collects a repeated string flag in order.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var cmdFlags, checkFlags, rssFlags listFlag
	flag.Var(&cmdFlags, "cmd", "`NAME=COMMAND` to time, run with bash -c (repeatable; order kept)")
	runs := flag.Int("runs", 5, "timed runs of each command")
	warmup := flag.Int("warmup", 1, "untimed warm-up runs of each command")
	base := flag.String("base", "", "print ratios of every command's median wall time to that of command `NAME`")
	flag.Var(&checkFlags, "check", "floor `A<=B`: median wall time of A at most that of B (also A<B, A<=F*B; repeatable)")
	flag.Var(&rssFlags, "max-rss", "floor `NAME=MiB`: peak RSS of NAME at most MiB (repeatable)")
	jsonPath := flag.String("json", "", "write the results as JSON to `FILE`")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: timeit [flags] -cmd NAME=COMMAND [-cmd NAME=COMMAND]...\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	usage := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "timeit: "+format+"\n", args...)
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		usage("unexpected arguments %q; commands go in -cmd NAME=COMMAND", flag.Args())
	}
	if len(cmdFlags) == 0 {
		usage("no -cmd given")
	}
	if *runs < 1 || *warmup < 0 {
		usage("-runs must be at least 1 and -warmup at least 0")
	}
	var cmds []command
	known := map[string]bool{}
	for _, f := range cmdFlags {
		name, shell, ok := strings.Cut(f, "=")
		switch {
		case !ok || strings.TrimSpace(shell) == "":
			usage("bad -cmd %q: want NAME=COMMAND", f)
		case !nameRE.MatchString(name):
			usage("bad -cmd name %q: use letters, digits, '.', '_' and '-'", name)
		case known[name]:
			usage("-cmd name %q given twice", name)
		}
		known[name] = true
		cmds = append(cmds, command{Name: name, Shell: shell})
	}
	if *base != "" && !known[*base] {
		usage("-base %q is not a -cmd name", *base)
	}
	var checks []check
	for _, s := range checkFlags {
		c, err := parseCheck(s)
		if err != nil {
			usage("%v", err)
		}
		for _, n := range []string{c.A, c.B} {
			if !known[n] {
				usage("-check %q: %q is not a -cmd name", s, n)
			}
		}
		checks = append(checks, c)
	}
	var limits []rssLimit
	for _, s := range rssFlags {
		l, err := parseRSSLimit(s)
		if err != nil {
			usage("%v", err)
		}
		if !known[l.Name] {
			usage("-max-rss %q: %q is not a -cmd name", s, l.Name)
		}
		limits = append(limits, l)
	}

	fmt.Printf("timing %d command(s): %d warm-up + %d timed runs each, interleaved\n", len(cmds), *warmup, *runs)
	for _, c := range cmds {
		fmt.Printf("  %s: %s\n", c.Name, c.Shell)
	}
	fmt.Println()
	res, err := measure(cmds, *runs, *warmup, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
		os.Exit(2)
	}

	rep := report{Time: time.Now().UTC().Format(time.RFC3339), GOOS: runtime.GOOS, NumCPU: runtime.NumCPU(),
		Runs: *runs, Warmup: *warmup, Base: *base, Results: res, FloorsOK: true}
	fmt.Println()
	printTable(os.Stdout, res)
	if *base != "" {
		rep.Ratios = ratios(res, *base)
		fmt.Printf("\nmedian wall time relative to %s:\n", *base)
		printRatios(os.Stdout, rep.Ratios)
	}
	for _, c := range checks {
		rep.Floors = append(rep.Floors, c.eval(res))
	}
	for _, l := range limits {
		rep.Floors = append(rep.Floors, l.eval(res))
	}
	if len(rep.Floors) > 0 {
		fmt.Println("\nfloors:")
	}
	var failed []string
	width := 0
	for _, o := range rep.Floors {
		width = max(width, len(o.Floor))
	}
	for _, o := range rep.Floors {
		verdict := "ok  "
		if !o.OK {
			verdict = "FAIL"
			failed = append(failed, o.Floor)
			rep.FloorsOK = false
		}
		fmt.Printf("  %s  %-*s  %s\n", verdict, width, o.Floor, o.Detail)
	}

	if *jsonPath != "" {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // keep the commands' > and | readable
		enc.SetIndent("", "  ")
		err := enc.Encode(rep)
		if err == nil {
			err = os.WriteFile(*jsonPath, b.Bytes(), 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "timeit: writing -json: %v\n", err)
			os.Exit(2)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "timeit: floor violated: %s\n", strings.Join(failed, "; "))
		os.Exit(1)
	}
}
