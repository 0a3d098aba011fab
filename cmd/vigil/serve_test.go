package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildVigil builds the command into a temporary directory.
func buildVigil(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigil")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// publicACL is an EventBridge CloudTrail event that raises one alert,
// told apart by id.
func publicACL(id string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2026-11-20T09:00:00Z","region":"eu-west-1","resources":[],"detail":` +
		`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","userName":"bob"},` +
		`"eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"192.0.2.1","requestParameters":{"bucketName":"b-` + id + `","x-amz-acl":"public-read"},"eventID":"` + id + `","recipientAccountId":"111122223333"}}`
}

type serveProc struct {
	cmd  *exec.Cmd
	addr string
}

// startServe runs `vigil serve` and waits for its listening address.
func startServe(t *testing.T, bin, dir, cfg string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--inbox", "-", "--console=false", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
			if testing.Verbose() {
				t.Logf("vigil: %s", sc.Text())
			}
		}
	}()
	select {
	case a := <-addr:
		return &serveProc{cmd: cmd, addr: a}
	case <-time.After(30 * time.Second):
		t.Fatal("vigil serve did not start listening")
	}
	return nil
}

// TestServeKill9 is the durability promise: `kill -9` in the middle of a
// load loses no event whose POST was acknowledged. Eight senders post
// distinct events; the process is killed while they do; a new process on
// the same data directory delivers every acknowledged event's alert to
// the webhook receiver, and duplicates (events processed before the kill
// but not yet acknowledged in the spool) are absorbed by the outbox's
// dedup or counted.
func TestServeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildVigil(t)
	var mu sync.Mutex
	got := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Alerts []struct {
				EventID string `json:"event_id"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		for _, a := range p.Alerts {
			got[a.EventID]++
		}
		mu.Unlock()
	}))
	defer recv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("notify:\n  receivers:\n    - name: hook\n      webhook:\n        url: %s\n", recv.URL)), 0o600)

	for round := range 3 {
		p := startServe(t, bin, dir, cfg)
		var acked sync.Map
		var nAcked, nSent atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 5 * time.Second}
		for g := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("r%d-g%d-%d", round, g, i)
					nSent.Add(1)
					resp, err := client.Post("http://"+p.addr+"/ingest", "application/json", strings.NewReader(publicACL(id)))
					if err != nil {
						return // the process is gone
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						acked.Store(id, true)
						nAcked.Add(1)
					}
				}
			})
		}
		time.Sleep(time.Duration(400+300*round) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		close(stop)
		wg.Wait()
		if nAcked.Load() == 0 {
			t.Fatalf("round %d: nothing acknowledged before the kill", round)
		}

		p2 := startServe(t, bin, dir, cfg)
		missing := func() (n int, example string) {
			mu.Lock()
			defer mu.Unlock()
			acked.Range(func(k, _ any) bool {
				if got[k.(string)] == 0 {
					n++
					example = k.(string)
				}
				return true
			})
			return
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			n, ex := missing()
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d acknowledged events never alerted after the restart (e.g. %s)", round, n, nAcked.Load(), ex)
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		dups := 0
		for _, n := range got {
			dups += n - 1
		}
		mu.Unlock()
		t.Logf("round %d: %d posted, %d acknowledged, all delivered after kill -9 and restart; %d duplicate deliveries so far", round, nSent.Load(), nAcked.Load(), dups)
		p2.cmd.Process.Signal(syscall.SIGTERM)
		if err := p2.cmd.Wait(); err != nil {
			t.Fatalf("round %d: graceful stop: %v", round, err)
		}
	}
}
