package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/outbox"
	"github.com/vigil-sec/vigil/internal/testsrv"
)

// running is a dispatcher delivering in the background until stop.
type running struct {
	ob   *outbox.Outbox
	d    *Dispatcher
	stop func()
}

func startDispatcher(t *testing.T, cfg config.Notify, path string) *running {
	t.Helper()
	ob := openOutbox(t, path)
	d, err := NewDispatcher(cfg, ob, Options{ExternalURL: "http://vigil.test:8080"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	r := &running{ob: ob, d: d}
	r.stop = func() { cancel(); <-done; ob.Close() }
	return r
}

// amHas reports whether an Alertmanager member lists an alert with the
// given dedup key.
func amHas(t *testing.T, url, key string) bool {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts?filter=dedup_key%3D%22" + key + "%22")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var list []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return len(list) == 1 && list[0].Labels["dedup_key"] == key
}

func countKey(alerts []testsrv.AMAlert, key string) int {
	n := 0
	for _, a := range alerts {
		if a.Labels["dedup_key"] == key {
			n++
		}
	}
	return n
}

// TestAlertmanagerCluster delivers through a real three-member
// Alertmanager cluster gossiping on loopback, with a webhook behind it:
// Vigil posts each alert to every member, and the webhook gets it exactly
// once; with one member stopped the alert still arrives; with every member
// stopped it waits in the outbox, across a restart of Vigil, and arrives
// when they are back.
func TestAlertmanagerClusterDelivery(t *testing.T) {
	hook := testsrv.AMWebhook(t)
	cluster := testsrv.AlertmanagerCluster(t, 3, hook.URL, testsrv.AMOptions{})
	cfg := config.Notify{
		Receivers:    []config.Receiver{{Name: "am", Alertmanager: &config.AlertmanagerReceiver{URLs: cluster.URLs()}}},
		MaxAttempts:  1000,
		RetryInitial: 50 * time.Millisecond,
		RetryMax:     200 * time.Millisecond,
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	settle := cluster.MaxDelay() + 2*time.Second

	// All members up: every member has the alert; the webhook gets it once.
	v := startDispatcher(t, cfg, path)
	if _, err := v.d.Notify(alerts("first")); err != nil {
		t.Fatal(err)
	}
	got := hook.WaitAlerts(t, 1, 30*time.Second)
	waitFor(t, "every member to hold the alert", 10*time.Second, func() bool {
		for _, m := range cluster.Members {
			if !amHas(t, m.URL, "first") {
				return false
			}
		}
		return true
	})
	time.Sleep(settle)
	got = hook.Alerts()
	if n := countKey(got, "first"); n != 1 {
		t.Fatalf("webhook got the alert %d times, want once: %+v", n, got)
	}
	if l := got[0].Labels; l["alertname"] != "r-first" || l["severity"] != "high" {
		t.Errorf("labels = %v", l)
	}
	if got[0].GeneratorURL != "http://vigil.test:8080/api/alerts/first" {
		t.Errorf("generatorURL = %q", got[0].GeneratorURL)
	}

	// One member stopped: the alert arrives through the others.
	cluster.Members[0].Stop(t)
	v.d.Notify(alerts("second"))
	hook.WaitAlerts(t, 2, 30*time.Second)
	time.Sleep(settle)
	if n := countKey(hook.Alerts(), "second"); n != 1 {
		t.Fatalf("with a member down the webhook got the alert %d times, want once", n)
	}

	// Every member stopped: the alert waits in the outbox, Vigil restarts,
	// the members come back, and it arrives.
	cluster.Members[1].Stop(t)
	cluster.Members[2].Kill(t)
	v.d.Notify(alerts("third"))
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	v.stop()
	v = startDispatcher(t, cfg, path)
	defer func() { v.stop() }()
	if q, _ := v.ob.Queued("am/" + cluster.Members[1].URL[len("http://"):]); len(q) == 0 {
		t.Errorf("nothing queued for a stopped member after the restart")
	}
	// They come back as a rolling restart does: member 0, which missed
	// the second alert while it was down and still has it queued, rejoins
	// peers that know (from their notification log) that it was sent. (A
	// member that comes back alone and gets a missed alert before its
	// peers return notifies it again: Alertmanager's deduplication is only
	// as good as its shared notification log.)
	cluster.Members[1].Start(t)
	cluster.Members[2].Start(t)
	cluster.Members[0].Start(t)
	waitFor(t, "the third alert after the members returned", 60*time.Second, func() bool {
		return countKey(hook.Alerts(), "third") >= 1
	})
	time.Sleep(settle)
	all := hook.Alerts()
	for _, key := range []string{"first", "second", "third"} {
		if n := countKey(all, key); n != 1 {
			t.Errorf("%s: webhook got it %d times, want once", key, n)
		}
	}
	waitFor(t, "the outbox to empty", 30*time.Second, func() bool {
		for _, dest := range v.d.Destinations("am") {
			if q, _ := v.ob.Queued(dest); len(q) > 0 {
				return false
			}
		}
		return true
	})
}
