package testsrv

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAMWebhook(t *testing.T) {
	r := AMWebhook(t)
	post := func(body string) int {
		t.Helper()
		resp, err := httpClient.Post(r.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const note = `{"receiver":"webhook","status":"firing","alerts":[
		{"status":"firing","labels":{"alertname":"A","dedup_key":"k1"},"annotations":{"summary":"s"},
		 "startsAt":"2026-01-02T03:04:05Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://g","fingerprint":"f1"},
		{"status":"firing","labels":{"alertname":"A","dedup_key":"k2"},"annotations":{},
		 "startsAt":"2026-01-02T03:04:05Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"f2"}],
		"groupLabels":{"alertname":"A"},"commonLabels":{"alertname":"A"},"commonAnnotations":{},
		"externalURL":"http://127.0.0.1:9093","version":"4","groupKey":"{}:{alertname=\"A\"}","truncatedAlerts":0}`

	if got := post(note); got != http.StatusOK {
		t.Fatalf("POST = %d, want 200", got)
	}
	r.SetStatus(http.StatusServiceUnavailable)
	if got := post(note); got != http.StatusServiceUnavailable {
		t.Fatalf("POST after SetStatus(503) = %d, want 503", got)
	}
	alerts := r.WaitAlerts(t, 4, time.Second)
	if len(alerts) != 4 {
		t.Fatalf("WaitAlerts(4) returned %d alerts, want 4 (duplicates included)", len(alerts))
	}
	a := alerts[0]
	if a.Labels["dedup_key"] != "k1" || a.Annotations["summary"] != "s" || a.Fingerprint != "f1" || a.Status != "firing" ||
		!a.StartsAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || a.GeneratorURL != "http://g" {
		t.Errorf("Alerts()[0] = %+v", a)
	}
	notes := r.Notifications()
	if len(notes) != 2 || notes[0].GroupKey != `{}:{alertname="A"}` || notes[0].ExternalURL != "http://127.0.0.1:9093" || notes[0].Received.IsZero() {
		t.Errorf("Notifications() = %+v", notes)
	}
}
