package testsrv

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// AMNotification is one webhook notification from Alertmanager (payload
// version 4): the alerts of one group.
type AMNotification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"` // the sending member's URL
	Alerts            []AMAlert         `json:"alerts"`

	Received time.Time `json:"-"` // when the receiver got it
}

// AMAlert is one alert in an [AMNotification].
type AMAlert struct {
	Status       string            `json:"status"` // firing or resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// AMReceiver is an HTTP server on 127.0.0.1 that records the notifications
// Alertmanager's webhook receiver sends to it. Its methods may be called
// concurrently.
type AMReceiver struct {
	URL string // where Alertmanager should post

	srv     *httptest.Server
	mu      sync.Mutex
	notes   []AMNotification
	status  int
	arrived chan struct{} // closed and replaced when a notification arrives
}

// AMWebhook starts an [AMReceiver] that answers 200 until told otherwise by
// SetStatus, and closes it when the test ends. A body that is not an
// Alertmanager notification fails the test.
func AMWebhook(t testing.TB) *AMReceiver {
	t.Helper()
	r := &AMReceiver{status: http.StatusOK, arrived: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var n AMNotification
		if err == nil {
			err = json.Unmarshal(body, &n)
		}
		if err != nil || req.Method != http.MethodPost || n.Version != "4" {
			t.Errorf("testsrv: AMWebhook: %s %s: not an Alertmanager v4 notification (%v): %.500s", req.Method, req.URL, err, body)
			http.Error(w, "not an Alertmanager v4 notification", http.StatusBadRequest)
			return
		}
		n.Received = time.Now()
		r.mu.Lock()
		r.notes = append(r.notes, n)
		close(r.arrived)
		r.arrived = make(chan struct{})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	r.URL = r.srv.URL + "/alerts"
	t.Cleanup(r.srv.Close)
	return r
}

// SetStatus sets the HTTP status of the answers to the next notifications;
// they are recorded whatever the status.
func (r *AMReceiver) SetStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// Notifications returns every notification received so far, in order.
func (r *AMReceiver) Notifications() []AMNotification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]AMNotification(nil), r.notes...)
}

// Alerts returns every alert received so far, across notifications and in
// order, duplicates included.
func (r *AMReceiver) Alerts() []AMAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	var alerts []AMAlert
	for _, n := range r.notes {
		alerts = append(alerts, n.Alerts...)
	}
	return alerts
}

// WaitAlerts waits until at least n alerts have been received in all and
// returns them all, as Alerts does. It fails the test if that takes longer
// than timeout.
func (r *AMReceiver) WaitAlerts(t testing.TB, n int, timeout time.Duration) []AMAlert {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		arrived := r.arrived
		r.mu.Unlock()
		if alerts := r.Alerts(); len(alerts) >= n {
			return alerts
		}
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("testsrv: AMWebhook: got %d alerts in %v, want %d: %v", len(r.Alerts()), timeout, n, r.Alerts())
		}
	}
}
