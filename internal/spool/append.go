package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
// time it is kicked, and once more when the spool closes.
func (s *Spool) writeLoop() {
	defer s.wg.Done()
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

// commit writes and syncs the batches queued since the last commit, makes
// them visible to Next and wakes their Append calls.
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
	s.stats.Syncs += s.w.syncs
	s.w.syncs = 0
	if err != nil {
		if s.broken == nil {
			s.broken = err
			s.log.Error("spool: write failed; appends refused until reopened", "dir", s.dir, "err", err)
		}
		s.stats.Pending -= g.records
		s.stats.PendingBytes -= g.bytes
		err = fmt.Errorf("spool: append: %w", err)
	} else {
		for _, sl := range s.w.sealed {
			sl.seg.size = sl.size
		}
		s.segs = append(s.segs, s.w.created...)
		s.w.seg.size = s.w.size
		s.stats.LastSeq = s.w.next - 1
		s.stats.Appended += uint64(g.records)
		s.stats.AppendedBytes += g.bytes
		s.stats.Commits++
		close(s.avail)
		s.avail = make(chan struct{})
	}
	s.w.sealed, s.w.created = s.w.sealed[:0], s.w.created[:0]
	s.mu.Unlock()
	g.err = err
	close(g.done)
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
	// it succeeds.
	sealed  []sealedSeg
	created []*segment
}

type sealedSeg struct {
	seg  *segment
	size int64
}

// write assigns sequence numbers to g's records, writes them and syncs,
// moving to new segments as needed.
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
	if err := w.sync(); err != nil {
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
	old, oldPath := w.f, w.seg.path
	seg, f, err := createSegment(s.dir, w.next, s.o.MaxRecord, s.o.NoSync)
	if err != nil {
		return err
	}
	w.f, w.seg, w.size = f, seg, segHeaderSize
	w.created = append(w.created, seg)
	if err := old.Close(); err != nil {
		return fmt.Errorf("close %s: %w", oldPath, err)
	}
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
