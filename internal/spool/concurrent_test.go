package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestConcurrent runs appenders against a reader that acks as it goes,
// through segment rolls, checkpoints and ErrFull, and checks that every
// record arrives once, each writer's in its order.
func TestConcurrent(t *testing.T) {
	tests := []struct {
		name     string
		noSync   bool
		writers  int
		perBatch int
		batches  int
	}{
		{"no sync", true, 16, 7, 150},
		{"sync", false, 8, 5, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(t)
			o.NoSync = tc.noSync
			o.SegmentBytes = 16 << 10
			o.MaxBytes = 32 << 10 // small enough for ErrFull to happen
			o.CheckpointEvery = time.Millisecond
			s := open(t, dir, o)

			total := tc.writers * tc.perBatch * tc.batches
			var wg sync.WaitGroup
			var full atomic.Int64
			// The reader starts once the spool was full, so that ErrFull
			// surely happens.
			fullSeen := make(chan struct{})
			var fullOnce sync.Once
			for w := range tc.writers {
				wg.Go(func() {
					for b := range tc.batches {
						recs := make([]Record, tc.perBatch)
						for i := range recs {
							recs[i] = Record{Source: "t", Body: fmt.Appendf(nil, "%d %d", w, b*tc.perBatch+i)}
						}
						for {
							err := s.Append(context.Background(), recs...)
							if errors.Is(err, ErrFull) {
								full.Add(1)
								fullOnce.Do(func() { close(fullSeen) })
								runtime.Gosched()
								continue
							}
							if err != nil {
								t.Errorf("Append = %v", err)
								return
							}
							break
						}
					}
				})
			}

			go func() {
				wg.Wait() // in case no writer got to see ErrFull
				fullOnce.Do(func() { close(fullSeen) })
			}()
			<-fullSeen
			next := make([]int, tc.writers) // next number expected from each writer
			var lastSeq uint64
			for n := range total {
				e, err := s.Next(t.Context())
				if err != nil {
					t.Fatalf("Next = %v after %d records", err, n)
				}
				var w, i int
				if _, err := fmt.Sscanf(string(e.Body), "%d %d", &w, &i); err != nil {
					t.Fatalf("body %q: %v", e.Body, err)
				}
				if i != next[w] {
					t.Fatalf("writer %d: got record %d, want %d", w, i, next[w])
				}
				next[w]++
				if e.Pos.Seq != lastSeq+1 {
					t.Fatalf("Seq %d after %d", e.Pos.Seq, lastSeq)
				}
				lastSeq = e.Pos.Seq
				if n%3 == 0 || n == total-1 {
					if err := s.Ack(e.Pos); err != nil {
						t.Fatal(err)
					}
				}
			}
			wg.Wait()
			if e, err := s.Next(cancelled); err == nil {
				t.Fatalf("record %q beyond the %d appended", e.Body, total)
			}
			st := s.Stats()
			t.Logf("%d records, %d commits, %d syncs, %d ErrFull, %d segments", total, st.Commits, st.Syncs, full.Load(), st.Segments)
			if st.Pending != 0 || st.PendingBytes != 0 || st.Appended != uint64(total) {
				t.Errorf("Stats() = %+v, want nothing pending and %d appended", st, total)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, o)
			if es := readAll(t, s); len(es) != 0 {
				t.Errorf("%d records delivered again after acking all", len(es))
			}
			if segs := segFiles(t, dir); len(segs) != 1 {
				t.Errorf("%d segments left, want 1", len(segs))
			}
		})
	}
}

// TestGroupCommit holds the first sync until N more appenders are waiting:
// the N must then share one sync.
func TestGroupCommit(t *testing.T) {
	const n = 64
	synctest.Test(t, func(t *testing.T) {
		o := testOptions(t)
		o.SegmentBytes = 1 << 30
		// Open syncs the segment it creates; count from the first Append.
		var armed atomic.Bool
		var syncs atomic.Int64
		entered, release := make(chan struct{}), make(chan struct{})
		o.syncFile = func(*os.File) error {
			if armed.Load() && syncs.Add(1) == 1 {
				close(entered)
				<-release
			}
			return nil
		}
		s := open(t, t.TempDir(), o)
		armed.Store(true)
		first := make(chan struct{}, 1)

		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.Append(context.Background(), rec(0)); err != nil {
				t.Error(err)
			}
			first <- struct{}{}
		})
		<-entered
		for i := range n {
			wg.Go(func() {
				if err := s.Append(context.Background(), rec(i+1)); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait() // every appender waits for its sync
		if st := s.Stats(); st.Pending != n+1 {
			t.Fatalf("Pending = %d, want %d", st.Pending, n+1)
		}
		close(release)
		wg.Wait()
		<-first
		if got := syncs.Load(); got != 2 {
			t.Errorf("%d appenders used %d syncs, want 2", n+1, got)
		}
		// The writer may write the n in more than one group while the
		// first sync is held; they still share one sync.
		if st := s.Stats(); st.Syncs != 2 || st.Commits < 2 || st.Commits > n+1 {
			t.Errorf("Stats() Syncs %d Commits %d, want 2 and 2..%d", st.Syncs, st.Commits, n+1)
		}
		if es := readAll(t, s); len(es) != n+1 {
			t.Errorf("read %d records, want %d", len(es), n+1)
		}
		s.Close()
	})
}

// TestAppendCancel: an Append whose ctx ends while it waits for the sync
// returns, and its records still become durable.
func TestAppendCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions(t)
		release := make(chan struct{})
		var armed atomic.Bool
		o.syncFile = func(*os.File) error {
			if armed.Load() {
				<-release
			}
			return nil
		}
		s := open(t, t.TempDir(), o)
		armed.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Append(ctx, rec(1)) }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Append = %v, want context.Canceled", err)
		}
		close(release)
		e, err := s.Next(context.Background())
		if err != nil || string(e.Body) != string(rec(1).Body) {
			t.Errorf("Next = %q, %v, want the cancelled Append's record", e.Body, err)
		}
		s.Close()
	})
}

// TestSyncFailure: after a failed sync the spool refuses appends. The
// records of the failed commit were written and may be read (their Append
// failed, so their sender sends them again).
func TestSyncFailure(t *testing.T) {
	o := testOptions(t)
	var fail atomic.Bool
	o.syncFile = func(*os.File) error {
		if fail.Load() {
			return errors.New("EIO")
		}
		return nil
	}
	s := open(t, t.TempDir(), o)
	appendN(t, s, 0, 1)
	fail.Store(true)
	if err := s.Append(context.Background(), rec(1)); err == nil {
		t.Fatal("Append with a failing sync = nil, want an error")
	}
	fail.Store(false)
	if err := s.Append(context.Background(), rec(2)); err == nil {
		t.Fatal("Append after a failed sync = nil, want an error")
	}
	checkBodies(t, readAll(t, s), 0, 2)
	if st := s.Stats(); st.Pending != 2 || st.LastSeq != 1 {
		t.Errorf("Pending = %d, LastSeq %d; want 2 and 1 (the last synced)", st.Pending, st.LastSeq)
	}
}

// TestReadBeforeSync: Next returns records while their sync runs, and the
// checkpoint does not pass the last synced record even when later ones
// are acked.
func TestReadBeforeSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions(t)
		var stall atomic.Bool
		release := make(chan struct{})
		o.syncFile = func(*os.File) error {
			if stall.Load() {
				<-release
			}
			return nil
		}
		dir := t.TempDir()
		s := open(t, dir, o)
		appendN(t, s, 0, 1)
		stall.Store(true)
		appended := make(chan error, 1)
		go func() { appended <- s.Append(context.Background(), rec(1)) }()
		synctest.Wait() // the Append waits for its sync
		es := make([]Entry, 2)
		for i := range es {
			var err error
			if es[i], err = s.Next(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		checkBodies(t, es, 0, 2)
		select {
		case err := <-appended:
			t.Fatalf("Append returned %v before its sync", err)
		default:
		}
		if err := s.Ack(es[1].Pos); err != nil {
			t.Fatal(err)
		}
		if err := s.checkpoint(); err != nil {
			t.Fatal(err)
		}
		if seq, err := readCheckpoint(dir); err != nil || seq != es[0].Pos.Seq {
			t.Errorf("checkpoint = %d, %v; want %d, the last synced record", seq, err, es[0].Pos.Seq)
		}
		close(release)
		if err := <-appended; err != nil {
			t.Fatal(err)
		}
		if err := s.checkpoint(); err != nil {
			t.Fatal(err)
		}
		if seq, _ := readCheckpoint(dir); seq != es[1].Pos.Seq {
			t.Errorf("checkpoint after the sync = %d, want %d", seq, es[1].Pos.Seq)
		}
		s.Close()
	})
}
