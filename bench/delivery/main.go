// Command delivery measures alert delivery throughput: alerts queued in
// the durable outbox and delivered to a webhook receiver on loopback, as
// `vigil scan --notify` and the daemon deliver them, until the receiver has
// every one.
//
//	go run ./bench/delivery -alerts 20000
//
// It reports alerts per second end to end (queue, send, record) for one
// alert per notification (no grouping: a request per alert) and for
// alerts grouped by rule (one request carries many).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/outbox"
)

func main() {
	n := flag.Int("alerts", 20000, "alerts to deliver")
	batch := flag.Int("batch", 256, "alerts queued per outbox transaction (as scan --notify does)")
	flag.Parse()

	var received atomic.Int64
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p notify.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		requests.Add(1)
		received.Add(int64(len(p.Alerts)))
	}))
	defer srv.Close()

	fmt.Printf("delivery to a webhook on loopback, %d alerts, queued %d per transaction\n", *n, *batch)
	for _, mode := range []struct {
		name    string
		groupBy []string
	}{
		{"one alert per request", nil},
		{"grouped by rule", []string{"rule"}},
	} {
		received.Store(0)
		requests.Store(0)
		dir, err := os.MkdirTemp("", "vigil-delivery")
		if err != nil {
			log.Fatal(err)
		}
		ob, err := outbox.Open(filepath.Join(dir, "outbox.db"))
		if err != nil {
			log.Fatal(err)
		}
		cfg := config.Notify{
			Receivers: []config.Receiver{{Name: "hook", Webhook: &config.WebhookReceiver{URL: srv.URL, Secret: "bench"}}},
			Route:     &config.Route{Receiver: "hook", GroupBy: mode.groupBy},
		}
		d, err := notify.NewDispatcher(cfg, ob, notify.Options{}, nil, nil)
		if err != nil {
			log.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { d.Run(ctx); close(done) }()
		alerts := make([]*alert.Alert, 0, *batch)
		for i := range *n {
			alerts = append(alerts, sample(i))
			if len(alerts) == *batch || i == *n-1 {
				if _, err := d.Notify(alerts); err != nil {
					log.Fatal(err)
				}
				alerts = alerts[:0]
			}
		}
		queued := time.Since(start)
		for received.Load() < int64(*n) {
			time.Sleep(time.Millisecond)
		}
		took := time.Since(start)
		cancel()
		<-done
		ob.Close()
		os.RemoveAll(dir)
		fmt.Printf("%-22s %8.0f alerts/s  (%d alerts in %d requests in %v; queueing took %v)\n",
			mode.name, float64(*n)/took.Seconds(), *n, requests.Load(), took.Round(time.Millisecond), queued.Round(time.Millisecond))
	}
}

// sample is a realistic alert: the public-bucket alert with its details.
func sample(i int) *alert.Alert {
	id := strconv.Itoa(i)
	return &alert.Alert{
		Rule: "aws-s3-bucket-acl-public-" + strconv.Itoa(i%10), Severity: detect.Critical,
		Title:   "Bucket acme-" + id + " made public by PutBucketAcl: grants READ to AllUsers",
		EventID: "65021031-9d74-abcc-52c3-" + id, EventTime: time.Date(2026, 11, 20, 9, 5, 35, 0, time.UTC),
		Kind: event.KindCloudTrail, Account: "111122223333", Region: "eu-west-1",
		AccountInfo: &event.AccountInfo{Name: "prod", Environment: "production", Owner: "platform"},
		Actor: alert.Actor{Name: "alice", Actor: event.Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice",
			Account: "111122223333", UserName: "alice", AccessKeyID: "AKIAEXAMPLE", MFA: event.False}},
		SourceIP: "81.2.69.142", UserAgent: "aws-cli/2.15.30", Service: "s3.amazonaws.com", Action: "PutBucketAcl",
		Resource: "arn:aws:s3:::acme-" + id,
		Details:  map[string]any{"bucket": "acme-" + id, "grants": []any{map[string]any{"grantee": "AllUsers", "permission": "READ"}}},
		Origin:   event.Origin{Source: "logs/111122223333_CloudTrail_eu-west-1.json.gz", Index: i, Offset: int64(i) * 1500},
		Addresses: []alert.Address{{Field: "source_ip", IP: "81.2.69.142",
			Geo: event.Geo{Country: "GB", CountryName: "United Kingdom", City: "London", Latitude: 51.5142, Longitude: -0.0931}}},
		DedupKey: fmt.Sprintf("%032x", i),
	}
}
