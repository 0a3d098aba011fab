package spool

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxSeq bounds the sequence numbers found on disk, so that counting on
// from them never wraps: at a million records a second it lasts 290,000
// years.
const maxSeq = 1 << 63

// recover reads the checkpoint and the segments, cuts a torn tail, and sets
// up the writer and the reader. It runs in Open, before the goroutines.
func (s *Spool) recover() error {
	acked, err := readCheckpoint(s.dir)
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(s.dir, checkpointName+".tmp"))
	if acked > maxSeq {
		return &CorruptError{Path: filepath.Join(s.dir, checkpointName), Reason: fmt.Sprintf("sequence number %d out of range", acked)}
	}
	s.ckptSeq = acked
	s.acked = Pos{Seq: acked}
	s.delivered = s.acked

	all, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	// Segments whose records are all acked: the checkpoint persisted
	// before a crash that prevented their deletion.
	var drop []*segment
	for len(all) > 1 && all[1].first <= acked+1 {
		drop = append(drop, all[0])
		all = all[1:]
	}
	if err := s.removeSegments(drop); err != nil {
		return err
	}

	rd := newFrameReader()
	next := acked + 1
	var start *scanResult
	for i, sg := range all {
		switch {
		case sg.first > maxSeq:
			return &CorruptError{Path: sg.path, Reason: fmt.Sprintf("sequence number %d out of range", sg.first)}
		case i == 0 && sg.first > next:
			s.log.Warn("spool: records between the checkpoint and the first segment are not on disk; assuming they were acked",
				"file", sg.path, "checkpoint", acked, "first", sg.first)
		case i > 0 && sg.first < next:
			return &CorruptError{Path: sg.path, Reason: fmt.Sprintf("first sequence number %d overlaps the previous segment, which ends at %d", sg.first, next-1)}
		case i > 0 && sg.first > next:
			if err := s.lose(sg.path, next, sg.first, acked); err != nil {
				return err
			}
		}
		res, err := s.scanSegment(rd, sg, i == len(all)-1, acked)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, sg)
		s.stats.Pending += res.pending
		s.stats.PendingBytes += res.pendingBytes
		s.stats.Truncated += res.truncated
		if start == nil && res.firstUnacked >= 0 {
			start = &res
		}
		next = res.next
	}
	s.stats.Recovered = s.stats.Pending

	if err := s.openWriter(next, acked); err != nil {
		return err
	}
	s.synced = s.w.next - 1
	s.stats.LastSeq = s.synced

	r := reader{rd: rd, seg: s.segs[len(s.segs)-1]}
	r.off, r.seq = r.seg.size, s.w.next
	if start != nil {
		r.seg, r.off, r.seq = start.seg, start.firstUnacked, start.firstSeq
	}
	f, err := os.Open(r.seg.path)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	r.f = f
	r.rd.reset(f)
	s.r = r
	return nil
}

// lose handles the records from..to-1 missing before the segment at path:
// an error, or with SkipCorrupt a count of those that were not acked.
func (s *Spool) lose(path string, from, to, acked uint64) error {
	if !s.o.SkipCorrupt {
		return &CorruptError{Path: path, Reason: fmt.Sprintf("records %d to %d, before this segment, are missing", from, to-1)}
	}
	if from <= acked {
		from = acked + 1
	}
	if from >= to {
		return nil
	}
	s.stats.Lost += int64(to - from)
	s.log.Error("spool: records lost to corruption", "before", path, "first", from, "last", to-1, "count", to-from)
	return nil
}

// scanResult is what scanSegment found in a segment.
type scanResult struct {
	seg          *segment
	next         uint64 // sequence number after the last valid record
	pending      int64  // records after the checkpoint
	pendingBytes int64
	firstUnacked int64 // offset of the first record after the checkpoint, or -1
	firstSeq     uint64
	truncated    int64
}

// scanSegment checks every frame of sg, sets its size and largest body,
// and cuts a torn tail if last is set.
func (s *Spool) scanSegment(rd *frameReader, sg *segment, last bool, acked uint64) (scanResult, error) {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(sg.path, flag, 0)
	if err != nil {
		return scanResult{}, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return scanResult{}, fmt.Errorf("spool: %w", err)
	}
	fsize := st.Size()

	res := scanResult{seg: sg, next: sg.first, firstUnacked: -1}
	hdr := make([]byte, segHeaderSize)
	n, err := f.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("spool: read %s: %w", sg.path, err)
	}
	sg.maxBody, err = parseSegHeader(hdr[:n], sg.first)
	if err != nil {
		switch {
		case last && allZero(hdr[:n]):
			// Created, but the header never reached the disk.
			s.log.Warn("spool: rewrote the torn header of the last segment", "file", sg.path, "offset", 0, "bytes", fsize)
			sg.maxBody, sg.size, res.truncated = s.o.MaxRecord, segHeaderSize, fsize
			return res, s.rewriteHeader(f, sg)
		case !last && s.o.SkipCorrupt:
			// The next segment's name tells how many records are lost.
			s.log.Error("spool: skipping segment with a damaged header", "file", sg.path, "offset", 0, "reason", err)
			sg.size = segHeaderSize
			return res, nil
		}
		return res, &CorruptError{Path: sg.path, Reason: err.Error()}
	}

	type mark struct {
		off                int64
		seq                uint64
		pending, pendBytes int64
		firstUnacked       int64
		firstSeq           uint64
	}
	cur := mark{off: segHeaderSize, seq: sg.first, firstUnacked: -1}
	commit := cur // after the last record that ended a batch
	reason := ""
	rd.reset(f)
	for cur.off < fsize {
		fr, err := rd.next(cur.off, fsize, sg.maxBody)
		if fe := (*frameError)(nil); errors.As(err, &fe) {
			reason = fe.reason
			break
		} else if err != nil {
			return res, fmt.Errorf("spool: read %s: %w", sg.path, err)
		}
		if fr.seq != cur.seq {
			reason = fmt.Sprintf("sequence number %d, want %d", fr.seq, cur.seq)
			break
		}
		if fr.seq > acked {
			if cur.firstUnacked < 0 {
				cur.firstUnacked, cur.firstSeq = cur.off, cur.seq
			}
			cur.pending++
			cur.pendBytes += fr.size
		}
		cur.off += fr.size
		cur.seq++
		if fr.flags&flagBatchEnd != 0 {
			commit = cur
		}
	}

	end := cur
	switch {
	case reason == "" && commit == cur:
		// Clean.
	case last:
		if reason == "" {
			reason = "the last batch is incomplete"
		}
		s.log.Warn("spool: cut the torn tail of the last segment", "file", sg.path, "offset", commit.off, "bytes", fsize-commit.off, "reason", reason)
		if err := f.Truncate(commit.off); err != nil {
			return res, fmt.Errorf("spool: truncate %s: %w", sg.path, err)
		}
		if err := s.o.syncFile(f); err != nil {
			return res, fmt.Errorf("spool: sync %s: %w", sg.path, err)
		}
		res.truncated = fsize - commit.off
		end = commit
	default:
		off := cur.off
		if reason == "" {
			reason, off = "the segment ends inside a batch", commit.off
		}
		if !s.o.SkipCorrupt {
			return res, &CorruptError{Path: sg.path, Offset: off, Reason: reason}
		}
		// Every record before the damage was synced; deliver them.
		s.log.Error("spool: skipping the rest of a damaged segment", "file", sg.path, "offset", off, "reason", reason)
	}
	sg.size = end.off
	res.next = end.seq
	res.pending, res.pendingBytes = end.pending, end.pendBytes
	res.firstUnacked, res.firstSeq = end.firstUnacked, end.firstSeq
	return res, nil
}

// rewriteHeader replaces the content of the last segment f with a header.
func (s *Spool) rewriteHeader(f *os.File, sg *segment) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("spool: truncate %s: %w", sg.path, err)
	}
	if _, err := f.WriteAt(segHeader(sg.first, sg.maxBody), 0); err != nil {
		return fmt.Errorf("spool: write %s: %w", sg.path, err)
	}
	if err := s.o.syncFile(f); err != nil {
		return fmt.Errorf("spool: sync %s: %w", sg.path, err)
	}
	return nil
}

// openWriter opens the last segment for appending the record with sequence
// number next, or starts a new segment when there is none, when the
// checkpoint is ahead of the records on disk, or when the last segment
// allows smaller bodies than Options.MaxRecord.
func (s *Spool) openWriter(next, acked uint64) error {
	first := max(next, acked+1)
	var last *segment
	if n := len(s.segs); n > 0 {
		last = s.segs[n-1]
	}
	if last != nil && first == next && last.maxBody >= s.o.MaxRecord {
		f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		// A killed process's last records may be only in the page
		// cache: sync them before the checkpoint may cover them.
		if err := s.o.syncFile(f); err != nil {
			f.Close()
			return fmt.Errorf("spool: sync %s: %w", last.path, err)
		}
		s.w.f, s.w.seg, s.w.size, s.w.next = f, last, last.size, next
		return nil
	}
	if first > next {
		s.log.Warn("spool: the checkpoint is ahead of the records on disk", "dir", s.dir, "checkpoint", acked, "last", next-1)
	}
	if last != nil && last.size == segHeaderSize {
		// Empty: replace it rather than keep it.
		if err := os.Remove(last.path); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.segs = s.segs[:len(s.segs)-1]
	}
	seg, f, err := createSegment(s.dir, first, s.o.MaxRecord, s.o.NoSync)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := s.o.syncFile(f); err != nil {
		f.Close()
		return fmt.Errorf("spool: sync %s: %w", seg.path, err)
	}
	s.segs = append(s.segs, seg)
	s.w.f, s.w.seg, s.w.size, s.w.next = f, seg, segHeaderSize, first
	return nil
}

// listSegments returns the segment files of dir, oldest first. Files with
// other names are ignored.
func listSegments(dir string) ([]*segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var segs []*segment
	for _, e := range ents {
		if first, ok := parseSegName(e.Name()); ok {
			segs = append(segs, &segment{first: first, path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(segs, func(a, b *segment) int { return cmp.Compare(a.first, b.first) })
	return segs, nil
}

// parseSegName returns the first sequence number in a segment file name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(digits) != 20 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	first, err := strconv.ParseUint(digits, 10, 64)
	return first, err == nil
}
