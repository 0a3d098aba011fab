package testsrv

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Gossip settings of every cluster member. Alertmanager settles its gossip
// (and holds notifications until then) after four polls, 10×gossipInterval
// apart, that see the same number of peers: about 2 s at 50 ms.
const (
	gossipInterval   = 50 * time.Millisecond
	pushPullInterval = time.Second
	settleTimeout    = 10 * time.Second
	reconnectEvery   = time.Second
)

// AMOptions configures the cluster's route to the webhook. The zero value
// gives the defaults documented on each field.
type AMOptions struct {
	// GroupBy is the route's group_by. Default ["..."]: every distinct label
	// set is its own group, so each notification carries one alert and the
	// receiver gets each alert once. With coarser groups, an alert that
	// joins a group that was already notified is sent again together with
	// the alerts notified before.
	GroupBy []string
	// GroupWait is how long a new group waits before its first notification.
	// Default 1s.
	GroupWait time.Duration
	// GroupInterval is how long a group waits before notifying about alerts
	// added to it since its last notification. Default 1s.
	GroupInterval time.Duration
	// RepeatInterval is how long before an unchanged group is notified
	// again. Default 1h, longer than any test.
	RepeatInterval time.Duration
	// PeerTimeout is --cluster.peer-timeout: the member at position p in the
	// cluster notifies p×PeerTimeout after the first one, and only if the
	// gossip has not told it that an earlier member already did. It must
	// exceed the time the first member takes to deliver the notification
	// and gossip that it did. Default 2s.
	PeerTimeout time.Duration
	// SendResolved is the webhook's send_resolved. Default false.
	SendResolved bool
}

func (o *AMOptions) setDefaults() {
	if len(o.GroupBy) == 0 {
		o.GroupBy = []string{"..."}
	}
	if o.GroupWait <= 0 {
		o.GroupWait = time.Second
	}
	if o.GroupInterval <= 0 {
		o.GroupInterval = time.Second
	}
	if o.RepeatInterval <= 0 {
		o.RepeatInterval = time.Hour
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 2 * time.Second
	}
}

// AMCluster is a cluster of Alertmanagers gossiping on loopback, every one
// routing every alert to a single webhook receiver. It is stopped when the
// test ends.
type AMCluster struct {
	Members []*AMMember
	Options AMOptions // with defaults filled in
}

// AMMember is one Alertmanager of an [AMCluster]. It keeps its ports and
// storage across Stop and Start.
type AMMember struct {
	URL         string // http://127.0.0.1:port, the API and UI
	ClusterAddr string // 127.0.0.1:port of its gossip (TCP and UDP)

	c    *AMCluster
	proc *process
}

// AlertmanagerCluster starts n Alertmanagers on 127.0.0.1 that gossip with
// one another and notify webhookURL (see [AMWebhook]) of every alert, with
// the route that opts describes, and waits until every member is ready and
// sees all n as peers. Members are stopped when the test ends, and their logs
// (in t.TempDir()) printed if it failed.
//
// When every member is up and the same alerts are posted to every member,
// the webhook gets each notification exactly once, GroupWait after the
// first post; when members at lower positions are down but not yet known to
// be (killed rather than stopped), up to [AMCluster.MaxDelay] after it.
func AlertmanagerCluster(t testing.TB, n int, webhookURL string, opts AMOptions) *AMCluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("testsrv: AlertmanagerCluster: n = %d, want at least 1", n)
	}
	bin := Binary(t, "alertmanager")
	opts.setDefaults()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(amConfig(webhookURL, opts)), 0o644); err != nil {
		t.Fatalf("testsrv: %v", err)
	}
	var label [6]byte
	rand.Read(label[:])
	clusterLabel := "vigil-test-" + hex.EncodeToString(label[:]) // keeps clusters of concurrent tests apart

	c := &AMCluster{Options: opts}
	for i := range n {
		mdir := filepath.Join(dir, fmt.Sprintf("am%d", i))
		if err := os.MkdirAll(filepath.Join(mdir, "data"), 0o755); err != nil {
			t.Fatalf("testsrv: %v", err)
		}
		m := &AMMember{c: c, proc: &process{
			name: fmt.Sprintf("alertmanager[%d]", i), path: bin, dir: mdir,
			logPath: filepath.Join(mdir, "alertmanager.log"),
		}}
		m.proc.manage(t)
		c.Members = append(c.Members, m)
	}
	for attempt := 1; ; attempt++ {
		for _, m := range c.Members {
			m.URL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
			m.ClusterAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
		}
		for _, m := range c.Members {
			m.proc.args = m.args(cfg, clusterLabel)
		}
		err := c.start()
		if err == nil {
			err = c.waitFormed()
		}
		if err == nil {
			return c
		}
		inUse := false
		for _, m := range c.Members {
			m.proc.stop(true)
			inUse = inUse || m.proc.addrInUse()
		}
		if attempt < 3 && inUse {
			t.Logf("testsrv: alertmanager: a port was taken, retrying with new ports")
			continue
		}
		t.Fatalf("testsrv: alertmanager cluster did not form: %v\n%s", err, c.logReports())
	}
}

// amConfig is the configuration of every member.
func amConfig(webhookURL string, o AMOptions) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // JSON strings are YAML strings
	groupBy := make([]string, len(o.GroupBy))
	for i, l := range o.GroupBy {
		groupBy[i] = q(l)
	}
	return fmt.Sprintf(`route:
  receiver: webhook
  group_by: [%s]
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: %t
`, strings.Join(groupBy, ", "), amDuration(o.GroupWait), amDuration(o.GroupInterval), amDuration(o.RepeatInterval), q(webhookURL), o.SendResolved)
}

// amDuration formats d as Prometheus durations are written (ms precision).
func amDuration(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// args returns the member's command line.
func (m *AMMember) args(cfg, clusterLabel string) []string {
	args := []string{
		"--config.file=" + cfg,
		"--storage.path=" + filepath.Join(m.proc.dir, "data"),
		"--web.listen-address=" + strings.TrimPrefix(m.URL, "http://"),
		"--web.external-url=" + m.URL,
		"--cluster.listen-address=" + m.ClusterAddr,
		"--cluster.advertise-address=" + m.ClusterAddr,
		"--cluster.label=" + clusterLabel,
		"--cluster.peer-timeout=" + amDuration(m.c.Options.PeerTimeout),
		"--cluster.gossip-interval=" + amDuration(gossipInterval),
		"--cluster.pushpull-interval=" + amDuration(pushPullInterval),
		"--cluster.settle-timeout=" + amDuration(settleTimeout),
		"--cluster.reconnect-interval=" + amDuration(reconnectEvery),
		"--log.level=debug",
	}
	for _, o := range m.c.Members {
		if o != m {
			args = append(args, "--cluster.peer="+o.ClusterAddr)
		}
	}
	return args
}

// MaxDelay is the longest an alert posted to every running member takes to
// reach the webhook once the cluster has settled: GroupWait plus PeerTimeout
// for each other member, since a member that is down but not yet known to be
// holds back those after it by one PeerTimeout. Wait that long (and a
// little) after posting to be sure that no duplicate follows.
func (c *AMCluster) MaxDelay() time.Duration {
	return c.Options.GroupWait + time.Duration(len(c.Members)-1)*c.Options.PeerTimeout
}

// URLs returns the URLs of the running members.
func (c *AMCluster) URLs() []string {
	var urls []string
	for _, m := range c.Members {
		if m.Running() {
			urls = append(urls, m.URL)
		}
	}
	return urls
}

// start starts every member, one after the other, each once the one before
// serves HTTP, so that each can join the ones before it at once.
func (c *AMCluster) start() error {
	for _, m := range c.Members {
		if err := m.proc.start(); err != nil {
			return err
		}
		if err := poll(startTimeout, 50*time.Millisecond, m.httpReady, m.proc); err != nil {
			return fmt.Errorf("waiting for %s/-/ready: %w", m.URL, err)
		}
	}
	return nil
}

// WaitFormed waits until every running member reports its gossip as settled
// ("ready") and sees exactly the running members as its peers.
func (c *AMCluster) WaitFormed(t testing.TB) {
	t.Helper()
	if err := c.waitFormed(); err != nil {
		t.Fatalf("testsrv: alertmanager cluster did not form: %v\n%s", err, c.logReports())
	}
}

func (c *AMCluster) waitFormed() error {
	var running []*AMMember
	var want []string
	for _, m := range c.Members {
		if m.Running() {
			running = append(running, m)
			want = append(want, m.ClusterAddr)
		}
	}
	slices.Sort(want)
	procs := make([]*process, len(running))
	for i, m := range running {
		procs[i] = m.proc
	}
	return poll(30*time.Second, 100*time.Millisecond, func() error {
		for _, m := range running {
			st, err := m.status()
			if err != nil {
				return fmt.Errorf("%s: %w", m.proc.name, err)
			}
			if got := st.peerAddrs(); st.Cluster.Status != "ready" || !slices.Equal(got, want) {
				return fmt.Errorf("%s: cluster status %q with peers %v, want \"ready\" with %v", m.proc.name, st.Cluster.Status, got, want)
			}
		}
		return nil
	}, procs...)
}

func (c *AMCluster) logReports() string {
	var b strings.Builder
	for _, m := range c.Members {
		b.WriteString(m.proc.logReport())
		b.WriteString("\n")
	}
	return b.String()
}

// AMStatus is the part of Alertmanager's GET /api/v2/status that tests use.
type AMStatus struct {
	Cluster struct {
		Name   string `json:"name"`
		Status string `json:"status"` // "ready" once gossip has settled, "settling" before
		Peers  []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"peers"`
	} `json:"cluster"`
}

func (s AMStatus) peerAddrs() []string {
	var addrs []string
	for _, p := range s.Cluster.Peers {
		addrs = append(addrs, p.Address)
	}
	slices.Sort(addrs)
	return addrs
}

// Status returns the member's GET /api/v2/status.
func (m *AMMember) Status(t testing.TB) AMStatus {
	t.Helper()
	st, err := m.status()
	if err != nil {
		t.Fatalf("testsrv: %s: %v\n%s", m.proc.name, err, m.proc.logReport())
	}
	return st
}

func (m *AMMember) status() (AMStatus, error) {
	var st AMStatus
	resp, err := httpClient.Get(m.URL + "/api/v2/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("GET /api/v2/status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET /api/v2/status: %w", err)
	}
	return st, nil
}

func (m *AMMember) httpReady() error {
	resp, err := httpClient.Get(m.URL + "/-/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET /-/ready: %s", resp.Status)
	}
	return nil
}

// Running reports whether the member's process is running.
func (m *AMMember) Running() bool { return m.proc.running() }

// Stop stops the member with SIGTERM, so that it leaves the cluster, and
// waits until the other running members see it gone.
func (m *AMMember) Stop(t testing.TB) {
	t.Helper()
	if err := m.proc.stop(false); err != nil {
		t.Fatalf("testsrv: %v\n%s", err, m.proc.logReport())
	}
	m.c.WaitFormed(t)
}

// Kill kills the member with SIGKILL, as in a crash: the others notice only
// after their failure detection (several seconds), and until then the
// members after it hold their notifications back by PeerTimeout.
func (m *AMMember) Kill(t testing.TB) {
	t.Helper()
	if err := m.proc.stop(true); err != nil {
		t.Fatalf("testsrv: %v", err)
	}
}

// Start starts a stopped member again with the same ports and storage, and
// waits until it has rejoined the running members and settled.
func (m *AMMember) Start(t testing.TB) {
	t.Helper()
	if err := m.proc.start(); err != nil {
		t.Fatalf("testsrv: %v", err)
	}
	if err := poll(startTimeout, 50*time.Millisecond, m.httpReady, m.proc); err != nil {
		t.Fatalf("testsrv: %s did not start: %v\n%s", m.proc.name, err, m.proc.logReport())
	}
	m.c.WaitFormed(t)
}
