package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/notify"
)

// receiver is a local webhook endpoint that answers with status (200
// unless set) and records the alerts it accepted.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	alerts []string // rule ids
	tests  int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusOK}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p notify.WebhookPayload
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.status == http.StatusOK {
			for _, a := range p.Alerts {
				r.alerts = append(r.alerts, a.Rule)
			}
			if p.Test {
				r.tests++
			}
		}
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.alerts)
}

func notifyConfig(t *testing.T, dir string, receivers map[string]string, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("state: state.db\nnotify:\n  max_attempts: 2\n  retry_initial: 10ms\n  retry_max: 20ms\n  receivers:\n")
	for name, url := range receivers {
		b.WriteString("    - name: " + name + "\n      webhook: {url: \"" + url + "\"}\n")
	}
	b.WriteString(extra)
	path := filepath.Join(dir, "vigil.yaml")
	writeFile(t, path, b.String())
	return path
}

// TestScanNotify: `vigil scan --notify` delivers the scan's alerts through
// the route tree; a second scan of the same logs delivers nothing new; a
// receiver that refuses leaves dead letters that `vigil alerts dead`
// lists and `vigil alerts retry` delivers once it accepts.
func TestScanNotify(t *testing.T) {
	all, critical := newReceiver(t), newReceiver(t)
	dir := t.TempDir()
	cfg := notifyConfig(t, dir, map[string]string{"all": all.URL, "critical": critical.URL},
		"  route:\n    receiver: all\n    routes:\n      - {receiver: critical, severity: critical, continue: true}\n      - {receiver: all}\n")
	code, stdout, stderr := runCLI(t, "", "scan", "--format", "json", "--config", cfg, "--notify", "../../samples")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The samples hold one event delivered three ways (SNS, EventBridge,
	// CloudWatch Logs): it alerts once.
	found, crit := 0, 0
	seen := map[string]bool{}
	for _, a := range parseAlerts(t, stdout) {
		if !seen[a.DedupKey] {
			seen[a.DedupKey] = true
			found++
			if a.Severity.String() == "critical" {
				crit++
			}
		}
	}
	if all.count() != found || critical.count() != crit || crit == 0 || found >= strings.Count(stdout, "\n") {
		t.Fatalf("delivered %d to all, %d to critical; the scan found %d distinct, %d critical\n%s", all.count(), critical.count(), found, crit, stderr)
	}
	if !strings.Contains(stderr, "notify: ") || !strings.Contains(stderr, "delivered") {
		t.Errorf("no delivery summary: %s", stderr)
	}

	// The same logs again: the alerts were delivered; no duplicates.
	if code, _, stderr := runCLI(t, "", "scan", "--format", "json", "--config", cfg, "--notify", "../../samples"); code != ExitOK {
		t.Fatalf("second scan: exit %d: %s", code, stderr)
	}
	if all.count() != found {
		t.Errorf("second scan delivered again: %d alerts, want %d", all.count(), found)
	}

	// A refusing receiver: dead letters after max_attempts.
	down := newReceiver(t)
	down.status = http.StatusServiceUnavailable
	dir2 := t.TempDir()
	cfg2 := notifyConfig(t, dir2, map[string]string{"down": down.URL}, "")
	code, _, stderr = runCLI(t, "", "scan", "--format", "json", "--config", cfg2, "--notify", "--notify-timeout", "5s", "../../samples/eventbridge")
	if code != ExitOK || !strings.Contains(stderr, "dead letters") || !strings.Contains(stderr, "status 503") {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	code, list, stderr := runCLI(t, "", "alerts", "dead", "--config", cfg2)
	if code != ExitOK || !strings.Contains(list, "down") || !strings.Contains(list, "503") {
		t.Fatalf("alerts dead: exit %d\n%s\n%s", code, list, stderr)
	}
	down.mu.Lock()
	down.status = http.StatusOK
	down.mu.Unlock()
	code, _, stderr = runCLI(t, "", "alerts", "retry", "--config", cfg2)
	if code != ExitOK || down.count() == 0 || !strings.Contains(stderr, "back in the queue") {
		t.Fatalf("alerts retry: exit %d, %d delivered: %s", code, down.count(), stderr)
	}
	if _, list, _ := runCLI(t, "", "alerts", "dead", "--config", cfg2); strings.Contains(list, "down") {
		t.Errorf("dead letters left after retry:\n%s", list)
	}
}

func TestNotifyTest(t *testing.T) {
	ok, bad := newReceiver(t), newReceiver(t)
	bad.status = http.StatusForbidden
	cfg := notifyConfig(t, t.TempDir(), map[string]string{"ok": ok.URL, "bad": bad.URL}, "")

	code, stdout, stderr := runCLI(t, "", "notify", "test", "--config", cfg, "--receiver", "ok")
	if code != ExitOK || ok.tests != 1 || !strings.Contains(stdout, "ok") {
		t.Fatalf("exit %d, %d test notifications\n%s%s", code, ok.tests, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "", "notify", "test", "--config", cfg)
	if code != ExitError || !strings.Contains(stdout, "FAILED") || !strings.Contains(stdout, "403") || ok.tests != 2 {
		t.Errorf("with a failing receiver: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "", "notify", "test", "--config", cfg, "--receiver", "nobody"); code != ExitError || !strings.Contains(stderr, "nobody") {
		t.Errorf("unknown receiver: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "scan", "--notify", "../../samples"); code != ExitError || !strings.Contains(stderr, "no receivers configured") {
		t.Errorf("--notify without receivers: exit %d: %s", code, stderr)
	}
}

// TestExampleConfig: the documented example configuration loads and every
// receiver and route in it is valid.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("../../examples/vigil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.NewDispatcher(cfg.Notify, nil, notify.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.Receivers()); got != 5 {
		t.Errorf("%d receivers, want 5", got)
	}
	if got := len(d.Destinations("alertmanager")); got != 3 {
		t.Errorf("%d Alertmanager members, want 3", got)
	}
	setup, err := newSetup(ruleFlags{config: "../../examples/vigil.yaml", state: filepath.Join(t.TempDir(), "s.db")}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	setup.Close()
}

// TestAlertsQueue: what a destination that is down has not taken waits in
// the outbox, and `vigil alerts queue` shows it with the last error.
func TestAlertsQueue(t *testing.T) {
	down := newReceiver(t)
	url := down.URL
	down.Close() // connection refused from now on
	dir := t.TempDir()
	cfg := notifyConfig(t, dir, map[string]string{"down": url}, "")
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "max_attempts: 2", "max_attempts: 1000", 1))
	code, _, stderr := runCLI(t, "", "scan", "--format", "json", "--config", cfg, "--notify", "--notify-timeout", "200ms", "../../samples/eventbridge")
	if code != ExitOK || !strings.Contains(stderr, "still queued") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, list, stderr := runCLI(t, "", "alerts", "queue", "--config", cfg)
	if code != ExitOK || !strings.Contains(list, "DUE") || !strings.Contains(list, "down") || !strings.Contains(list, "connection refused") {
		t.Fatalf("alerts queue: exit %d\n%s%s", code, list, stderr)
	}
	code, js, _ := runCLI(t, "", "alerts", "queue", "--config", cfg, "--json")
	if code != ExitOK || !strings.Contains(js, `"alerts":[{"rule":`) {
		t.Errorf("alerts queue --json: exit %d\n%s", code, js)
	}
	if code, _, stderr := runCLI(t, "", "alerts", "dead", "--config", cfg); code != ExitOK || !strings.Contains(stderr, "no dead letters") {
		t.Errorf("alerts dead: exit %d: %s", code, stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
