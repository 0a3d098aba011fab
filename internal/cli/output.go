package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/pipeline"
)

// writeTable prints alerts as a table, one alert per row.
func writeTable(w io.Writer, alerts []*alert.Alert) {
	if len(alerts) == 0 {
		fmt.Fprintln(w, "No alerts.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tTIME (UTC)\tRULE\tACCOUNT\tREGION\tWHO\tSOURCE IP\tWHAT")
	for _, a := range alerts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			strings.ToUpper(a.Severity.String()),
			a.EventTime.Format("2006-01-02 15:04:05"),
			a.Rule,
			cell(a.Account, 20),
			cell(a.Region, 20),
			cell(actorText(a), 40),
			cell(a.SourceIP, 40),
			cell(a.Title, 110),
		)
	}
	tw.Flush()
}

func actorText(a *alert.Alert) string {
	s := a.Actor.Name
	if a.Actor.AccessKeyID != "" {
		s += " (" + a.Actor.AccessKeyID + ")"
	}
	return s
}

// cell makes an input-derived value fit a table cell: printable, without
// tabs or newlines that would break the table, and at most n runes.
func cell(s string, n int) string {
	if s == "" {
		return "-"
	}
	return clip(printable(s), n)
}

// printable escapes what a terminal would interpret in text that comes from
// the input (an object key can hold escape sequences): control characters,
// DEL, C1 controls and invalid UTF-8 are shown as Go escapes.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writeSummary prints what a scan read and found.
func writeSummary(w io.Writer, st pipeline.Stats, o *scanOutput) {
	secs := st.Duration.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.Events) / secs
	}
	fmt.Fprintf(w, "\nScanned %s in %s: %s (%s events/s)\n",
		plural(st.Payloads, "file"), st.Duration.Round(time.Millisecond), plural64(st.Events, "event"), group(int64(rate)))
	if len(st.EventsByKind) > 0 {
		var parts []string
		for _, k := range event.Kinds() {
			if n := st.EventsByKind[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", k, group(n)))
			}
		}
		fmt.Fprintf(w, "  events:       %s\n", strings.Join(parts, ", "))
	}
	if n := st.EventsByKind[event.KindS3Notification]; n > 0 {
		verb := "point"
		if n == 1 {
			verb = "points"
		}
		fmt.Fprintf(w, "  pointers:     %s only %s at S3 objects; scan the objects to read their events\n", plural64(n, "S3 event notification"), verb)
	}
	total := 0
	for _, n := range st.Findings {
		total += n
	}
	if total == 0 {
		fmt.Fprintf(w, "  alerts:       none\n")
	} else {
		var sev []string
		for s := detect.Critical; ; s-- {
			if n := o.bySeverity[s]; n > 0 {
				sev = append(sev, fmt.Sprintf("%s %d", s, n))
			}
			if s == detect.Info {
				break
			}
		}
		fmt.Fprintf(w, "  alerts:       %d (%s)\n", total, strings.Join(sev, ", "))
		for _, id := range slices.Sorted(maps.Keys(st.Findings)) {
			fmt.Fprintf(w, "                %-44s %d\n", id, st.Findings[id])
		}
	}
	if st.RecordErrors > 0 {
		note := "; the records around them were read"
		if o.failedPayloads > 0 {
			note = "; the records around them were read, up to where a file failed"
		}
		if hidden := st.RecordErrors - o.errorsShown; hidden > 0 {
			note += fmt.Sprintf("; %d not shown (--max-errors)", hidden)
		}
		fmt.Fprintf(w, "  bad records:  %d skipped%s\n", st.RecordErrors, note)
	}
	if len(st.Unsupported) > 0 {
		n := 0
		for _, c := range st.Unsupported {
			n += c
		}
		fmt.Fprintf(w, "  unsupported:  %d records skipped\n", n)
		for _, r := range slices.Sorted(maps.Keys(st.Unsupported)) {
			fmt.Fprintf(w, "                %-56s %d\n", r, st.Unsupported[r])
		}
	}
	if len(o.skippedPayloads) > 0 {
		fmt.Fprintf(w, "  skipped:      %s in no supported format\n", plural(len(o.skippedPayloads), "file"))
	}
	if o.failedPayloads > 0 {
		fmt.Fprintf(w, "  failed:       %s could not be read completely (see above)\n", plural(o.failedPayloads, "file"))
	}
	if st.RuleErrors > 0 {
		fmt.Fprintf(w, "  rule errors:  %d\n", st.RuleErrors)
	}
}

func plural(n int, noun string) string { return plural64(int64(n), noun) }

func plural64(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return group(n) + " " + noun + "s"
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// startProgress shows a live progress line on stderr until the returned
// function is called.
func (o *scanOutput) startProgress(p *pipeline.Pipeline, files int) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if time.Since(start) < time.Second {
				continue // short scans need no progress
			}
			events, payloads := p.Progress()
			rate := float64(events) / time.Since(start).Seconds()
			o.mu.Lock()
			fmt.Fprintf(o.stderr, "\r\033[Kscanning: %d/%d files, %s events, %s events/s", payloads, files, group(events), group(int64(rate)))
			o.progressLine = true
			o.mu.Unlock()
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// clearProgress erases the progress line; the caller holds o.mu.
func (o *scanOutput) clearProgress() {
	if o.progressLine {
		fmt.Fprint(o.stderr, "\r\033[K")
		o.progressLine = false
	}
}
