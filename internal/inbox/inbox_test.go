package inbox

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-sec/vigil/internal/source"
)

// The tests run in synctest bubbles: polls, settling and backoff happen in
// fake time, while the files and the ledger are real. Files written in a
// bubble have real modification times, years after the bubble's clock, so
// they are never "older than Settle" unless a test sets their time.

// logBuf collects log output from several goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is a Watcher running on a temporary directory.
type harness struct {
	t      *testing.T
	dir    string
	o      Options
	w      *Watcher
	out    chan *source.Job
	log    *logBuf
	cancel context.CancelFunc
	errc   chan error
}

// newHarness opens a watcher on a new directory (by default inbox/ under a
// temporary one, not created) with o's other options, writes files
// ("path=content") and starts it.
func newHarness(t *testing.T, o Options, files ...string) *harness {
	t.Helper()
	base := t.TempDir()
	o.Dir = cmp.Or(o.Dir, filepath.Join(base, "inbox"))
	h := &harness{t: t, dir: o.Dir, log: &logBuf{}}
	if o.LedgerPath == "" {
		o.LedgerPath = filepath.Join(base, "data", "inbox.db")
	}
	o.Logger = slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.o = o
	h.open()
	for _, f := range files {
		rel, content, _ := strings.Cut(f, "=")
		h.write(rel, content)
	}
	h.start()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	w, err := Open(h.o)
	if err != nil {
		h.t.Fatal(err)
	}
	h.w = w
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(h.t.Context())
	h.cancel, h.errc, h.out = cancel, make(chan error, 1), make(chan *source.Job)
	go func() { h.errc <- h.w.Run(ctx, h.out) }()
}

// stop cancels Run and checks that it returns the context's error.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	if err := <-h.errc; !errors.Is(err, context.Canceled) {
		h.t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// restart stops Run, closes the watcher, reopens it and starts it again.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	if err := h.w.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
	h.start()
}

// close stops Run and closes the watcher.
func (h *harness) close() {
	h.t.Helper()
	h.stop()
	h.w.Close()
}

func (h *harness) write(rel, content string) {
	h.t.Helper()
	p := filepath.Join(h.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// next waits up to d for a job and returns it with its content.
func (h *harness) next(d time.Duration) (*source.Job, string) {
	h.t.Helper()
	select {
	case j := <-h.out:
		rc, err := j.Input.Open()
		if err != nil {
			h.t.Fatalf("open %s: %v", j.Input.Name, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			h.t.Fatal(err)
		}
		if j.Source != "inbox" || j.Received.IsZero() || j.Done == nil {
			h.t.Errorf("job %+v", j)
		}
		return j, string(b)
	case <-time.After(d):
		h.t.Fatalf("no job within %v", d)
		return nil, ""
	}
}

// none checks that no job comes for d.
func (h *harness) none(d time.Duration) {
	h.t.Helper()
	select {
	case j := <-h.out:
		h.t.Fatalf("unexpected job %s", j.Input.Name)
	case <-time.After(d):
	}
}

// entry returns a copy of the ledger entry of rel, nil if none.
func (h *harness) entry(rel string) *entry {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if e := h.w.files[rel]; e != nil {
		c := *e
		return &c
	}
	return nil
}

// rel is a job's path relative to the inbox.
func (h *harness) rel(j *source.Job) string {
	r, err := filepath.Rel(h.dir, j.Input.Name)
	if err != nil {
		h.t.Fatal(err)
	}
	return filepath.ToSlash(r)
}

func TestProcessedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{}, "b.json=B", "a.json=A", "2026/11/20/c.json.gz=C")
		defer h.close()
		if !strings.Contains(h.log.String(), "created the directory") {
			t.Errorf("no log line for the created directory: %s", h.log)
		}
		var got []string
		for range 3 {
			j, content := h.next(10 * time.Second)
			got = append(got, h.rel(j)+"="+content)
			j.Done(nil)
			j.Done(nil) // a second call is ignored
		}
		// Files that settle in the same poll come in walk order.
		if want := "2026/11/20/c.json.gz=C a.json=A b.json=B"; strings.Join(got, " ") != want {
			t.Errorf("jobs %v, want %s", got, want)
		}
		h.none(time.Minute)
		if st := h.w.Stats(); st != (Stats{Seen: 3, Done: 3}) {
			t.Errorf("Stats = %+v", st)
		}
	})
}

func TestSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := t.TempDir()
		outside := filepath.Join(base, "secret")
		if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		// The ledger inside the inbox is not taken either.
		h := newHarness(t, Options{Dir: filepath.Join(base, "inbox"), LedgerPath: filepath.Join(base, "inbox", "inbox.db")})
		defer h.close()
		for _, rel := range []string{".hidden.json", ".staging/a.json", "x.json.tmp", "x.json~", "x.json.partial", "x.json.part",
			"x.crdownload", "README.md", "sub/.y.json", "sub~/z.json"} {
			h.write(rel, "skip")
		}
		h.write("ok/real.json", "take")
		if err := os.Symlink(outside, filepath.Join(h.dir, "link-out.json")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(h.dir, "ok", "real.json"), filepath.Join(h.dir, "link-in.json")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(base, filepath.Join(h.dir, "dirlink")); err != nil {
			t.Fatal(err)
		}
		j, content := h.next(10 * time.Second)
		if h.rel(j) != "ok/real.json" || content != "take" {
			t.Errorf("job %s = %q", h.rel(j), content)
		}
		j.Done(nil)
		h.none(time.Minute)
		if n := strings.Count(h.log.String(), "symbolic links are not followed"); n != 3 {
			t.Errorf("%d log lines for symbolic links, want 3 (once each):\n%s", n, h.log)
		}
	})
}

// TestLinkedDir watches an inbox that is a link to a directory.
func TestLinkedDir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := t.TempDir()
		real := filepath.Join(base, "real")
		if err := os.Mkdir(real, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, filepath.Join(base, "inbox")); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, Options{Dir: filepath.Join(base, "inbox")}, "sub/a.json=A")
		defer h.close()
		j, content := h.next(10 * time.Second)
		if h.rel(j) != "sub/a.json" || content != "A" {
			t.Errorf("job %s = %q", h.rel(j), content)
		}
		j.Done(nil)
		if st := h.w.Stats(); st != (Stats{Seen: 1, Done: 1}) {
			t.Errorf("Stats = %+v", st)
		}
	})
}

// TestOpenStaysInside checks that a link swapped in after the poll is not
// followed when the pipeline opens the file.
func TestOpenStaysInside(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		defer h.close()
		h.write("a.json", "A")
		j := <-h.out
		p := filepath.Join(h.dir, "a.json")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/hostname", p); err != nil {
			t.Fatal(err)
		}
		if rc, err := j.Input.Open(); err == nil {
			rc.Close()
			t.Error("Open followed a link out of the inbox")
		}
		j.Done(errors.New("open failed"))
	})
}

func TestRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		defer h.close()
		h.write("a.json", "A")
		h.write("b.json", "B")
		for range 2 {
			j, _ := h.next(10 * time.Second)
			j.Done(nil)
		}
		h.restart()
		h.none(time.Minute)

		// A changed file is taken again, with a log line.
		h.write("b.json", "B, longer")
		j, content := h.next(10 * time.Second)
		if h.rel(j) != "b.json" || content != "B, longer" {
			t.Errorf("changed file: %s = %q", h.rel(j), content)
		}
		if !strings.Contains(h.log.String(), "file changed since it was processed") {
			t.Errorf("no log line for the changed file:\n%s", h.log)
		}
		j.Done(nil)
		h.restart()
		h.none(time.Minute)
	})
}

func TestSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Poll: time.Second, Settle: 3 * time.Second})
		defer h.close()
		// Being written: taken only once it stopped changing for Settle.
		h.write("slow.json", `{"Records":[`)
		time.Sleep(2500 * time.Millisecond)
		p := filepath.Join(h.dir, "slow.json")
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"eventID":"1"}`)
		time.Sleep(2500 * time.Millisecond)
		f.WriteString(`]}`)
		f.Close()
		start := time.Now()
		h.none(2500 * time.Millisecond)
		j, content := h.next(2 * time.Second)
		if content != `{"Records":[{"eventID":"1"}]}` {
			t.Errorf("taken half-written: %q", content)
		}
		if waited := time.Since(start); waited < 3*time.Second || waited > 4*time.Second {
			t.Errorf("taken %v after the last write, want Settle to a poll more", waited)
		}
		j.Done(nil)

		// Written long ago (renamed into place): taken at the first poll.
		h.write("old.json", "old")
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(filepath.Join(h.dir, "old.json"), old, old); err != nil {
			t.Fatal(err)
		}
		j, _ = h.next(1500 * time.Millisecond)
		if h.rel(j) != "old.json" {
			t.Errorf("job %s, want old.json", h.rel(j))
		}
		j.Done(nil)
	})
}

func TestRetryThenGiveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{MaxAttempts: 3, RetryBackoff: 10 * time.Second})
		defer h.close()
		h.write("bad.json", "bad")
		fail := errors.New("gzip: invalid header")
		j, _ := h.next(10 * time.Second)
		for _, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
			j.Done(fail)
			if st := h.w.Stats(); st != (Stats{Seen: 1, Pending: 1}) {
				t.Errorf("Stats while retrying = %+v", st)
			}
			h.none(wait - time.Second)
			j, _ = h.next(3 * time.Second)
		}
		j.Done(fail)
		h.none(time.Hour)
		if st := h.w.Stats(); st != (Stats{Seen: 1, Failed: 1}) {
			t.Errorf("Stats after giving up = %+v", st)
		}
		if n := strings.Count(h.log.String(), "giving up"); n != 1 {
			t.Errorf("%d log lines giving up, want 1:\n%s", n, h.log)
		}
		if e := h.entry("bad.json"); e.State != failed || e.Attempts != 3 || e.Error != fail.Error() {
			t.Errorf("ledger entry %+v", e)
		}
		// Still given up after a restart, without logging again.
		h.restart()
		h.none(time.Hour)
		if n := strings.Count(h.log.String(), "giving up"); n != 1 {
			t.Errorf("%d log lines giving up after a restart, want 1", n)
		}
		// A fixed file dropped in starts over.
		h.write("bad.json", "fixed")
		j, content := h.next(10 * time.Second)
		if content != "fixed" {
			t.Errorf("content %q", content)
		}
		j.Done(nil)
		if e := h.entry("bad.json"); e.State != done || e.Attempts != 1 || e.Error != "" {
			t.Errorf("ledger entry after the fix %+v", e)
		}
	})
}

func TestInFlightAtCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{MaxAttempts: 3})
		defer h.close()
		h.write("a.json", "A")
		h.write("b.json", "B")
		ja, _ := h.next(10 * time.Second)
		jb, _ := h.next(10 * time.Second)
		jb.Done(nil)
		// Vigil stops with a.json in flight: taken again at the next start.
		h.restart()
		if !strings.Contains(h.log.String(), "in flight when Vigil stopped") {
			t.Errorf("no log line for files in flight:\n%s", h.log)
		}
		ja.Done(nil) // late, from the run before: recorded nowhere, harmless
		j, _ := h.next(10 * time.Second)
		if h.rel(j) != "a.json" {
			t.Errorf("after the crash: %s, want a.json", h.rel(j))
		}
		h.none(time.Minute)
		// It crashes Vigil every time: given up after MaxAttempts.
		h.restart()
		j, _ = h.next(10 * time.Second)
		h.restart()
		h.none(time.Minute)
		if st := h.w.Stats(); st != (Stats{Seen: 2, Done: 1, Failed: 1}) {
			t.Errorf("Stats = %+v", st)
		}
		if !strings.Contains(h.log.String(), "giving up") {
			t.Errorf("no log line giving up:\n%s", h.log)
		}
	})
}

func TestMaxInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{MaxInFlight: 2}, "1.json=1", "2.json=2", "3.json=3", "4.json=4", "5.json=5")
		defer h.close()
		j1, _ := h.next(10 * time.Second)
		j2, _ := h.next(time.Second)
		h.none(time.Minute)
		if st := h.w.Stats(); st != (Stats{Seen: 5, Pending: 3, InFlight: 2}) {
			t.Errorf("Stats = %+v", st)
		}
		// A slot freed is used at once, without waiting for a poll.
		j2.Done(nil)
		j3, _ := h.next(time.Millisecond)
		if h.rel(j1) != "1.json" || h.rel(j3) != "3.json" {
			t.Errorf("jobs %s, %s", h.rel(j1), h.rel(j3))
		}
		j1.Done(nil)
		j3.Done(nil)
		for range 2 {
			j, _ := h.next(time.Second)
			j.Done(nil)
		}
		h.none(time.Minute)
	})
}

// TestCancelWhileBlocked cancels Run while it waits for the pipeline to
// take a job: the file is not counted as an attempt, and is taken when
// Run starts again.
func TestCancelWhileBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		defer h.close()
		h.write("a.json", "A")
		time.Sleep(10 * time.Second)
		synctest.Wait() // Run is blocked sending the job
		h.stop()
		if st := h.w.Stats(); st.InFlight != 0 || h.entry("a.json") != nil {
			t.Errorf("after cancel: %+v, entry %+v", st, h.entry("a.json"))
		}
		h.start()
		j, _ := h.next(10 * time.Second)
		j.Done(nil)
		if e := h.entry("a.json"); e.Attempts != 1 || e.State != done {
			t.Errorf("entry %+v", e)
		}
		if err := h.w.Run(t.Context(), h.out); err == nil || !strings.Contains(err.Error(), "while running") {
			t.Errorf("second Run = %v", err)
		}
	})
}

func TestForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Forget: time.Hour})
		defer h.close()
		h.write("a.json", "A")
		h.write("keep/b.json", "B")
		for range 2 {
			j, _ := h.next(10 * time.Second)
			j.Done(nil)
		}
		a := filepath.Join(h.dir, "a.json")
		fi, err := os.Stat(a)
		if err != nil {
			t.Fatal(err)
		}
		// Moved away and back within the hour: remembered, not taken again.
		tmp := filepath.Join(filepath.Dir(h.dir), "a.json")
		if err := os.Rename(a, tmp); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Minute)
		if e := h.entry("a.json"); e == nil || e.Gone.IsZero() {
			t.Errorf("entry of a gone file: %+v", e)
		}
		if err := os.Rename(tmp, a); err != nil {
			t.Fatal(err)
		}
		h.none(time.Minute)
		if e := h.entry("a.json"); e == nil || !e.Gone.IsZero() {
			t.Errorf("entry of a file back: %+v", e)
		}
		// Gone for good: forgotten after an hour, also in the ledger.
		os.Remove(a)
		time.Sleep(59 * time.Minute)
		if h.entry("a.json") == nil {
			t.Error("forgotten too early")
		}
		time.Sleep(2 * time.Minute)
		h.restart()
		if h.entry("a.json") != nil || h.entry("keep/b.json") == nil {
			t.Errorf("ledger after forgetting: a %+v, b %+v", h.entry("a.json"), h.entry("keep/b.json"))
		}
		// Coming back now, it is a new file.
		h.write("a.json", "A")
		os.Chtimes(a, fi.ModTime(), fi.ModTime())
		j, _ := h.next(10 * time.Second)
		j.Done(nil)
	})
}

func TestOpenErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := t.TempDir()
		ledger := filepath.Join(base, "inbox.db")
		w, err := Open(Options{Dir: filepath.Join(base, "in"), LedgerPath: ledger})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		// bbolt's lock timeout passes in fake time.
		_, err = Open(Options{Dir: filepath.Join(base, "other"), LedgerPath: ledger})
		if err == nil || !strings.Contains(err.Error(), "in use by another Vigil process") {
			t.Errorf("second watcher on one ledger: %v", err)
		}

		file := filepath.Join(base, "file")
		os.WriteFile(file, nil, 0o600)
		if _, err := Open(Options{Dir: file, LedgerPath: filepath.Join(base, "2.db")}); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("Open on a file: %v", err)
		}
		if _, err := Open(Options{Dir: base}); err == nil || !strings.Contains(err.Error(), "ledger") {
			t.Errorf("Open without a ledger: %v", err)
		}
		if os.Geteuid() != 0 { // root reads anything
			locked := filepath.Join(base, "locked")
			os.Mkdir(locked, 0)
			if _, err := Open(Options{Dir: locked, LedgerPath: filepath.Join(base, "3.db")}); err == nil || !strings.Contains(err.Error(), "cannot read") {
				t.Errorf("Open on an unreadable directory: %v", err)
			}
		}
	})
}

func TestSkipName(t *testing.T) {
	tests := []struct {
		name string
		dir  bool
		want bool
	}{
		{"a.json", false, false},
		{"a.json.gz", false, false},
		{"a.log", false, false},
		{".a.json", false, true},
		{"a.json~", false, true},
		{"a.TMP", false, true},
		{"a.json.partial", false, true},
		{"a.md", false, true},
		{"2026", true, false},
		{".git", true, true},
		{"a.tmp", true, false},
	}
	for _, tc := range tests {
		if got := skipName(tc.name, tc.dir); got != tc.want {
			t.Errorf("skipName(%q, %v) = %v, want %v", tc.name, tc.dir, got, tc.want)
		}
	}
}
