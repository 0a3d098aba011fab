package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const (
	checkpointName  = "checkpoint"
	checkpointMagic = "VGLCHKPT"
	checkpointSize  = 20
)

// readCheckpoint returns the acked sequence number persisted in dir, 0 if
// there is none.
func readCheckpoint(dir string) (uint64, error) {
	path := filepath.Join(dir, checkpointName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	bad := func(reason string) error {
		return &CorruptError{Path: path, Reason: reason + " (delete the file to deliver every record on disk again)"}
	}
	switch {
	case len(b) != checkpointSize:
		return 0, bad(fmt.Sprintf("checkpoint is %d bytes, want %d", len(b), checkpointSize))
	case string(b[:8]) != checkpointMagic:
		return 0, bad("not a checkpoint file")
	case crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]):
		return 0, bad("checkpoint CRC mismatch")
	}
	return binary.LittleEndian.Uint64(b[8:]), nil
}

// writeCheckpoint atomically replaces the checkpoint file of dir.
func writeCheckpoint(dir string, seq uint64, noSync bool) error {
	b := make([]byte, checkpointSize)
	copy(b, checkpointMagic)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))

	path := filepath.Join(dir, checkpointName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && !noSync {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// checkpointLoop persists the acked position every CheckpointEvery until
// the spool closes.
func (s *Spool) checkpointLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.CheckpointEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		err := s.checkpoint()
		switch {
		case err != nil && !failing:
			s.log.Error("spool: checkpoint failed; acked records will be delivered again after a restart", "dir", s.dir, "err", err)
		case err == nil && failing:
			s.log.Info("spool: checkpoint written again", "dir", s.dir)
		}
		failing = err != nil
	}
}

// checkpoint persists the acked position if it moved, then deletes the
// segments wholly at or before it.
func (s *Spool) checkpoint() error {
	s.ckmu.Lock()
	defer s.ckmu.Unlock()
	s.mu.Lock()
	// Not beyond what is synced: after a machine crash the checkpoint
	// must not claim records the segments lost.
	seq, persisted := min(s.acked.Seq, s.synced), s.ckptSeq
	s.mu.Unlock()
	if seq == persisted {
		return nil
	}
	if err := writeCheckpoint(s.dir, seq, s.o.NoSync); err != nil {
		return fmt.Errorf("spool: checkpoint: %w", err)
	}
	s.mu.Lock()
	s.ckptSeq = seq
	var drop []*segment
	for len(s.segs) > 1 && s.segs[1].first <= seq+1 {
		drop = append(drop, s.segs[0])
		s.segs = s.segs[1:]
	}
	s.mu.Unlock()
	return s.removeSegments(drop)
}

// removeSegments deletes the files of segs, which are no longer in s.segs.
// A file that survives a crash is deleted again by the next Open.
func (s *Spool) removeSegments(segs []*segment) error {
	var errs []error
	for _, sg := range segs {
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: delete acked segments: %w", err)
	}
	return nil
}
