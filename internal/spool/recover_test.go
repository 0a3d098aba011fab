package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// build writes a spool in a new directory with one Append per batch size,
// closes it and returns the directory.
func build(t *testing.T, o Options, batches ...int) string {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir, o)
	n := 0
	for _, size := range batches {
		var recs []Record
		for range size {
			recs = append(recs, rec(n))
			n++
		}
		if err := s.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, sg := range segs {
		paths = append(paths, sg.path)
	}
	return paths
}

// copyDir copies the files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// logBuffer returns options logging to a buffer.
func logBuffer(o Options) (Options, *bytes.Buffer) {
	var buf bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	return o, &buf
}

// TestTornTail cuts or damages the last batch of the last segment at every
// byte: Open must drop that batch whole, keep everything before it, warn
// with the file and offset, and carry on appending after it.
func TestTornTail(t *testing.T) {
	tests := []struct {
		name    string
		batches []int // the last is the one damaged
		damage  func(b []byte, at int) []byte
	}{
		{"cut one record", []int{1, 2, 1}, func(b []byte, at int) []byte { return b[:at] }},
		{"cut batch of three", []int{1, 2, 3}, func(b []byte, at int) []byte { return b[:at] }},
		{"flip one record", []int{3, 1}, flip},
		{"flip batch of two", []int{2, 2}, flip},
		{"zero tail", []int{1, 2}, func(b []byte, at int) []byte {
			clear(b[at:])
			return b
		}},
		{"zero page", []int{1, 2}, func(b []byte, at int) []byte { return append(b[:at], make([]byte, 4096)...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t)
			src := build(t, o, tc.batches...)
			seg := segFiles(t, src)[0]
			orig, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for _, n := range tc.batches[:len(tc.batches)-1] {
				kept += n
			}
			total := kept + tc.batches[len(tc.batches)-1]
			// The last batch starts where the kept records end.
			start := segHeaderSize
			for i := range kept {
				r := rec(i)
				start += int(frameSize(&r))
			}
			for at := start; at < len(orig); at++ {
				dir := copyDir(t, src)
				path := filepath.Join(dir, filepath.Base(seg))
				damaged := tc.damage(bytes.Clone(orig), at)
				if err := os.WriteFile(path, damaged, 0o600); err != nil {
					t.Fatal(err)
				}
				o, logs := logBuffer(o)
				s, err := Open(dir, o)
				if err != nil {
					t.Fatalf("damage at %d: Open = %v", at, err)
				}
				es := readAll(t, s)
				if got := bodies(es); !equalStrings(got, wantBodies(0, kept)) {
					t.Fatalf("damage at %d: read %q, want %q", at, got, wantBodies(0, kept))
				}
				wantLog := fmt.Sprintf("file=%s offset=%d", path, start)
				torn := !bytes.Equal(damaged, orig[:start])
				if torn && (!strings.Contains(logs.String(), wantLog) || !strings.Contains(logs.String(), "level=WARN")) {
					t.Fatalf("damage at %d: log %q, want a warning with %q", at, logs, wantLog)
				}
				if fi, err := os.Stat(path); err != nil || fi.Size() != int64(start) {
					t.Fatalf("damage at %d: file is %d bytes (%v), want cut to %d", at, fi.Size(), err, start)
				}
				// Appending goes on from the cut, with the next sequence number.
				appendN(t, s, total, 1)
				s.Close()
				s = open(t, dir, o)
				es = readAll(t, s)
				if len(es) != kept+1 || es[kept].Pos.Seq != uint64(kept+1) || string(es[kept].Body) != string(rec(total).Body) {
					t.Fatalf("damage at %d: after append read %d records, want %d ending with Seq %d", at, len(es), kept+1, kept+1)
				}
				s.Close()
			}
		})
	}
}

func flip(b []byte, at int) []byte {
	b[at] ^= 0x40
	return b
}

// TestTornHeader: a last segment whose header never reached the disk is
// started again.
func TestTornHeader(t *testing.T) {
	for _, size := range []int{0, 10, segHeaderSize, 100} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		s := open(t, dir, testOptions(t))
		appendN(t, s, 0, 2)
		s.Close()
		s = open(t, dir, testOptions(t))
		checkBodies(t, readAll(t, s), 0, 2)
		s.Close()
	}
}

// TestCorrupt damages segments other than the last, the checkpoint or the
// set of files: Open must fail naming the file and offset, or with
// SkipCorrupt deliver what is left and count the loss.
func TestCorrupt(t *testing.T) {
	r := rec(0)
	fs := int(frameSize(&r)) // every test record has the same size
	// Segments of 3 batches of 2 records: 1-6, 7-12, 13-18, 19-20.
	batches := []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2}
	segBytes := int64(segHeaderSize + 6*fs)
	tests := []struct {
		name       string
		damage     func(t *testing.T, dir string, segs []string)
		file       int   // segment named in the error; -1: the checkpoint
		offset     int64 // in the error
		delivered  []int // records (0-based) delivered with SkipCorrupt
		lost       int64
		noSkipping bool // SkipCorrupt does not help
	}{
		{
			name: "bad CRC",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[1], func(b []byte) []byte { return flip(b, segHeaderSize+2*fs+40) })
			},
			file:      1,
			offset:    int64(segHeaderSize + 2*fs),
			delivered: append(seq(0, 8), seq(12, 8)...),
			lost:      4,
		},
		{
			name: "bad length",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[0], func(b []byte) []byte { return flip(b, segHeaderSize+fs+6) })
			},
			file:      0,
			offset:    int64(segHeaderSize + fs),
			delivered: append(seq(0, 1), seq(6, 14)...),
			lost:      5,
		},
		{
			name: "cut between batches",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[1], func(b []byte) []byte { return b[:segHeaderSize+4*fs] })
			},
			file:      2,
			offset:    0,
			delivered: append(seq(0, 10), seq(12, 8)...),
			lost:      2,
		},
		{
			name: "cut inside a batch",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[1], func(b []byte) []byte { return b[:segHeaderSize+3*fs] })
			},
			file:      1,
			offset:    int64(segHeaderSize + 2*fs),
			delivered: append(seq(0, 9), seq(12, 8)...),
			lost:      3,
		},
		{
			name: "cut inside a frame",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[0], func(b []byte) []byte { return b[:len(b)-5] })
			},
			file:      0,
			offset:    int64(segHeaderSize + 5*fs),
			delivered: append(seq(0, 5), seq(6, 14)...),
			lost:      1,
		},
		{
			name:      "segment missing",
			damage:    func(t *testing.T, dir string, segs []string) { remove(t, segs[1]) },
			file:      1, // named after removal: the next one
			offset:    0,
			delivered: append(seq(0, 6), seq(12, 8)...),
			lost:      6,
		},
		{
			name: "bad segment header",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[1], func(b []byte) []byte { return flip(b, 20) })
			},
			file:      1,
			offset:    0,
			delivered: append(seq(0, 6), seq(12, 8)...),
			lost:      6,
		},
		{
			name: "wrong sequence number",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[2], func(b []byte) []byte {
					fr := b[segHeaderSize+fs : segHeaderSize+2*fs]
					seq := binary.LittleEndian.Uint64(fr[16:]) + 1
					sealFrame(fr[:frameHeaderSize], seq, fr[13], crc32.Checksum(fr[frameHeaderSize:], castagnoli))
					return b
				})
			},
			file:      2,
			offset:    int64(segHeaderSize + fs),
			delivered: append(seq(0, 13), seq(18, 2)...),
			lost:      5,
		},
		{
			name: "bad checkpoint",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, filepath.Join(dir, checkpointName), func(b []byte) []byte { return flip(b, 9) })
			},
			file:       -1,
			noSkipping: true,
		},
		{
			name: "not a segment",
			damage: func(t *testing.T, dir string, segs []string) {
				modify(t, segs[3], func(b []byte) []byte { return append([]byte("hello"), b...) })
			},
			file:       3,
			noSkipping: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t)
			o.SegmentBytes = segBytes
			dir := build(t, o, batches...)
			if err := writeCheckpoint(dir, 0, true); err != nil {
				t.Fatal(err)
			}
			segs := segFiles(t, dir)
			if len(segs) != 4 {
				t.Fatalf("%d segments, want 4", len(segs))
			}
			tc.damage(t, dir, segs)
			segs = segFiles(t, dir)
			wantPath := filepath.Join(dir, checkpointName)
			if tc.file >= 0 {
				wantPath = segs[tc.file]
			}

			_, err := Open(dir, o)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want a *CorruptError", err)
			}
			if ce.Path != wantPath || ce.Offset != tc.offset || !strings.Contains(err.Error(), wantPath) {
				t.Errorf("Open = %v, want file %s offset %d", err, wantPath, tc.offset)
			}

			o.SkipCorrupt = true
			o, logs := logBuffer(o)
			s, err := Open(dir, o)
			if tc.noSkipping {
				if err == nil {
					s.Close()
					t.Fatal("Open with SkipCorrupt = nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open with SkipCorrupt = %v", err)
			}
			defer s.Close()
			var want []string
			for _, i := range tc.delivered {
				want = append(want, string(rec(i).Body))
			}
			if got := bodies(readAll(t, s)); !equalStrings(got, want) {
				t.Errorf("read %q, want %q", got, want)
			}
			if st := s.Stats(); st.Lost != tc.lost {
				t.Errorf("Stats().Lost = %d, want %d", st.Lost, tc.lost)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("log %q, want an error", logs)
			}
		})
	}
}

func seq(from, n int) []int {
	var s []int
	for i := from; i < from+n; i++ {
		s = append(s, i)
	}
	return s
}

func modify(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
