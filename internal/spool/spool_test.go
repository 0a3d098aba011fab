package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 123456789, time.UTC)

// testOptions are fast options: no fsync, logs to the test's output.
func testOptions(t testing.TB) Options {
	return Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
}

func open(t testing.TB, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rec returns record i of a test stream; its body holds i.
func rec(i int) Record {
	return Record{
		Source:   "http",
		Name:     fmt.Sprintf("http 10.0.0.1 #%06d", i),
		Received: t0.Add(time.Duration(i)),
		Body:     fmt.Appendf(nil, "body-%06d", i),
	}
}

func appendN(t testing.TB, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatalf("Append(rec(%d)) = %v", i, err)
		}
	}
}

// cancelled is a context that has ended: Next with it returns a record only
// if one is available, without waiting.
var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// readAll returns every record available now.
func readAll(t testing.TB, s *Spool) []Entry {
	t.Helper()
	var es []Entry
	for {
		e, err := s.Next(cancelled)
		if errors.Is(err, context.Canceled) {
			return es
		}
		if err != nil {
			t.Fatalf("Next = %v after %d records", err, len(es))
		}
		es = append(es, e)
	}
}

// bodies returns the bodies of es as strings.
func bodies(es []Entry) []string {
	var bs []string
	for _, e := range es {
		bs = append(bs, string(e.Body))
	}
	return bs
}

func wantBodies(from, n int) []string {
	var bs []string
	for i := from; i < from+n; i++ {
		bs = append(bs, string(rec(i).Body))
	}
	return bs
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n") && len(a) == len(b)
}

func checkBodies(t testing.TB, es []Entry, from, n int) {
	t.Helper()
	if got, want := bodies(es), wantBodies(from, n); !equalStrings(got, want) {
		t.Fatalf("read %d records %.80q, want %d records %.80q", len(got), got, len(want), want)
	}
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	tests := []struct {
		name string
		recs []Record
	}{
		{"one", []Record{rec(1)}},
		{"batch", []Record{rec(1), rec(2), rec(3)}},
		{"empty fields", []Record{{}}},
		{"empty body", []Record{{Source: "sns", Name: "n", Received: t0}}},
		{"limits", []Record{{
			Source:   strings.Repeat("s", maxSource),
			Name:     strings.Repeat("n", maxName),
			Received: t0,
			Body:     big,
		}}},
		{"times", []Record{
			{Received: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)},
			{Received: time.Date(3000, 1, 1, 0, 0, 0, 999999999, time.UTC)},
			{Received: time.Date(2026, 12, 5, 13, 0, 0, 5, time.FixedZone("CET", 3600))},
		}},
		{"binary", []Record{{Source: "\x00\xff", Name: "\x00", Body: []byte{0, 1, 2, 255}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t)
			o.MaxRecord = int64(len(big))
			dir := t.TempDir()
			for _, restart := range []bool{false, true} {
				s := open(t, dir, o)
				if !restart {
					if err := s.Append(context.Background(), tc.recs...); err != nil {
						t.Fatalf("Append = %v", err)
					}
				}
				es := readAll(t, s)
				if len(es) != len(tc.recs) {
					t.Fatalf("restart %v: read %d records, want %d", restart, len(es), len(tc.recs))
				}
				for i, e := range es {
					w := tc.recs[i]
					if e.Source != w.Source || e.Name != w.Name || !bytes.Equal(e.Body, w.Body) ||
						!e.Received.Equal(w.Received) || e.Received.Location() != time.UTC {
						t.Errorf("restart %v: record %d = %.40q %.40q %v %.40q, want %.40q %.40q %v %.40q", restart, i,
							e.Source, e.Name, e.Received, e.Body, w.Source, w.Name, w.Received, w.Body)
					}
					if e.Pos.Seq != uint64(i+1) {
						t.Errorf("restart %v: record %d Seq = %d, want %d", restart, i, e.Pos.Seq, i+1)
					}
				}
				if err := s.Close(); err != nil {
					t.Fatalf("Close = %v", err)
				}
			}
		})
	}
}

func TestAppendLimits(t *testing.T) {
	o := testOptions(t)
	o.MaxRecord = 100
	o.MaxBytes = 1000
	s := open(t, t.TempDir(), o)
	tests := []struct {
		name string
		recs []Record
		want error
	}{
		{"body at limit", []Record{{Body: make([]byte, 100)}}, nil},
		{"body beyond limit", []Record{{Body: make([]byte, 101)}}, ErrTooLarge},
		{"source beyond limit", []Record{{Source: strings.Repeat("s", 256)}}, ErrTooLarge},
		{"name beyond limit", []Record{{Name: strings.Repeat("n", maxName+1)}}, ErrTooLarge},
		{"one bad in batch", []Record{rec(1), {Body: make([]byte, 101)}}, ErrTooLarge},
		{"batch beyond MaxBytes", []Record{{Body: make([]byte, 100)}, {Body: make([]byte, 100)}, {Body: make([]byte, 100)},
			{Body: make([]byte, 100)}, {Body: make([]byte, 100)}, {Body: make([]byte, 100)}, {Body: make([]byte, 100)},
			{Body: make([]byte, 100)}}, ErrTooLarge},
		{"no records", nil, nil},
	}
	for _, tc := range tests {
		before := s.Stats()
		err := s.Append(context.Background(), tc.recs...)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Append = %v, want %v", tc.name, err, tc.want)
		}
		if after := s.Stats(); err != nil && after.Pending != before.Pending {
			t.Errorf("%s: failed Append changed Pending from %d to %d", tc.name, before.Pending, after.Pending)
		}
	}
	if es := readAll(t, s); len(es) != 1 {
		t.Errorf("read %d records, want the 1 accepted", len(es))
	}
	if err := s.Append(cancelled, rec(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	tests := []Options{
		{MaxBytes: -1},
		{SegmentBytes: -1},
		{MaxRecord: -1},
		{MaxRecord: maxRecordLimit + 1},
		{CheckpointEvery: -time.Second},
	}
	for _, o := range tests {
		if s, err := Open(t.TempDir(), o); err == nil {
			s.Close()
			t.Errorf("Open(%+v) = nil error, want one", o)
		}
	}
}

func TestSegments(t *testing.T) {
	o := testOptions(t)
	o.SegmentBytes = 512
	dir := t.TempDir()
	s := open(t, dir, o)
	// Batches of 1 to 7 records, a batch larger than a segment, and one
	// more record; starts has the sequence number of each batch's first.
	var starts []uint64
	n := 0
	add := func(size int) {
		starts = append(starts, uint64(n+1))
		var recs []Record
		for i := range size {
			recs = append(recs, rec(n+i))
		}
		if err := s.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
		n += size
	}
	for size := 1; n < 300; size = size%7 + 1 {
		add(size)
	}
	add(20)
	add(1)

	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 10 {
		t.Fatalf("%d segments, want many with SegmentBytes %d", len(segs), o.SegmentBytes)
	}
	if st := s.Stats(); st.Segments != len(segs) {
		t.Errorf("Stats().Segments = %d, want %d", st.Segments, len(segs))
	}
	for i, sg := range segs {
		// The batches in sg are those from its first to the next segment's.
		j, ok := slices.BinarySearch(starts, sg.first)
		if !ok {
			t.Errorf("segment %s starts inside a batch", filepath.Base(sg.path))
			continue
		}
		batches := len(starts) - j
		if i+1 < len(segs) {
			k, _ := slices.BinarySearch(starts, segs[i+1].first)
			batches = k - j
		}
		fi, err := os.Stat(sg.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > o.SegmentBytes && batches > 1 {
			t.Errorf("segment %s is %d bytes, beyond SegmentBytes %d, with %d batches", filepath.Base(sg.path), fi.Size(), o.SegmentBytes, batches)
		}
	}
	checkBodies(t, readAll(t, s), 0, n)

	// Reading again after a restart crosses the same segments.
	s.Close()
	s = open(t, dir, o)
	es := readAll(t, s)
	checkBodies(t, es, 0, n)

	// Acking all and checkpointing deletes every segment but the last.
	if err := s.Ack(es[len(es)-1].Pos); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if segs, _ := listSegments(dir); len(segs) != 1 {
		t.Errorf("%d segments after acking everything, want 1", len(segs))
	}
	s = open(t, dir, o)
	if es := readAll(t, s); len(es) != 0 {
		t.Errorf("read %d records after acking everything, want 0", len(es))
	}
	appendN(t, s, n, 1)
	if es := readAll(t, s); len(es) != 1 || es[0].Pos.Seq != uint64(n+1) {
		t.Errorf("after reopen read %v, want one record with Seq %d", es, n+1)
	}
}

func TestRestart(t *testing.T) {
	// Each case appends 10 records, reads them, acks up to ack (0: none)
	// and stops the spool as stop says; then Next must return from want.
	tests := []struct {
		name string
		ack  int
		stop func(s *Spool)
		want int // first record delivered again (1-based); 11: none
	}{
		{"close, nothing acked", 0, func(s *Spool) { s.Close() }, 1},
		{"close after ack", 4, func(s *Spool) { s.Close() }, 5},
		{"close after acking all", 10, func(s *Spool) { s.Close() }, 11},
		{"crash, nothing acked", 0, crash, 1},
		{"crash before checkpoint", 4, crash, 1},
		{"crash half a period after ack", 4, func(s *Spool) { time.Sleep(s.o.CheckpointEvery / 2); crash(s) }, 1},
		{"crash a period after ack", 4, func(s *Spool) { time.Sleep(s.o.CheckpointEvery + time.Millisecond); crash(s) }, 5},
		{"crash after acking all", 10, func(s *Spool) { time.Sleep(s.o.CheckpointEvery + time.Millisecond); crash(s) }, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Time is the bubble's: the checkpoint ticker fires exactly.
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				o := testOptions(t)
				s := open(t, dir, o)
				appendN(t, s, 1, 10)
				es := readAll(t, s)
				checkBodies(t, es, 1, 10)
				if tc.ack > 0 {
					if err := s.Ack(es[tc.ack-1].Pos); err != nil {
						t.Fatal(err)
					}
				}
				tc.stop(s)

				s = open(t, dir, o)
				es = readAll(t, s)
				checkBodies(t, es, tc.want, 11-tc.want)
				if st := s.Stats(); st.Recovered != int64(11-tc.want) || st.Pending != int64(11-tc.want) {
					t.Errorf("Stats() Recovered %d, Pending %d, want %d", st.Recovered, st.Pending, 11-tc.want)
				}
				for i, e := range es {
					if want := uint64(tc.want + i); e.Pos.Seq != want {
						t.Errorf("Seq = %d, want %d", e.Pos.Seq, want)
					}
				}
				// New records continue the sequence.
				appendN(t, s, 11, 1)
				if es := readAll(t, s); len(es) != 1 || es[0].Pos.Seq != 11 {
					t.Errorf("new record: read %v, want Seq 11", es)
				}
				s.Close()
			})
		})
	}
}

// crash stops s as a kill -9 would: nothing more is persisted.
func crash(s *Spool) {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown(false) })
}

func TestFull(t *testing.T) {
	o := testOptions(t)
	r := rec(0)
	o.MaxBytes = 3 * frameSize(&r)
	s := open(t, t.TempDir(), o)
	appendN(t, s, 0, 3)
	if err := s.Append(context.Background(), rec(3)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append beyond MaxBytes = %v, want ErrFull", err)
	}
	st := s.Stats()
	if st.Full != 1 || st.Pending != 3 || st.PendingBytes != o.MaxBytes {
		t.Errorf("Stats() = Full %d Pending %d PendingBytes %d, want 1, 3, %d", st.Full, st.Pending, st.PendingBytes, o.MaxBytes)
	}
	// Reading frees nothing; acking does.
	e, err := s.Next(cancelled)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), rec(3)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append after Next = %v, want ErrFull", err)
	}
	if err := s.Ack(e.Pos); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), rec(3)); err != nil {
		t.Fatalf("Append after Ack = %v", err)
	}
	if err := s.Append(context.Background(), rec(4)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append = %v, want ErrFull", err)
	}
	checkBodies(t, readAll(t, s), 1, 3)
}

func TestAck(t *testing.T) {
	s := open(t, t.TempDir(), testOptions(t))
	appendN(t, s, 0, 5)
	es := readAll(t, s)
	if err := s.Ack(Pos{Seq: 3}); err == nil {
		t.Error("Ack of a made-up Pos = nil, want an error")
	}
	if err := s.Ack(es[2].Pos); err != nil {
		t.Fatalf("Ack(es[2]) = %v", err)
	}
	if err := s.Ack(es[1].Pos); err != nil {
		t.Errorf("Ack of an older Pos = %v, want nil (no-op)", err)
	}
	if st := s.Stats(); st.Acked != 3 || st.Pending != 2 {
		t.Errorf("Stats() Acked %d Pending %d, want 3, 2", st.Acked, st.Pending)
	}
	appendN(t, s, 5, 1)
	if err := s.Ack(Pos{Seq: 6, idx: 6, end: es[4].Pos.end + 1}); err == nil {
		t.Error("Ack of a record not yet returned by Next = nil, want an error")
	}
	if err := s.Ack(es[4].Pos); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Acked != 5 || st.Pending != 1 {
		t.Errorf("Stats() Acked %d Pending %d, want 5, 1", st.Acked, st.Pending)
	}
}

func TestNextWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := open(t, t.TempDir(), testOptions(t))
		type result struct {
			e   Entry
			err error
		}
		got := make(chan result, 1)
		go func() {
			e, err := s.Next(context.Background())
			got <- result{e, err}
		}()
		synctest.Wait()
		select {
		case r := <-got:
			t.Fatalf("Next returned %v, %v before any Append", r.e, r.err)
		default:
		}
		appendN(t, s, 7, 1)
		if r := <-got; r.err != nil || string(r.e.Body) != string(rec(7).Body) {
			t.Fatalf("Next = %q, %v, want %q", r.e.Body, r.err, rec(7).Body)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Next waited %v, want 1s", d)
		}

		go func() {
			_, err := s.Next(context.Background())
			got <- result{err: err}
		}()
		synctest.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if r := <-got; !errors.Is(r.err, ErrClosed) {
			t.Fatalf("Next waiting at Close = %v, want ErrClosed", r.err)
		}
	})
}

func TestClose(t *testing.T) {
	// In a bubble, synctest.Test fails if a goroutine outlives Close.
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, s, 0, 3)
		es := readAll(t, s)
		if err := s.Ack(es[0].Pos); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		if err := s.Append(context.Background(), rec(9)); !errors.Is(err, ErrClosed) {
			t.Errorf("Append after Close = %v, want ErrClosed", err)
		}
		if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
		if err := s.Ack(es[1].Pos); !errors.Is(err, ErrClosed) {
			t.Errorf("Ack after Close = %v, want ErrClosed", err)
		}
		s, err = Open(dir, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		checkBodies(t, readAll(t, s), 1, 2)
		s.Close()
	})
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, testOptions(t))
	if s2, err := Open(dir, testOptions(t)); !errors.Is(err, ErrLocked) {
		if err == nil {
			s2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	s.Close()
	s = open(t, dir, testOptions(t))
	s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "new", "spool")
	open(t, sub, testOptions(t)).Close()
	if fi, err = os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

func TestMaxRecordChange(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t)
	o.MaxRecord = 1000
	s := open(t, dir, o)
	appendN(t, s, 0, 1)
	s.Close()

	o.MaxRecord = 3000
	s = open(t, dir, o)
	big := Record{Body: make([]byte, 3000)}
	if err := s.Append(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	s.Close()

	o.MaxRecord = 1000
	s = open(t, dir, o)
	es := readAll(t, s)
	if len(es) != 2 || len(es[1].Body) != 3000 {
		t.Fatalf("read %d records, want 2, the second of 3000 bytes", len(es))
	}
	if segs, _ := listSegments(dir); len(segs) != 2 {
		t.Errorf("%d segments, want 2: raising MaxRecord starts a segment", len(segs))
	}
}

func TestCheckpointAhead(t *testing.T) {
	dir := t.TempDir()
	if err := writeCheckpoint(dir, 1000, true); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, testOptions(t))
	appendN(t, s, 0, 1)
	if es := readAll(t, s); len(es) != 1 || es[0].Pos.Seq != 1001 {
		t.Fatalf("read %v, want one record with Seq 1001", es)
	}
}
