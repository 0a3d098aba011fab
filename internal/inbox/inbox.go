package inbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-sec/vigil/internal/source"
)

// Options configure a Watcher. Zero values mean defaults.
type Options struct {
	// Dir is the watched directory, default "inbox". It is created
	// (0750) if missing.
	Dir string
	// LedgerPath is the ledger's bbolt file, e.g. vigil-data/inbox.db;
	// required. Its directory is created if missing.
	LedgerPath string
	// Poll is how often the directory is listed, default 1s.
	Poll time.Duration
	// Settle is how long a file's size and modification time must stay
	// unchanged before it is taken, default 2s.
	Settle time.Duration
	// MaxInFlight is the most files handed out and not yet done, default 8.
	MaxInFlight int
	// MaxAttempts is how many times a file is taken before a failing one
	// is given up, default 5.
	MaxAttempts int
	// RetryBackoff is the wait before the first retry of a failed file,
	// doubled for each further one (at most an hour), default 30s.
	RetryBackoff time.Duration
	// Forget is how long the ledger remembers a file that is gone,
	// default 7 days.
	Forget time.Duration
	// Logger, if set, receives what happens to files; nil discards.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultDir          = "inbox"
	DefaultPoll         = time.Second
	DefaultSettle       = 2 * time.Second
	DefaultMaxInFlight  = 8
	DefaultMaxAttempts  = 5
	DefaultRetryBackoff = 30 * time.Second
	DefaultForget       = 7 * 24 * time.Hour
	maxBackoff          = time.Hour
)

// Stats counts the files of the inbox for metrics.
type Stats struct {
	// Seen is how many files the last poll found (skipped names excluded).
	Seen int
	// Pending files wait to settle, for a free slot or for a retry.
	Pending int
	// InFlight files were handed out and are not done yet.
	InFlight int
	// Done files were processed and have not changed since.
	Done int
	// Failed files failed MaxAttempts times and are left alone until
	// they change.
	Failed int
}

// Watcher watches one directory. Run is called at most once at a time;
// Stats and the jobs' Done may be called from any goroutine.
type Watcher struct {
	o       Options
	log     *slog.Logger
	db      *bolt.DB
	ledger  string // absolute path of the ledger, never taken as input
	wake    chan struct{}
	running atomic.Bool

	mu      sync.Mutex
	closed  bool
	files   map[string]*entry       // the ledger, in memory
	obs     map[string]*observation // the files the last poll found
	active  map[string]bool         // handed out by this process, not yet done
	ready   []string                // settled and due, in walk order
	skipped map[string]bool         // paths whose problem was logged
}

// observation is a file as polls see it.
type observation struct {
	fingerprint
	since time.Time // when it was first seen with this fingerprint
}

// Open opens the ledger, creating the directory if missing. It fails if
// the directory cannot be read or another process holds the ledger.
func Open(o Options) (*Watcher, error) {
	o.Dir = cmp.Or(o.Dir, DefaultDir)
	o.Poll = cmp.Or(o.Poll, DefaultPoll)
	o.Settle = cmp.Or(o.Settle, DefaultSettle)
	o.MaxInFlight = cmp.Or(o.MaxInFlight, DefaultMaxInFlight)
	o.MaxAttempts = cmp.Or(o.MaxAttempts, DefaultMaxAttempts)
	o.RetryBackoff = cmp.Or(o.RetryBackoff, DefaultRetryBackoff)
	o.Forget = cmp.Or(o.Forget, DefaultForget)
	log := cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	if o.LedgerPath == "" {
		return nil, errors.New("inbox: no ledger path")
	}
	for _, v := range []struct {
		name string
		v    int64
	}{{"poll", int64(o.Poll)}, {"settle", int64(o.Settle)}, {"max in flight", int64(o.MaxInFlight)},
		{"max attempts", int64(o.MaxAttempts)}, {"retry backoff", int64(o.RetryBackoff)}, {"forget", int64(o.Forget)}} {
		if v.v < 0 {
			return nil, fmt.Errorf("inbox: negative %s", v.name)
		}
	}
	if err := checkDir(o.Dir, log); err != nil {
		return nil, err
	}
	ledger, err := filepath.Abs(o.LedgerPath)
	if err != nil {
		return nil, fmt.Errorf("inbox ledger %s: %w", o.LedgerPath, err)
	}
	if err := os.MkdirAll(filepath.Dir(ledger), 0o750); err != nil {
		return nil, fmt.Errorf("inbox ledger %s: %w", o.LedgerPath, err)
	}
	db, err := bolt.Open(ledger, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("inbox ledger %s: in use by another Vigil process (two watchers cannot share a ledger)", o.LedgerPath)
	}
	if err != nil {
		return nil, fmt.Errorf("inbox ledger %s: %w", o.LedgerPath, err)
	}
	files, err := loadLedger(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("inbox ledger %s: %w", o.LedgerPath, err)
	}
	w := &Watcher{o: o, log: log, db: db, ledger: ledger, wake: make(chan struct{}, 1),
		files: files, obs: map[string]*observation{}, active: map[string]bool{}, skipped: map[string]bool{}}
	if n := w.count(inFlight); n > 0 {
		log.Info("inbox: files were in flight when Vigil stopped; they will be processed again", "dir", o.Dir, "files", n)
	}
	return w, nil
}

// checkDir creates dir if missing and checks that it can be listed.
func checkDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("inbox: create %s: %w", dir, err)
		}
		log.Info("inbox: created the directory", "dir", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("inbox: %s is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.ReadDir(1)
		f.Close()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("inbox: cannot read %s: %w", dir, err)
	}
	return nil
}

func (w *Watcher) count(s state) int {
	n := 0
	for _, e := range w.files {
		if e.State == s {
			n++
		}
	}
	return n
}

// Close closes the ledger. Call it after Run returned and the pipeline
// finished the jobs it took: a job done after Close is taken again at the
// next start.
func (w *Watcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.db.Close()
}

// Run polls the directory and sends a job for each file to take, until
// ctx is cancelled; then it returns ctx's error (or at once an error if
// Run is already running). It waits while out is full and while
// MaxInFlight jobs are not done. It does not close out, which other
// sources may share; out is the channel pipeline.RunStream reads. A job
// taken but not yet sent when ctx is cancelled is put back, unattempted.
func (w *Watcher) Run(ctx context.Context, out chan<- *source.Job) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("inbox: Run called while running")
	}
	defer w.running.Store(false)
	t := time.NewTicker(w.o.Poll)
	defer t.Stop()
	for {
		w.scan(time.Now())
		if err := w.emit(ctx, out); err != nil {
			return err
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				break wait
			case <-w.wake: // a job is done: its slot is free
				if err := w.emit(ctx, out); err != nil {
					return err
				}
			}
		}
	}
}

// Stats counts the files of the last poll.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Stats{Seen: len(w.obs), InFlight: len(w.active)}
	for rel, ob := range w.obs {
		if w.active[rel] {
			continue
		}
		e := w.files[rel]
		switch {
		case e == nil || !e.same(ob.fingerprint):
			st.Pending++
		case e.State == done:
			st.Done++
		case e.State == failed && e.Retry.IsZero():
			st.Failed++
		default:
			st.Pending++
		}
	}
	return st
}

// emit hands out ready files while slots are free. It returns ctx's error
// if ctx is cancelled while it waits for out.
func (w *Watcher) emit(ctx context.Context, out chan<- *source.Job) error {
	for {
		jobs := w.take(time.Now())
		if len(jobs) == 0 {
			return nil
		}
		for i, j := range jobs {
			select {
			case out <- j.job:
			case <-ctx.Done():
				w.untake(jobs[i:])
				return ctx.Err()
			}
		}
	}
}

// taken is a file marked in flight, with its entry from before.
type taken struct {
	rel  string
	prev *entry // nil if the file was new
	job  *source.Job
}

// take marks as many ready files in flight as there are free slots, in
// one transaction, and returns their jobs.
func (w *Watcher) take(now time.Time) []taken {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []taken
	changes := map[string]*entry{}
	for len(w.ready) > 0 && len(w.active)+len(out) < w.o.MaxInFlight && !w.closed {
		rel := w.ready[0]
		w.ready = w.ready[1:]
		ob := w.obs[rel]
		if ob == nil || w.active[rel] || changes[rel] != nil {
			continue
		}
		// The file may have gone or changed since the poll.
		if fi, err := os.Lstat(w.path(rel)); err != nil || !fi.Mode().IsRegular() || fpOf(fi) != ob.fingerprint {
			continue
		}
		prev := w.files[rel]
		e := &entry{}
		if prev != nil {
			*e = *prev
			if !prev.same(ob.fingerprint) {
				if prev.State == done {
					w.log.Info("inbox: file changed since it was processed; processing it again", "file", w.path(rel))
				}
				e.Attempts, e.Error = 0, ""
			}
		}
		e.Size, e.MTime = ob.size, ob.mtime
		e.State, e.Retry, e.Gone, e.Updated = inFlight, time.Time{}, time.Time{}, now.UTC()
		e.Attempts++
		changes[rel] = e
		out = append(out, taken{rel: rel, prev: prev})
	}
	if len(out) == 0 {
		return nil
	}
	if err := write(w.db, changes); err != nil {
		// Nothing is handed out unrecorded; the next poll tries again.
		w.log.Error("inbox: cannot record files in flight", "dir", w.o.Dir, "err", err)
		return nil
	}
	for i := range out {
		t := &out[i]
		w.files[t.rel] = changes[t.rel]
		w.active[t.rel] = true
		t.job = w.job(t.rel, changes[t.rel], now)
	}
	return out
}

// untake puts back files that were marked in flight but not handed out.
func (w *Watcher) untake(ts []taken) {
	w.mu.Lock()
	defer w.mu.Unlock()
	changes := map[string]*entry{}
	for _, t := range ts {
		delete(w.active, t.rel)
		changes[t.rel] = t.prev // nil removes a new file's entry
		if t.prev == nil {
			delete(w.files, t.rel)
		} else {
			w.files[t.rel] = t.prev
		}
	}
	if w.closed {
		return
	}
	if err := write(w.db, changes); err != nil {
		// They stay in flight in the ledger and are taken at the next start.
		w.log.Warn("inbox: cannot record files not handed out", "dir", w.o.Dir, "err", err)
	}
}

// path is the file at rel, as source.Files would name it.
func (w *Watcher) path(rel string) string { return filepath.Join(w.o.Dir, filepath.FromSlash(rel)) }

// job makes the job for the file at rel, taken as e.
func (w *Watcher) job(rel string, e *entry, now time.Time) *source.Job {
	dir, name := w.o.Dir, filepath.FromSlash(rel)
	var once sync.Once
	return &source.Job{
		Input: source.Input{Name: w.path(rel), Open: func() (io.ReadCloser, error) {
			// Within dir only: a link swapped in since the poll is refused.
			return os.OpenInRoot(dir, name)
		}},
		Source:   "inbox",
		Received: now,
		Done: func(err error) {
			once.Do(func() { w.done(rel, fingerprint{e.Size, e.MTime}, err) })
		},
	}
}

// done records the outcome of the file at rel, taken with fingerprint fp.
func (w *Watcher) done(rel string, fp fingerprint, err error) {
	defer w.wakeUp()
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.active, rel)
	path := w.path(rel)
	if w.closed {
		w.log.Warn("inbox: file finished after the ledger was closed; it will be processed again at the next start", "file", path)
		return
	}
	e := new(entry)
	if prev := w.files[rel]; prev != nil {
		*e = *prev
	}
	e.Size, e.MTime, e.Updated = fp.size, fp.mtime, time.Now().UTC()
	if err == nil {
		e.State, e.Error, e.Retry = done, "", time.Time{}
		w.log.Debug("inbox: file processed", "file", path)
	} else {
		e.State, e.Error, e.Retry = failed, err.Error(), time.Time{}
		if e.Attempts >= w.o.MaxAttempts {
			w.log.Error("inbox: giving up on a file; it is taken again only if it changes", "file", path, "attempts", e.Attempts, "err", err)
		} else {
			wait := w.backoff(e.Attempts)
			e.Retry = e.Updated.Add(wait)
			w.log.Warn("inbox: file failed; retrying", "file", path, "attempt", e.Attempts, "retry_in", wait, "err", err)
		}
	}
	if err := write(w.db, map[string]*entry{rel: e}); err != nil {
		w.log.Error("inbox: cannot record a finished file; it will be processed again at the next start", "file", path, "err", err)
	}
	w.files[rel] = e
}

// backoff is the wait after the attempt-th failed attempt.
func (w *Watcher) backoff(attempt int) time.Duration {
	d := w.o.RetryBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func (w *Watcher) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
