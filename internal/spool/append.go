package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// batch is the encoded records of one Append call.
type batch struct {
	buf    []byte
	frames []frameRef
}

// frameRef is a frame in a batch: its offset and the CRC of its payload.
type frameRef struct {
	off int
	crc uint32
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func putBatch(b *batch) {
	if cap(b.buf) > 1<<20 {
		return
	}
	b.buf, b.frames = b.buf[:0], b.frames[:0]
	batchPool.Put(b)
}

// group is the batches made durable by one commit.
type group struct {
	batches []*batch
	records int64
	bytes   int64
	done    chan struct{} // closed once err is set
	err     error
}

func newGroup() *group { return &group{done: make(chan struct{})} }

// Append writes recs to the spool and returns once they are durable: a
// crash after Append returned nil loses none of them. Either all of recs
// become visible to Next or none does, even across a crash. Concurrent
// calls share fsyncs.
//
// Append fails with ErrFull when the bytes appended but not acked would
// exceed Options.MaxBytes, with ErrTooLarge for a record beyond the limits,
// and with ErrClosed after Close. After a failed write or fsync every Append
// fails: close the spool and open it again. If ctx ends while Append waits
// for the sync, it returns ctx.Err() and the records may still become
// durable and be delivered.
func (s *Spool) Append(ctx context.Context, recs ...Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	b := batchPool.Get().(*batch)
	if err := s.encode(b, recs); err != nil {
		putBatch(b)
		return err
	}
	size := int64(len(b.buf))
	s.mu.Lock()
	var err error
	switch {
	case s.closed:
		err = ErrClosed
	case s.broken != nil:
		err = fmt.Errorf("spool: unusable after an earlier failure: %w", s.broken)
	case s.stats.PendingBytes+size > s.o.MaxBytes:
		s.stats.Full++
		err = ErrFull
	}
	if err != nil {
		s.mu.Unlock()
		putBatch(b)
		return err
	}
	g := s.open
	g.batches = append(g.batches, b)
	g.records += int64(len(recs))
	g.bytes += size
	s.stats.Pending += int64(len(recs))
	s.stats.PendingBytes += size
	s.mu.Unlock()

	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// encode checks recs against the limits and encodes them into b.
func (s *Spool) encode(b *batch, recs []Record) error {
	var size int64
	for i := range recs {
		r := &recs[i]
		switch {
		case int64(len(r.Body)) > s.o.MaxRecord:
			return fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, len(r.Body), s.o.MaxRecord)
		case len(r.Source) > maxSource:
			return fmt.Errorf("%w: source of %d bytes, limit %d", ErrTooLarge, len(r.Source), maxSource)
		case len(r.Name) > maxName:
			return fmt.Errorf("%w: name of %d bytes, limit %d", ErrTooLarge, len(r.Name), maxName)
		}
		size += frameSize(r)
	}
	if size > s.o.MaxBytes {
		return fmt.Errorf("%w: batch of %d bytes, MaxBytes %d", ErrTooLarge, size, s.o.MaxBytes)
	}
	b.buf = b.buf[:0]
	if int64(cap(b.buf)) < size {
		b.buf = make([]byte, 0, size)
	}
	for i := range recs {
		off := len(b.buf)
		var crc uint32
		b.buf, crc = appendFrame(b.buf, &recs[i])
		b.frames = append(b.frames, frameRef{off: off, crc: crc})
	}
	return nil
}

// writeLoop is the writer goroutine: it commits the queued batches each
// time it is kicked, and once more when the spool closes; then it tells
// the syncer that nothing more comes.
func (s *Spool) writeLoop() {
	defer s.wg.Done()
	defer s.queueSync(syncJob{last: true})
	for {
		select {
		case <-s.kick:
			s.commit()
		case <-s.done:
			s.commit()
			return
		}
	}
}

// commit writes the batches queued since the last commit, makes them
// visible to Next and hands them to the syncer, which wakes their Append
// calls once they are synced. The writer does not wait for the sync: the
// next group is written while it runs, so a slow fsync (another file's
// big commit on the same disk) does not hold up the records behind it.
// Next sees records before their sync too: processing an event that a
// crash might still lose is harmless (its sender was not told it is
// stored, and sends it again), and it takes the sync off the records' way
// through the pipeline. The checkpoint never gets ahead of what is synced.
func (s *Spool) commit() {
	s.mu.Lock()
	g := s.open
	if len(g.batches) == 0 {
		s.mu.Unlock()
		return
	}
	s.open = newGroup()
	err := s.broken
	s.mu.Unlock()

	if err == nil {
		err = s.w.write(s, g)
	}
	for _, b := range g.batches {
		putBatch(b)
	}

	s.mu.Lock()
	s.stats.Syncs += s.w.syncs // of segments rolled
	s.w.syncs = 0
	if err == nil {
		s.publishLocked(g)
	} else {
		s.failLocked(err)
		s.stats.Pending -= g.records
		s.stats.PendingBytes -= g.bytes
	}
	s.mu.Unlock()
	s.queueSync(syncJob{g: g, err: err, f: s.w.f, close: s.w.closed, next: s.w.next})
	s.w.closed = nil
}

// failLocked makes err the spool's sticky failure, if it is the first.
func (s *Spool) failLocked(err error) {
	if s.broken == nil {
		s.broken = err
		s.log.Error("spool: write failed; appends refused until reopened", "dir", s.dir, "err", err)
	}
}

// publishLocked makes what the writer wrote for g visible to Next.
func (s *Spool) publishLocked(g *group) {
	for _, sl := range s.w.sealed {
		sl.seg.size = sl.size
	}
	s.segs = append(s.segs, s.w.created...)
	s.w.seg.size = s.w.size
	s.w.sealed, s.w.created = s.w.sealed[:0], s.w.created[:0]
	close(s.avail)
	s.avail = make(chan struct{})
}

// syncJob is a group written (or failed) and waiting for its sync.
type syncJob struct {
	g   *group
	err error    // the write failed
	f   *os.File // the segment the group's last records went to
	// close are segments finished before it (synced when they were
	// finished), closed once no sync can be using them.
	close []*os.File
	next  uint64 // sequence number after the group's last record
	last  bool   // the writer has stopped
}

func (s *Spool) queueSync(j syncJob) {
	s.smu.Lock()
	s.syncq = append(s.syncq, j)
	s.smu.Unlock()
	select {
	case s.skick <- struct{}{}:
	default:
	}
}

// syncLoop is the syncer goroutine: it takes every group written since
// its last sync, syncs once, and wakes their Append calls, in order, until
// the writer has stopped.
func (s *Spool) syncLoop() {
	defer s.wg.Done()
	for {
		<-s.skick
		s.smu.Lock()
		jobs := s.syncq
		s.syncq = nil
		s.smu.Unlock()
		if s.syncJobs(jobs) {
			return
		}
	}
}

// syncJobs syncs and settles jobs; it reports whether the last job came.
func (s *Spool) syncJobs(jobs []syncJob) (last bool) {
	s.mu.Lock()
	err := s.broken
	s.mu.Unlock()
	syncs := uint64(0)
	if err == nil {
		var synced []*os.File
		for _, j := range jobs {
			if j.g == nil || j.err != nil || slices.Contains(synced, j.f) {
				continue
			}
			synced = append(synced, j.f)
			syncs++
			if err = s.o.syncFile(j.f); err != nil {
				err = fmt.Errorf("sync %s: %w", j.f.Name(), err)
				break
			}
		}
	}
	for _, j := range jobs {
		for _, f := range j.close {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close %s: %w", f.Name(), cerr)
			}
		}
	}
	s.mu.Lock()
	s.stats.Syncs += syncs
	if err != nil {
		s.failLocked(err)
	}
	for _, j := range jobs {
		last = last || j.last
		if j.g == nil {
			continue
		}
		switch {
		case j.err != nil:
			j.g.err = fmt.Errorf("spool: append: %w", j.err)
		case err != nil:
			// Written and visible to Next, but not known to be on disk:
			// the senders are told it failed.
			j.g.err = fmt.Errorf("spool: append: %w", err)
		default:
			s.synced = j.next - 1
			s.stats.LastSeq = s.synced
			s.stats.Appended += uint64(j.g.records)
			s.stats.AppendedBytes += j.g.bytes
			s.stats.Commits++
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		if j.g != nil {
			close(j.g.done)
		}
	}
	return last
}

// writer appends to the last segment. It is used by Open and then only by
// the writer goroutine.
type writer struct {
	f        *os.File
	seg      *segment
	size     int64  // bytes in f, written or not yet committed
	next     uint64 // sequence number of the next record
	buf      []byte
	syncFile func(*os.File) error
	syncs    uint64

	// Segments finished and created by the current commit, published when
	// it succeeds, and the files of those finished, for the syncer to
	// close.
	sealed  []sealedSeg
	created []*segment
	closed  []*os.File
}

type sealedSeg struct {
	seg  *segment
	size int64
}

// write assigns sequence numbers to g's records and writes them, moving
// to new segments as needed (each finished segment is synced); the caller
// syncs the last.
func (w *writer) write(s *Spool, g *group) error {
	w.buf = w.buf[:0]
	for _, b := range g.batches {
		cur := w.size + int64(len(w.buf))
		if cur > segHeaderSize && cur+int64(len(b.buf)) > s.o.SegmentBytes {
			if err := w.flush(); err != nil {
				return err
			}
			if err := w.roll(s); err != nil {
				return err
			}
		}
		base := len(w.buf)
		w.buf = append(w.buf, b.buf...)
		for i, fr := range b.frames {
			var flags byte
			if i == len(b.frames)-1 {
				flags = flagBatchEnd
			}
			h := w.buf[base+fr.off : base+fr.off+frameHeaderSize]
			sealFrame(h, w.next, flags, fr.crc)
			w.next++
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	if cap(w.buf) > 4<<20 {
		w.buf = nil
	}
	return nil
}

// flush writes the buffered frames to the segment file.
func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("write %s: %w", w.seg.path, err)
	}
	return nil
}

func (w *writer) sync() error {
	w.syncs++
	if err := w.syncFile(w.f); err != nil {
		return fmt.Errorf("sync %s: %w", w.seg.path, err)
	}
	return nil
}

// roll syncs the current segment, so that only the last segment can ever
// have a torn tail, and starts a new one at the next sequence number.
func (w *writer) roll(s *Spool) error {
	if err := w.sync(); err != nil {
		return err
	}
	w.sealed = append(w.sealed, sealedSeg{w.seg, w.size})
	old := w.f
	seg, f, err := createSegment(s.dir, w.next, s.o.MaxRecord, s.o.NoSync)
	if err != nil {
		return err
	}
	w.f, w.seg, w.size = f, seg, segHeaderSize
	w.created = append(w.created, seg)
	// The syncer may be syncing it for an earlier group: it closes it.
	w.closed = append(w.closed, old)
	return nil
}

// createSegment creates the segment file for sequence number first, writes
// its header and makes its directory entry durable. The header itself is
// synced with the first commit.
func createSegment(dir string, first uint64, maxBody int64, noSync bool) (*segment, *os.File, error) {
	seg := &segment{first: first, path: filepath.Join(dir, segName(first)), maxBody: maxBody}
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write(segHeader(first, maxBody)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("write %s: %w", seg.path, err)
	}
	if !noSync {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	seg.size = segHeaderSize
	return seg, f, nil
}

// segName is the file name of the segment whose first record has sequence
// number first.
func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }
