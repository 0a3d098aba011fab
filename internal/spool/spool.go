package spool

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Record is one payload as received.
type Record struct {
	Source string // "http", "sns", ... (at most 255 bytes)
	// Name is the origin shown in alerts, e.g.
	// "http 10.0.0.1 2026-12-05T12:00:00Z#17" (at most 64 KiB).
	Name string
	// Received keeps nanosecond precision; Next returns it in UTC.
	Received time.Time
	Body     []byte
}

// Pos is the place of a record returned by [Spool.Next]; pass it to
// [Spool.Ack]. Only positions returned by Next of the same Spool are valid.
type Pos struct {
	// Seq is the record's sequence number: 1 for the first record appended
	// to a new spool, one more for each record after it.
	Seq uint64
	idx int64 // records delivered since Open, up to and including this one
	end int64 // bytes delivered since Open, up to and including this one
}

// Entry is a record read from the spool.
type Entry struct {
	Record
	Pos Pos
}

// Options configures a [Spool]. The zero value gives the defaults.
type Options struct {
	// MaxBytes bounds the bytes appended but not yet acked (frames as
	// stored: 36 bytes of header plus source, name and body); an Append that
	// would exceed it fails with ErrFull. Default 256 MiB.
	MaxBytes int64
	// SegmentBytes is the size beyond which appends go to a new segment
	// file. Default 64 MiB.
	SegmentBytes int64
	// MaxRecord is the largest body accepted, at most 1 GiB. Default 16 MiB.
	MaxRecord int64
	// CheckpointEvery is how often the acked position is persisted.
	// Default 100ms.
	CheckpointEvery time.Duration
	// SkipCorrupt makes Open skip damaged data in segments other than the
	// last, logging an error and counting the records lost, instead of
	// failing with a *CorruptError.
	SkipCorrupt bool
	// NoSync skips every fsync. For tests and benchmarks only: a machine
	// crash loses acknowledged records (a killed process does not).
	NoSync bool
	// Logger receives warnings about recovery and checkpoint failures.
	// Default: discard.
	Logger *slog.Logger

	// syncFile, if set, replaces (*os.File).Sync for segment files; tests
	// count and stall syncs with it.
	syncFile func(*os.File) error
}

func (o *Options) setDefaults() error {
	o.MaxBytes = cmp.Or(o.MaxBytes, 256<<20)
	o.SegmentBytes = cmp.Or(o.SegmentBytes, 64<<20)
	o.MaxRecord = cmp.Or(o.MaxRecord, 16<<20)
	o.CheckpointEvery = cmp.Or(o.CheckpointEvery, 100*time.Millisecond)
	o.Logger = cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	var errs []error
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBytes %d is negative", o.MaxBytes))
	}
	if o.SegmentBytes < 0 {
		errs = append(errs, fmt.Errorf("SegmentBytes %d is negative", o.SegmentBytes))
	}
	if o.MaxRecord < 0 || o.MaxRecord > maxRecordLimit {
		errs = append(errs, fmt.Errorf("MaxRecord %d is outside 1..%d", o.MaxRecord, maxRecordLimit))
	}
	if o.CheckpointEvery < 0 {
		errs = append(errs, fmt.Errorf("CheckpointEvery %v is negative", o.CheckpointEvery))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: options: %w", err)
	}
	if o.syncFile == nil {
		o.syncFile = (*os.File).Sync
		if o.NoSync {
			o.syncFile = func(*os.File) error { return nil }
		}
	}
	return nil
}

var (
	// ErrFull is returned by Append when the records would take the bytes
	// appended but not acked beyond Options.MaxBytes; the caller should ask
	// its sender to retry later (HTTP 429).
	ErrFull = errors.New("spool: full")
	// ErrClosed is returned by calls on a closed Spool and by a Next that
	// was waiting when Close was called.
	ErrClosed = errors.New("spool: closed")
	// ErrTooLarge is returned by Append for a record beyond the limits
	// (body beyond Options.MaxRecord, source beyond 255 bytes, name beyond
	// 64 KiB) or a batch beyond Options.MaxBytes. It never succeeds later.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrLocked is returned by Open when another process has the spool
	// directory open.
	ErrLocked = errors.New("spool: directory in use by another process")
	// ErrCorrupt matches every *CorruptError.
	ErrCorrupt = errors.New("spool: corrupt data")
)

// CorruptError reports damaged spool data: the file, the byte offset where
// the damage starts, and what is wrong. errors.Is(err, ErrCorrupt) holds.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool: corrupt data in %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Stats is a snapshot of a Spool's counters.
type Stats struct {
	// Pending is the number of records appended (including those still
	// being synced) and not yet acked; PendingBytes is their size as stored,
	// the number compared with Options.MaxBytes.
	Pending      int64
	PendingBytes int64
	// Segments is the number of segment files.
	Segments int
	// LastSeq is the sequence number of the last durable record.
	LastSeq uint64
	// Delivered and Acked are the sequence numbers of the last record
	// returned by Next and of the last acked; Checkpoint is the acked
	// sequence number last persisted.
	Delivered, Acked, Checkpoint uint64
	// Appended and AppendedBytes count the records made durable since Open.
	Appended      uint64
	AppendedBytes int64
	// Commits counts the groups of appends written and synced since Open,
	// and Syncs the fsyncs of segment files: one per round of the syncer
	// (which takes every group written meanwhile) plus one per segment
	// roll (counted even with NoSync).
	Commits, Syncs uint64
	// Full counts Appends refused with ErrFull since Open.
	Full uint64
	// Recovered is the number of records found unacked at Open.
	Recovered int64
	// Truncated is the number of bytes of torn tail cut at Open.
	Truncated int64
	// Lost is the number of records skipped at Open because of corruption
	// (Options.SkipCorrupt).
	Lost int64
}

// segment is a segment file. first, path and maxBody never change; size is
// guarded by Spool.mu.
type segment struct {
	first   uint64
	path    string
	maxBody int64
	// size is the committed length: readers read only below it.
	size int64
}

// Spool is a durable FIFO queue of records in a directory. Append may be
// called concurrently with everything; Next is meant for one consumer
// (concurrent calls are safe and each record goes to one of them); Ack,
// Stats and Close may be called at any time.
type Spool struct {
	dir  string
	o    Options
	log  *slog.Logger
	lock *os.File

	mu        sync.Mutex
	closed    bool
	broken    error         // sticky write or sync failure
	open      *group        // batches waiting for the next commit
	segs      []*segment    // committed segments, oldest first
	avail     chan struct{} // closed and replaced by each commit
	delivered Pos
	acked     Pos
	synced    uint64 // sequence number of the last synced record
	ckptSeq   uint64
	stats     Stats // counters only; the rest is filled by Stats

	kick chan struct{} // wakes the writer; capacity 1

	smu   sync.Mutex
	syncq []syncJob     // written groups waiting for the syncer
	skick chan struct{} // wakes the syncer; capacity 1

	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	w writer // owned by the writer goroutine after Open

	rmu sync.Mutex // serializes Next
	r   reader

	ckmu      sync.Mutex // serializes checkpoints
	closeOnce sync.Once
	closeErr  error
}

// Open opens the spool in dir, creating the directory if needed, and
// recovers what a previous process left: records after the persisted
// checkpoint are returned again by Next. A torn tail of the last segment is
// cut away with a warning; other damage fails with a *CorruptError (see the
// package documentation). Open fails with ErrLocked while another process
// has dir open.
func Open(dir string, o Options) (*Spool, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir:   dir,
		o:     o,
		log:   o.Logger,
		lock:  lock,
		open:  newGroup(),
		avail: make(chan struct{}),
		kick:  make(chan struct{}, 1),
		skick: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	s.w.syncFile = o.syncFile
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.wg.Add(3)
	go s.writeLoop()
	go s.syncLoop()
	go s.checkpointLoop()
	return s, nil
}

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Segments = len(s.segs)
	st.Delivered = s.delivered.Seq
	st.Acked = s.acked.Seq
	st.Checkpoint = s.ckptSeq
	return st
}

// Close waits for the appends already queued to be written, persists the
// acked position, closes the files and releases the directory. A Next
// waiting returns ErrClosed. Close may be called more than once; later
// calls return the first call's result.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown(true) })
	return s.closeErr
}

// shutdown stops the goroutines and closes the files, persisting the acked
// position if checkpoint is set. Tests call it with false to simulate a
// crash.
func (s *Spool) shutdown(checkpoint bool) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	var err error
	if checkpoint {
		err = s.checkpoint()
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return errors.Join(err, s.closeFiles())
}

// closeFiles closes the segment files and the lock.
func (s *Spool) closeFiles() error {
	var errs []error
	if s.r.f != nil {
		errs = append(errs, s.r.f.Close())
		s.r.f = nil
	}
	if s.w.f != nil {
		errs = append(errs, s.w.f.Close())
		s.w.f = nil
	}
	errs = append(errs, s.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}
