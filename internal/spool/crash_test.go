package spool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const crashDirEnv = "VIGIL_SPOOL_CRASH_DIR"

// TestHelperProcess is the child of TestCrash: it appends numbered records
// from several goroutines until it is killed, and prints the number of
// every record once its Append returned nil.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	base, _ := strconv.ParseInt(os.Getenv("VIGIL_SPOOL_CRASH_BASE"), 10, 64)
	s, err := Open(dir, Options{SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var (
		mu   sync.Mutex
		next atomic.Int64
	)
	body := strings.Repeat("x", 500)
	for range 8 {
		go func() {
			for {
				n := 1 + rand.IntN(5)
				first := base + next.Add(int64(n)) - int64(n)
				recs := make([]Record, n)
				var out []byte
				for i := range recs {
					num := first + int64(i)
					recs[i] = Record{Source: "crash", Received: time.Now(), Body: fmt.Appendf(nil, "%d %s", num, body)}
					out = fmt.Appendf(out, "%d\n", num)
				}
				if err := s.Append(context.Background(), recs...); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				os.Stdout.Write(out)
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestCrash kills a process appending to a spool at a random moment, and
// checks that every record whose Append returned nil is delivered after a
// restart, once. Each round adds to the same spool.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("VIGIL_SPOOL_CRASH_BASE=%d", round*1_000_000_000))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		acked := make(chan []int64)
		go func() {
			// Only whole lines: the child may die in the middle of one.
			var nums []int64
			r := bufio.NewReader(stdout)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					break
				}
				n, err := strconv.ParseInt(strings.TrimSuffix(line, "\n"), 10, 64)
				if err != nil {
					t.Errorf("child printed %q", line)
				}
				if nums = append(nums, n); len(nums) == 1 {
					close(started)
				}
			}
			io.Copy(io.Discard, stdout)
			acked <- nums
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("child acknowledged nothing in 10s; stderr: %s", stderr.String())
		}
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond) // the random moment
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		nums := <-acked
		cmd.Wait()
		if strings.TrimSpace(stderr.String()) != "" {
			t.Fatalf("child stderr: %s", stderr.String())
		}

		s, err := Open(dir, testOptions(t))
		if err != nil {
			t.Fatalf("round %d: Open after kill = %v", round, err)
		}
		es := readAll(t, s)
		seen := map[int64]bool{}
		for _, e := range es {
			var n int64
			fmt.Sscan(string(e.Body), &n)
			if seen[n] {
				t.Errorf("round %d: record %d delivered twice", round, n)
			}
			if n < int64(round)*1_000_000_000 {
				t.Errorf("round %d: record %d of an earlier round, acked, delivered again", round, n)
			}
			seen[n] = true
		}
		missing := 0
		for _, n := range nums {
			if !seen[n] {
				missing++
			}
		}
		st := s.Stats()
		t.Logf("round %d: %d acknowledged, %d recovered, %d missing; %d bytes of torn tail cut", round, len(nums), len(es), missing, st.Truncated)
		if missing > 0 {
			t.Errorf("round %d: %d of %d acknowledged records lost", round, missing, len(nums))
		}
		if len(es) > 0 {
			if err := s.Ack(es[len(es)-1].Pos); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
