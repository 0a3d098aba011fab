package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to Open and Next as a segment file, the
// last one or one followed by a valid segment. Whatever the bytes, nothing
// may panic, allocation stays within a bound set by the file size (not by
// lengths read from it), and a spool that opens must deliver every record
// it kept and go on appending.
func FuzzOpen(f *testing.F) {
	valid := validSegment(f)
	f.Add(valid, false, false)
	f.Add(valid, true, false)
	f.Add(valid[:len(valid)-3], false, false)
	f.Add(valid[:len(valid)-3], true, true)
	f.Add(valid[:segHeaderSize+frameHeaderSize+2], false, false)
	f.Add(valid[:segHeaderSize], true, false)
	f.Add([]byte{}, false, false)
	f.Add(make([]byte, 100), true, true)
	huge := append([]byte(nil), valid...)
	huge[segHeaderSize+7] = 0x7f // body length ~2 GiB
	f.Add(huge, false, true)

	f.Fuzz(func(t *testing.T, data []byte, middle, skip bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if middle {
			if err := os.WriteFile(filepath.Join(dir, segName(1000)), segHeader(1000, 1<<20), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		o := Options{NoSync: true, SkipCorrupt: skip}

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := Open(dir, o)
		var n int
		if err == nil {
			n = len(readAll(t, s))
		}
		runtime.ReadMemStats(&after)
		if limit := uint64(4<<20 + 4*len(data)); after.TotalAlloc-before.TotalAlloc > limit {
			t.Errorf("Open and Next allocated %d bytes for a %d-byte file, limit %d", after.TotalAlloc-before.TotalAlloc, len(data), limit)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want nil or a *CorruptError", err)
			}
			return
		}

		if err := s.Append(context.Background(), rec(1)); err != nil {
			t.Fatalf("Append after Open = %v", err)
		}
		e, err := s.Next(cancelled)
		if err != nil || string(e.Body) != string(rec(1).Body) {
			t.Fatalf("Next = %q, %v, want the record appended", e.Body, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// What Open kept opens again, the same.
		s, err = Open(dir, o)
		if err != nil {
			t.Fatalf("second Open = %v", err)
		}
		defer s.Close()
		if got := len(readAll(t, s)); got != n+1 {
			t.Fatalf("second Open delivered %d records, want %d", got, n+1)
		}
	})
}

// validSegment returns the bytes of a segment holding a few records.
func validSegment(tb testing.TB) []byte {
	dir := tb.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Append(ctx, rec(1), rec(2)); err != nil {
		tb.Fatal(err)
	}
	if err := s.Append(ctx, rec(3)); err != nil {
		tb.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(filepath.Join(dir, segName(1)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
