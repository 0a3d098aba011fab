package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/pipeline"
	"github.com/vigil-sec/vigil/internal/source"
)

const scanUsage = `Usage: vigil scan [flags] PATH... | -

Scan files for security alerts. PATH is a file, a directory (read
recursively), - for standard input, or s3://bucket/prefix for every object
under a prefix (credentials and region from the standard AWS chain;
serve.s3 in the configuration for an S3-compatible endpoint). Formats are recognised from content,
gzipped or not: CloudTrail log files and records (also via EventBridge, SNS,
SQS and CloudWatch Logs), console sign-in events, GuardDuty and IAM Access
Analyzer findings, and VPC Flow Logs.

Exit status: 0 scan complete; 1 an alert at or above --fail-on; 2 usage
error or an input could not be read.

Flags:
`

type scanFlags struct {
	ruleFlags
	format    string
	failOn    string
	rulesOnly string
	workers   int
	maxErrors int
	progress  bool
	verbose   bool
	cpuProf   string
	memProf   string
	enrich    bool
	notify    bool
	notifyFor time.Duration
}

func scanCommand(ctx context.Context, args []string, env Env) (err error) {
	fs := flag.NewFlagSet("vigil scan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f scanFlags
	fs.StringVar(&f.format, "format", "", "output `format`: text or json (JSON Lines); default text on a terminal, json otherwise")
	fs.StringVar(&f.failOn, "fail-on", "", "exit with status 1 if an alert of this `severity` or higher is raised (info, low, medium, high, critical)")
	fs.StringVar(&f.rulesOnly, "rules-only", "", "run only these rule `ids` (comma-separated)")
	f.ruleFlags.register(fs, true)
	fs.IntVar(&f.workers, "workers", 0, "decoding `goroutines` (default: one per CPU)")
	fs.IntVar(&f.maxErrors, "max-errors", 50, "show at most `n` bad records individually (all are counted)")
	fs.BoolVar(&f.progress, "progress", true, "show progress on a terminal")
	fs.BoolVar(&f.verbose, "v", false, "report every unsupported record, not only the first of each kind")
	fs.BoolVar(&f.enrich, "enrich", true, "look up every address (GeoIP, AWS's ranges) and account names; --enrich=false skips it")
	fs.BoolVar(&f.notify, "notify", false, "deliver the alerts through the configured routes and receivers (notify in the configuration)")
	fs.DurationVar(&f.notifyFor, "notify-timeout", time.Minute, "with --notify: keep retrying failed deliveries this `long` after the scan; what is left stays queued for the next run")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a Go CPU profile of the scan to `file` (for performance reports)")
	fs.StringVar(&f.memProf, "memprofile", "", "write a Go allocation profile of the scan to `file` (for performance reports)")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, scanUsage)
		fs.PrintDefaults()
	}
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fs.Usage()
		return usagef("scan: no PATH given (use - for standard input)")
	}
	if f.format == "" {
		f.format = "json"
		if isTerminal(env.Stdout) {
			f.format = "text"
		}
	}
	if f.format != "text" && f.format != "json" {
		return usagef("scan: --format must be text or json, not %q", f.format)
	}
	var failOn *detect.Severity
	if f.failOn != "" {
		s, err := detect.ParseSeverity(f.failOn)
		if err != nil {
			return usagef("scan: --fail-on: %v", err)
		}
		failOn = &s
	}
	if f.workers < 0 || f.workers > 256 {
		return usagef("scan: --workers must be between 0 (one per CPU) and 256")
	}
	var ids []string
	if f.rulesOnly != "" {
		if ids = splitList(f.rulesOnly); len(ids) == 0 {
			return usagef("scan: --rules-only names no rule")
		}
	}
	stopProfiles, err := startProfiles(f.cpuProf, f.memProf)
	if err != nil {
		return err
	}
	defer func() {
		if perr := stopProfiles(); perr != nil && err == nil {
			err = perr
		}
	}()
	f.ruleFlags.noEnrich = !f.enrich
	setup, err := newSetup(f.ruleFlags, nil, true)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := setup.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := setup.rules.Errors(); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	ruleSet, err := selectRules(setup.rules.Rules, ids)
	if err != nil {
		return err
	}
	engine, err := detect.New(ruleSet)
	if err != nil {
		return err
	}

	out := newScanOutput(env, f, failOn)
	if f.notify {
		dl, err := openDelivery(setup.cfg, setup.statePath, ruleTags(setup.rules.Rules), env.Stderr)
		if err != nil {
			return err
		}
		defer dl.Close()
		out.delivery = dl
		runCtx, stopRun := context.WithCancel(ctx)
		running := make(chan struct{})
		go func() { dl.d.Run(runCtx); close(running) }()
		defer func() {
			stopRun()
			<-running
			if nerr := out.finishNotify(ctx); nerr != nil && (err == nil || errors.Is(err, errFindings) || errors.Is(err, errIncomplete)) {
				err = nerr
			}
		}()
	}
	if n := len(setup.rules.Skipped); n > 0 {
		out.errorf("%s not loaded: they need what Vigil does not support (see vigil rules lint)", plural(n, "Sigma rule"))
	}
	var local, remote []string
	for _, p := range paths {
		if strings.HasPrefix(p, "s3://") {
			remote = append(remote, p)
		} else {
			local = append(local, p)
		}
	}
	inputs, pathErrs := source.Files(local, env.Stdin)
	if len(remote) > 0 {
		objs, err := s3Inputs(ctx, setup.cfg, remote)
		if err != nil {
			return err
		}
		inputs = append(inputs, objs...)
	}
	for _, e := range pathErrs {
		out.errorf("%v", e)
	}
	// scanOutput writes each alert at once and copies what it keeps, so
	// the read buffers can be reused.
	p := pipeline.New(engine, pipeline.Options{Workers: f.workers, Enrich: setup.enrich, Buffers: decode.NewBufferPool()})
	stop := func() {}
	if f.progress && isTerminal(env.Stderr) {
		stop = out.startProgress(p, len(inputs))
	}
	st, err := p.Run(ctx, inputs, out)
	stop()
	out.finish(st)
	switch {
	case err != nil:
		return err
	case out.writeErr != nil:
		return fmt.Errorf("write output: %w", out.writeErr)
	case out.failHit:
		// Alerts at the threshold matter more than unreadable inputs,
		// which have been reported: a gate must not mistake a finding for
		// a tool error.
		return errFindings
	case len(pathErrs) > 0 || out.failedPayloads > 0:
		return errIncomplete
	}
	return nil
}

// selectRules keeps the rules named by ids, or all when ids is empty.
func selectRules(all []detect.Rule, ids []string) ([]detect.Rule, error) {
	if len(ids) == 0 {
		return all, nil
	}
	var out []detect.Rule
	var unknown []string
	for _, id := range ids {
		if slices.ContainsFunc(out, func(r detect.Rule) bool { return r.Meta().ID == id }) {
			continue // named twice
		}
		i := slices.IndexFunc(all, func(r detect.Rule) bool { return r.Meta().ID == id })
		if i < 0 {
			unknown = append(unknown, id)
			continue
		}
		out = append(out, all[i])
	}
	if len(unknown) > 0 {
		return nil, usagef("scan: --rules-only: unknown rule id %s (see vigil rules list)", strings.Join(unknown, ", "))
	}
	return out, nil
}

// scanOutput receives pipeline results and writes alerts to stdout and
// problems and the summary to stderr.
type scanOutput struct {
	f       scanFlags
	failOn  *detect.Severity
	stdout  *bufio.Writer
	line    []byte      // the alert being written
	alert   alert.Alert // and its fields
	rows    []*alert.Alert
	failHit bool

	delivery  *delivery      // with --notify
	toNotify  []*alert.Alert // alerts not yet queued
	notifyErr error          // the first error queueing alerts
	writeErr  error          // the first error writing alerts; later alerts are not written

	mu           sync.Mutex // guards stderr and progress state
	stderr       io.Writer
	progressLine bool

	errorsShown     int
	recordErrors    int
	failedPayloads  int
	skippedPayloads []string
	shownReasons    map[string]bool
	bySeverity      [5]int
	start           time.Time
}

func newScanOutput(env Env, f scanFlags, failOn *detect.Severity) *scanOutput {
	o := &scanOutput{
		f:            f,
		failOn:       failOn,
		stdout:       bufio.NewWriterSize(env.Stdout, 64<<10),
		stderr:       env.Stderr,
		shownReasons: map[string]bool{},
		start:        time.Now(),
	}
	return o
}

// errorf writes one problem line to stderr. The line is made safe for a
// terminal: its arguments often quote the input.
func (o *scanOutput) errorf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clearProgress()
	fmt.Fprintf(o.stderr, "vigil: %s\n", printable(fmt.Sprintf(format, args...)))
}

func (o *scanOutput) Finding(f *detect.Finding) {
	if int(f.Severity) < len(o.bySeverity) {
		o.bySeverity[f.Severity]++
	}
	if o.delivery != nil && o.notifyErr == nil {
		o.toNotify = append(o.toNotify, alert.New(f))
		if len(o.toNotify) >= notifyBatch {
			o.queueAlerts()
		}
	}
	if o.failOn != nil && f.Severity >= *o.failOn {
		o.failHit = true
	}
	if o.f.format == "json" {
		if o.writeErr == nil {
			// Written now: no copies needed. An alert that cannot be
			// written as JSON (a NaN in its details) costs only itself.
			alert.ViewInto(&o.alert, f)
			line, err := o.alert.MarshalLine(o.line[:0])
			if err != nil {
				o.errorf("alert %s on %s: cannot write it as JSON: %v", f.Rule, f.Event.Origin, err)
				return
			}
			o.line = line
			_, o.writeErr = o.stdout.Write(line)
		}
		return
	}
	o.rows = append(o.rows, alert.New(f)) // kept for the table
}

// notifyBatch is how many alerts go into the outbox in one transaction.
const notifyBatch = 256

// queueAlerts puts the alerts found so far into the outbox.
func (o *scanOutput) queueAlerts() {
	if len(o.toNotify) == 0 || o.notifyErr != nil {
		return
	}
	if _, err := o.delivery.d.Notify(o.toNotify); err != nil {
		o.notifyErr = err
		o.errorf("notify: %v: later alerts are not delivered", err)
	}
	o.toNotify = o.toNotify[:0]
}

// finishNotify queues what is left and delivers everything queued within
// --notify-timeout, then reports.
func (o *scanOutput) finishNotify(ctx context.Context) error {
	o.queueAlerts()
	fctx, cancel := context.WithTimeout(ctx, o.f.notifyFor)
	defer cancel()
	stats := o.delivery.d.Flush(fctx)
	if err := o.delivery.report(o.stderr, stats); err != nil {
		return err
	}
	return o.notifyErr
}

func (o *scanOutput) RecordError(err *decode.RecordError) {
	o.recordErrors++
	if o.errorsShown < o.f.maxErrors {
		o.errorsShown++
		o.errorf("bad record: %v", err)
	}
}

func (o *scanOutput) Unsupported(u *decode.Unsupported) {
	if o.f.verbose || !o.shownReasons[u.Reason] {
		o.shownReasons[u.Reason] = true
		if u.Detail != "" {
			o.errorf("note: %s: skipped: %s: %s", u.Origin, u.Reason, clip(u.Detail, 200))
		} else {
			o.errorf("note: %s: skipped: %s", u.Origin, u.Reason)
		}
	}
}

func (o *scanOutput) RuleError(err *detect.RuleError) { o.errorf("rule error: %v", err) }

func (o *scanOutput) PayloadDone(p pipeline.PayloadResult) {
	if p.Err == nil {
		return
	}
	if errors.Is(p.Err, decode.ErrUnknownFormat) {
		o.skippedPayloads = append(o.skippedPayloads, p.Name)
		o.errorf("note: skipped %v", p.Err)
		return
	}
	o.failedPayloads++
	o.errorf("%v", p.Err)
}

func (o *scanOutput) finish(st pipeline.Stats) {
	if o.f.format == "text" && o.writeErr == nil {
		writeTable(o.stdout, o.rows)
	}
	if err := o.stdout.Flush(); err != nil && o.writeErr == nil {
		o.writeErr = err // reported by the command's result
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clearProgress()
	writeSummary(o.stderr, st, o)
}

// startCPUProfile starts a CPU profile written to path and returns the
// function that stops it and closes the file.
// startProfiles starts a CPU profile into cpu and arranges an allocation
// profile into mem (either may be empty); stop ends the one and writes the
// other.
func startProfiles(cpu, mem string) (stop func() error, err error) {
	stopCPU := func() {}
	if cpu != "" {
		if stopCPU, err = startCPUProfile(cpu); err != nil {
			return nil, err
		}
	}
	return func() error {
		stopCPU()
		if mem != "" {
			return writeAllocProfile(mem)
		}
		return nil
	}, nil
}

func startCPUProfile(path string) (stop func(), err error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		fh.Close()
	}, nil
}

// writeAllocProfile writes the allocation profile to path.
func writeAllocProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	if err := pprof.Lookup("allocs").WriteTo(fh, 0); err != nil {
		fh.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	return fh.Close()
}
