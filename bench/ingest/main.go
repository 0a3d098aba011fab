// Command ingest load-tests `vigil serve`: it posts EventBridge CloudTrail
// events (the bench corpus's records in EventBridge envelopes, as an API
// destination or a direct sender posts them) to POST /ingest for a while,
// at a fixed rate or as fast as Vigil answers, and measures at a webhook
// receiver on loopback the time from Vigil's receipt of each event
// (received_at) to its alert's arrival.
//
//	go run ./bench/ingest -vigil bench/out/vigil -corpus bench/out/corpus -rate 20000 -batch 100
//
// It starts the vigil binary itself (fresh data directory, the built-in
// rules, default enrichment, the receiver as its only destination) and
// reports events/s accepted, 429 answers, alerts received, latency
// percentiles, and Vigil's CPU time and peak RSS. The percentiles are of
// the sustained load: alerts of events received in the first -warmup (1 s)
// are left out of them and reported apart, with the whole run's.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("vigil", "bench/out/vigil", "vigil `binary`")
	corpus := flag.String("corpus", "bench/out/corpus", "`directory` of gzipped CloudTrail log files")
	rate := flag.Int("rate", 20000, "events per `second` to offer (0: as fast as Vigil answers)")
	batch := flag.Int("batch", 100, "events per request (1: one event per request, as EventBridge API destinations post)")
	conns := flag.Int("conns", 32, "concurrent `connections`")
	dur := flag.Duration("duration", 20*time.Second, "how long to post")
	maxEvents := flag.Int("events", 200000, "distinct events to load from the corpus")
	jsonOut := flag.String("json", "", "also write the results to this `file` as JSON")
	group := flag.Bool("group", false, "group alerts by rule in the route (one request carries many alerts) instead of one request per alert")
	minRate := flag.Float64("min-rate", 0, "fail (exit 1) unless at least this many `events/s` were accepted")
	maxP99 := flag.Duration("max-p99", 0, "fail (exit 1) unless p99 from receipt to receiver, after the warm-up, is under this `duration`")
	warmup := flag.Duration("warmup", time.Second, "leave the alerts of events received in this first stretch of the load out of the percentiles (reported apart): a freshly started process faults in its heap, code and data then")
	timeline := flag.Bool("timeline", false, "also print the latency of each second's alerts")
	extra := flag.String("args", "", "more `flags` for vigil serve (space-separated), e.g. --cpuprofile=/tmp/cpu")
	flag.Parse()

	events, err := loadEvents(*corpus, *maxEvents)
	if err != nil {
		log.Fatal(err)
	}
	bodies := makeBodies(events, *batch)
	// Past the corpus, the same events again as new ones (new ids), so
	// that they alert again instead of being deduped; made now, so that
	// the load generator spends its CPU on sending while Vigil is timed.
	if *rate > 0 {
		need := int(float64(*rate)*dur.Seconds()) / *batch + 1
		base := bodies
		for cycle := 1; len(bodies) < need; cycle++ {
			for _, b := range base[:min(len(base), need-len(bodies))] {
				nb := bytes.ReplaceAll(b.body, []byte(`"eventID":"`), []byte(fmt.Sprintf(`"eventID":"c%d-`, cycle)))
				bodies = append(bodies, body{nb, b.events})
			}
		}
	}
	var loaded syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &loaded)
	loadCPU := time.Duration(loaded.Utime.Nano() + loaded.Stime.Nano()).Seconds()
	log.Printf("%d events in %d bodies of %d", len(events), len(bodies), *batch)

	rc := newReceiver()
	dir, err := os.MkdirTemp("", "vigil-ingest-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "vigil.yaml")
	route := ""
	if *group {
		route = "  route:\n    receiver: bench\n    group_by: [rule]\n"
	}
	os.WriteFile(cfg, []byte(fmt.Sprintf(`notify:
  receivers:
    - name: bench
      webhook:
        url: %s
%s`, rc.url, route)), 0o600)
	v, err := startVigil(*bin, dir, cfg, strings.Fields(*extra))
	if err != nil {
		log.Fatal(err)
	}
	defer v.cmd.Process.Kill()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}, Timeout: 30 * time.Second}
	url := "http://" + v.addr + "/ingest"
	var accepted, refused, failed atomic.Int64
	var next atomic.Int64
	start := time.Now()
	stop := start.Add(*dur)
	// Open loop: request i is due at start + i×(batch/rate), whoever
	// sends it; a sender that falls behind sends at once.
	interval := time.Duration(0)
	if *rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(*batch) / float64(*rate))
	}
	var wg sync.WaitGroup
	for range *conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if interval > 0 {
					due := start.Add(time.Duration(i) * interval)
					if due.After(stop) {
						return
					}
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				} else if time.Now().After(stop) {
					return
				}
				b := bodies[int(i)%len(bodies)]
				resp, err := client.Post(url, "application/json", bytes.NewReader(b.body))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusAccepted:
					accepted.Add(int64(b.events))
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Open loop: the rate is what was accepted over the schedule; a Vigil
	// that falls behind shows as requests finishing late (lag) or refused.
	lag := time.Duration(0)
	if interval > 0 {
		lag = max(elapsed-*dur, 0)
		elapsed = *dur
	}
	// Wait for the alerts still on their way.
	for last, idle := rc.count(), 0; idle < 20; {
		time.Sleep(100 * time.Millisecond)
		if n := rc.count(); n != last {
			last, idle = n, 0
		} else {
			idle++
		}
	}
	if resp, err := http.Get("http://" + v.addr + "/metrics"); err == nil {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "vigil_payload_committed_seconds") || strings.HasPrefix(l, "vigil_commit_payloads") || strings.HasPrefix(l, "vigil_alert_latency_from_receipt") {
				if os.Getenv("SHOW_METRICS") != "" {
					fmt.Println(l)
				}
			}
		}
		resp.Body.Close()
	}
	cpu, rss := v.stop()

	if *timeline {
		rc.timeline(start)
	}
	all := rc.latencies(time.Time{})
	lat := rc.latencies(start.Add(*warmup))
	r := results{
		Rate: *rate, Batch: *batch, Conns: *conns, Seconds: elapsed.Seconds(),
		EventsAccepted: accepted.Load(), EventsPerSec: float64(accepted.Load()) / elapsed.Seconds(),
		Refused429: refused.Load(), Failed: failed.Load(), Alerts: len(all),
		WarmupSeconds: warmup.Seconds(), SteadyAlerts: len(lat),
		P50ms: pct(lat, 50), P90ms: pct(lat, 90), P99ms: pct(lat, 99), MaxMs: pct(lat, 100),
		AllP50ms: pct(all, 50), AllP99ms: pct(all, 99), AllMaxMs: pct(all, 100),
		VigilCPUSeconds: cpu, VigilPeakRSSMiB: rss, LagMs: float64(lag.Microseconds()) / 1000,
	}
	fmt.Printf("offered %s, %d events per request, %d connections, %.1f s\n", rateStr(*rate), *batch, *conns, r.Seconds)
	fmt.Printf("accepted %d events: %.0f events/s; 429 answers %d; failed requests %d; last request %.0f ms after the schedule\n", r.EventsAccepted, r.EventsPerSec, r.Refused429, r.Failed, r.LagMs)
	fmt.Printf("alerts at the receiver %d; after the first %v: receipt -> receiver p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.Alerts, *warmup, r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	fmt.Printf("the whole run, the first %v included: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", *warmup, r.AllP50ms, r.AllP99ms, r.AllMaxMs)
	var self syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	selfCPU := time.Duration(self.Utime.Nano()+self.Stime.Nano()).Seconds() - loadCPU
	fmt.Printf("vigil CPU %.1f s (%.0f%% of one core), peak RSS %.0f MiB; this load generator and receiver %.1f s CPU while timed\n", cpu, 100*cpu/r.Seconds, rss, selfCPU)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	ok := true
	if *minRate > 0 && (r.EventsPerSec < *minRate || r.Refused429 > 0 || r.Failed > 0 || lag > time.Second) {
		fmt.Printf("FAIL: floor %.0f events/s sustained (every request accepted, on schedule)\n", *minRate)
		ok = false
	}
	if *maxP99 > 0 && r.P99ms >= float64(maxP99.Microseconds())/1000 {
		fmt.Printf("FAIL: floor p99 < %v\n", *maxP99)
		ok = false
	}
	if !ok {
		os.Exit(1)
	}
}

type results struct {
	Rate            int     `json:"rate_offered"`
	Batch           int     `json:"batch"`
	Conns           int     `json:"conns"`
	Seconds         float64 `json:"seconds"`
	EventsAccepted  int64   `json:"events_accepted"`
	EventsPerSec    float64 `json:"events_per_sec"`
	Refused429      int64   `json:"refused_429"`
	Failed          int64   `json:"failed"`
	Alerts          int     `json:"alerts"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	SteadyAlerts    int     `json:"steady_alerts"` // after the warm-up: the percentiles below
	P50ms           float64 `json:"p50_ms"`
	P90ms           float64 `json:"p90_ms"`
	P99ms           float64 `json:"p99_ms"`
	MaxMs           float64 `json:"max_ms"`
	AllP50ms        float64 `json:"all_p50_ms"` // the whole run, warm-up included
	AllP99ms        float64 `json:"all_p99_ms"`
	AllMaxMs        float64 `json:"all_max_ms"`
	VigilCPUSeconds float64 `json:"vigil_cpu_seconds"`
	VigilPeakRSSMiB float64 `json:"vigil_peak_rss_mib"`
	LagMs           float64 `json:"sender_lag_ms"`
}

func rateStr(r int) string {
	if r == 0 {
		return "as fast as accepted"
	}
	return fmt.Sprintf("%d events/s", r)
}

func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

// loadEvents wraps the corpus's CloudTrail records in EventBridge
// envelopes, as EventBridge delivers "AWS API Call via CloudTrail".
func loadEvents(dir string, max int) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no corpus in %s (bench/run.sh makes it): %v", dir, err)
	}
	slices.Sort(files)
	var out [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var doc struct{ Records []json.RawMessage }
		err = json.NewDecoder(zr).Decode(&doc)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, rec := range doc.Records {
			var r struct {
				EventID            string `json:"eventID"`
				EventTime          string `json:"eventTime"`
				EventSource        string `json:"eventSource"`
				AWSRegion          string `json:"awsRegion"`
				RecipientAccountID string `json:"recipientAccountId"`
			}
			if json.Unmarshal(rec, &r) != nil {
				continue
			}
			src := "aws." + strings.TrimSuffix(r.EventSource, ".amazonaws.com")
			env := fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"AWS API Call via CloudTrail","source":%q,"account":%q,"time":%q,"region":%q,"resources":[],"detail":%s}`,
				r.EventID, src, r.RecipientAccountID, r.EventTime, r.AWSRegion, rec)
			out = append(out, []byte(env))
			if len(out) >= max {
				return out, nil
			}
		}
	}
	return out, nil
}

type body struct {
	body   []byte
	events int
}

// makeBodies joins events into request bodies: one event, or a JSON array.
func makeBodies(events [][]byte, batch int) []body {
	var out []body
	for i := 0; i < len(events); i += batch {
		group := events[i:min(i+batch, len(events))]
		if batch == 1 {
			out = append(out, body{group[0], 1})
			continue
		}
		b := append([]byte{'['}, bytes.Join(group, []byte{','})...)
		out = append(out, body{append(b, ']'), len(group)})
	}
	return out
}

type receiver struct {
	url string
	mu  sync.Mutex
	lat []time.Duration
	at  []time.Time // when each alert arrived
}

func newReceiver() *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String()}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		b, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		// Each alert's received_at, found by its key rather than by
		// decoding every alert: the receiver shares the CPU with Vigil.
		var lat []time.Duration
		key := []byte(`"received_at":"`)
		for {
			i := bytes.Index(b, key)
			if i < 0 {
				break
			}
			b = b[i+len(key):]
			j := bytes.IndexByte(b, '"')
			if j < 0 {
				break
			}
			if t, err := time.Parse(time.RFC3339Nano, string(b[:j])); err == nil {
				lat = append(lat, now.Sub(t))
			}
		}
		if len(lat) == 0 {
			http.Error(w, "no alerts with received_at", 400)
			return
		}
		r.mu.Lock()
		r.lat = append(r.lat, lat...)
		for range lat {
			r.at = append(r.at, now)
		}
		r.mu.Unlock()
	}))
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lat)
}

// timeline prints p50, p99 and the maximum latency of the alerts that
// arrived in each second from start: whether slow alerts bunch up in time
// (a stall) or spread.
func (r *receiver) timeline(start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var secs [][]time.Duration
	for i, at := range r.at {
		s := max(int(at.Sub(start)/time.Second), 0)
		for len(secs) <= s {
			secs = append(secs, nil)
		}
		secs[s] = append(secs[s], r.lat[i])
	}
	for s, l := range secs {
		slices.Sort(l)
		fmt.Printf("second %2d: %5d alerts, p50 %6.1f ms, p99 %6.1f ms, max %6.1f ms\n", s, len(l), pct(l, 50), pct(l, 99), pct(l, 100))
	}
}

// latencies returns, sorted, the latencies of the alerts of events Vigil
// received at or after from.
func (r *receiver) latencies(from time.Time) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var l []time.Duration
	for i, d := range r.lat {
		if !r.at[i].Add(-d).Before(from) {
			l = append(l, d)
		}
	}
	slices.Sort(l)
	return l
}

type vigil struct {
	cmd  *exec.Cmd
	addr string
}

func startVigil(bin, dir, cfg string, extra []string) (*vigil, error) {
	args := append([]string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--inbox", "-", "--console=false", "--log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The address comes from the "listening" log line; warnings and
	// errors are shown.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l struct{ Level, Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
				continue
			}
			if l.Level != "INFO" && l.Level != "DEBUG" {
				fmt.Fprintln(os.Stderr, "vigil:", sc.Text())
			}
		}
	}()
	select {
	case a := <-addr:
		return &vigil{cmd: cmd, addr: a}, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("vigil serve did not start")
	}
}

// stop ends Vigil gracefully and returns its CPU seconds and peak RSS.
// The peak is read from /proc before the stop: the rusage of a child
// started by fork and exec also counts the parent's pages it shared
// before exec (this program holds the whole corpus).
func (v *vigil) stop() (cpu, rssMiB float64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", v.cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
				var kb float64
				fmt.Sscan(f[1], &kb)
				rssMiB = kb / 1024
			}
		}
	}
	v.cmd.Process.Signal(syscall.SIGTERM)
	v.cmd.Wait()
	st := v.cmd.ProcessState
	cpu = (st.UserTime() + st.SystemTime()).Seconds()
	return cpu, rssMiB
}
