package spool

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppendParallel appends 1 KiB records from 16 or 64 goroutines,
// one record or a batch of 10 per Append, with a reader acking as it goes.
// It reports records/s, records per fsync and the latency of Append.
func BenchmarkAppendParallel(b *testing.B) {
	for _, bc := range []struct {
		appenders, batch int
		noSync           bool
	}{
		{1, 1, false},
		{16, 1, false},
		{64, 1, false},
		{16, 10, false},
		{64, 10, false},
		{64, 1, true},
	} {
		name := fmt.Sprintf("appenders=%d/batch=%d", bc.appenders, bc.batch)
		if bc.noSync {
			name += "/nosync"
		}
		b.Run(name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{MaxBytes: 1 << 30, NoSync: bc.noSync})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			read := make(chan struct{})
			go func() {
				defer close(read)
				for {
					e, err := s.Next(ctx)
					if err != nil {
						return
					}
					s.Ack(e.Pos)
				}
			}()
			body := make([]byte, 1024)
			var (
				mu    sync.Mutex
				lats  []time.Duration
				procs = runtime.GOMAXPROCS(0)
			)
			b.SetParallelism((bc.appenders + procs - 1) / procs)
			b.SetBytes(int64(bc.batch * len(body)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				recs := make([]Record, bc.batch)
				for i := range recs {
					recs[i] = Record{Source: "http", Name: "http 10.0.0.1 2026-12-05T12:00:00Z#17", Body: body}
				}
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					for i := range recs {
						recs[i].Received = start
					}
					if err := s.Append(context.Background(), recs...); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lats = append(lats, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			st := s.Stats()
			cancel()
			<-read
			s.Close()
			slices.Sort(lats)
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N*bc.batch)/float64(max(st.Syncs, 1)), "records/sync")
			if len(lats) > 0 {
				b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

// BenchmarkNext reads and acks 1 KiB records already in the spool.
func BenchmarkNext(b *testing.B) {
	s, err := Open(b.TempDir(), Options{MaxBytes: 1 << 40, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	recs := make([]Record, 100)
	for i := range recs {
		recs[i] = Record{Source: "http", Name: "http 10.0.0.1 2026-12-05T12:00:00Z#17", Received: t0, Body: make([]byte, 1024)}
	}
	for n := 0; n < b.N; n += len(recs) {
		if err := s.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e, err := s.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Ack(e.Pos); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
