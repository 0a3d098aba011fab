package spool

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
)

// reader is Next's position. It is guarded by Spool.rmu.
type reader struct {
	seg *segment
	f   *os.File
	off int64  // offset of the next frame in seg
	seq uint64 // sequence number the next frame must have
	idx int64  // records delivered since Open
	end int64  // bytes delivered since Open
	rd  *frameReader
	src string // last Source, reused while it repeats
}

// Next returns the record after the last one it returned, in append order,
// waiting until one is written (its sync may still be running). A record
// available is returned even if ctx has ended; otherwise Next returns
// ctx.Err() when ctx ends and ErrClosed when the spool is closed. Damaged data gives a *CorruptError.
func (s *Spool) Next(ctx context.Context) (Entry, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Entry{}, ErrClosed
		}
		limit, err := s.readLimitLocked()
		if err != nil {
			s.mu.Unlock()
			return Entry{}, err
		}
		if s.r.off < limit {
			s.mu.Unlock()
			e, err := s.r.read(limit)
			if err != nil {
				return Entry{}, err
			}
			s.mu.Lock()
			s.delivered = e.Pos
			s.mu.Unlock()
			return e, nil
		}
		avail := s.avail
		s.mu.Unlock()
		select {
		case <-avail:
		case <-s.done:
			return Entry{}, ErrClosed
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		}
	}
}

// readLimitLocked returns how far the reader may read in its segment,
// moving it to the next segment when it has read all of a finished one.
func (s *Spool) readLimitLocked() (int64, error) {
	r := &s.r
	for r.off >= r.seg.size {
		i, _ := slices.BinarySearchFunc(s.segs, r.seg.first+1, func(sg *segment, first uint64) int {
			return cmp.Compare(sg.first, first)
		})
		if i == len(s.segs) {
			break // r.seg is the last segment
		}
		next := s.segs[i]
		// The file exists: segments are removed from s.segs, under s.mu,
		// before their files are deleted.
		f, err := os.Open(next.path)
		if err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		if r.f != nil {
			r.f.Close()
		}
		r.f, r.seg, r.off, r.seq = f, next, segHeaderSize, next.first
		r.rd.reset(f)
	}
	return r.seg.size, nil
}

// read decodes the record at the reader's offset, which ends before limit.
func (r *reader) read(limit int64) (Entry, error) {
	fr, err := r.rd.next(r.off, limit, r.seg.maxBody)
	var fe *frameError
	switch {
	case errors.As(err, &fe):
		return Entry{}, &CorruptError{Path: r.seg.path, Offset: r.off, Reason: fe.reason}
	case err != nil:
		return Entry{}, fmt.Errorf("spool: read %s: %w", r.seg.path, err)
	case fr.seq != r.seq:
		return Entry{}, &CorruptError{Path: r.seg.path, Offset: r.off, Reason: fmt.Sprintf("sequence number %d, want %d", fr.seq, r.seq)}
	}
	if string(fr.source) != r.src {
		r.src = string(fr.source)
	}
	body := fr.body
	if !fr.owned {
		body = bytes.Clone(body)
	}
	r.off += fr.size
	r.seq++
	r.idx++
	r.end += fr.size
	return Entry{
		Record: Record{Source: r.src, Name: string(fr.name), Received: fr.received(), Body: body},
		Pos:    Pos{Seq: fr.seq, idx: r.idx, end: r.end},
	}, nil
}

// Ack marks every record up to and including pos as done, freeing their
// bytes for Append. An Ack of a position at or before the last acked is a
// no-op; a position Next has not returned is an error. The acked position
// is persisted at most Options.CheckpointEvery later, and by Close; records
// after the persisted position are delivered again after a crash.
func (s *Spool) Ack(pos Pos) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if pos.Seq <= s.acked.Seq {
		return nil
	}
	d := s.delivered
	if pos.Seq > d.Seq || pos.idx <= s.acked.idx || pos.idx > d.idx || pos.end <= s.acked.end || pos.end > d.end {
		return fmt.Errorf("spool: ack of sequence number %d: not a position returned by Next", pos.Seq)
	}
	s.stats.Pending -= pos.idx - s.acked.idx
	s.stats.PendingBytes -= pos.end - s.acked.end
	s.acked = pos
	return nil
}
