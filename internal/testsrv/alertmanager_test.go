package testsrv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postAlert posts one firing alert to POST /api/v2/alerts of every URL, as
// Vigil's Alertmanager notifier does, and returns when it was posted.
func postAlert(t *testing.T, urls []string, labels map[string]string) time.Time {
	t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"labels":       labels,
		"annotations":  map[string]string{"summary": "testsrv alert " + labels["dedup_key"]},
		"startsAt":     time.Now().UTC().Format(time.RFC3339Nano),
		"generatorURL": "http://vigil.invalid/findings/" + labels["dedup_key"],
	}})
	if err != nil {
		t.Fatal(err)
	}
	posted := time.Now()
	for _, u := range urls {
		resp, err := httpClient.Post(u+"/api/v2/alerts", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s/api/v2/alerts: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s/api/v2/alerts: %s: %s", u, resp.Status, b)
		}
	}
	return posted
}

// expectDelivered waits until every alert posted so far could have been
// delivered, then checks that the webhook got the alerts with the dedup_keys
// want, in order, each exactly once and alone in its notification.
func expectDelivered(t *testing.T, r *AMReceiver, c *AMCluster, posted time.Time, want ...string) {
	t.Helper()
	r.WaitAlerts(t, len(want), c.MaxDelay()+20*time.Second)
	last := r.Notifications()[len(r.Notifications())-1]
	t.Logf("alert %s reached the webhook %v after it was posted, from %s", last.Alerts[0].Labels["dedup_key"], last.Received.Sub(posted).Round(time.Millisecond), last.ExternalURL)
	// A duplicate would come from a later member at most MaxDelay after the post.
	if d := time.Until(posted.Add(c.MaxDelay() + time.Second)); d > 0 {
		<-time.After(d)
	}
	var got []string
	for _, n := range r.Notifications() {
		var keys []string
		for _, a := range n.Alerts {
			keys = append(keys, a.Labels["dedup_key"])
		}
		if len(n.Alerts) != 1 {
			t.Errorf("notification from %s carries %d alerts %v, want 1", n.ExternalURL, len(n.Alerts), keys)
		}
		got = append(got, fmt.Sprintf("%s from %s", strings.Join(keys, ","), n.ExternalURL))
	}
	if len(got) != len(want) {
		t.Fatalf("webhook got %d notifications %q, want the alerts %q each exactly once", len(got), got, want)
	}
	for i, a := range r.Alerts() {
		if a.Labels["dedup_key"] != want[i] || a.Status != "firing" || a.Fingerprint == "" {
			t.Fatalf("webhook alert %d = %+v, want a firing alert with dedup_key %s", i, a, want[i])
		}
	}
}

func TestAlertmanagerCluster(t *testing.T) {
	t.Parallel()
	r := AMWebhook(t)
	start := time.Now()
	c := AlertmanagerCluster(t, 3, r.URL, AMOptions{})
	t.Logf("3-member cluster formed in %v", time.Since(start).Round(time.Millisecond))
	labels := func(key string) map[string]string {
		return map[string]string{"alertname": "VigilTest", "dedup_key": key, "severity": "high"}
	}

	// Posted to every member, an alert reaches the webhook once.
	posted := postAlert(t, c.URLs(), labels("a"))
	expectDelivered(t, r, c, posted, "a")

	// With a member stopped, an alert posted to the other two arrives once;
	// posting "a" again sends nothing new.
	stopped := c.Members[0]
	stopped.Stop(t)
	if stopped.Running() {
		t.Fatal("Running() = true after Stop")
	}
	if got := len(c.URLs()); got != 2 {
		t.Fatalf("URLs() after Stop has %d members, want 2", got)
	}
	postAlert(t, c.URLs(), labels("a"))
	posted = postAlert(t, c.URLs(), labels("b"))
	expectDelivered(t, r, c, posted, "a", "b")

	// Restarted, the member rejoins, and the three still deliver once.
	stopped.Start(t)
	for _, m := range c.Members {
		if st := m.Status(t); len(st.Cluster.Peers) != 3 || st.Cluster.Status != "ready" {
			t.Fatalf("%s: cluster status %q with %d peers after restart, want ready with 3", m.URL, st.Cluster.Status, len(st.Cluster.Peers))
		}
	}
	posted = postAlert(t, c.URLs(), labels("c"))
	expectDelivered(t, r, c, posted, "a", "b", "c")

	c.Members[1].Kill(t)
	if c.Members[1].Running() || len(c.URLs()) != 2 {
		t.Errorf("after Kill: Running() = %t with %d members running, want false and 2", c.Members[1].Running(), len(c.URLs()))
	}
}

func TestAMConfig(t *testing.T) {
	o := AMOptions{GroupBy: []string{"alertname", "dedup_key"}, GroupWait: 1500 * time.Millisecond, SendResolved: true}
	o.setDefaults()
	got := amConfig("http://127.0.0.1:1/x", o)
	for _, want := range []string{
		`group_by: ["alertname", "dedup_key"]`,
		"group_wait: 1500ms",
		"group_interval: 1000ms",
		"repeat_interval: 3600000ms",
		`url: "http://127.0.0.1:1/x"`,
		"send_resolved: true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("amConfig() lacks %q:\n%s", want, got)
		}
	}
	if o.PeerTimeout != 2*time.Second {
		t.Errorf("default PeerTimeout = %v, want 2s", o.PeerTimeout)
	}
}
