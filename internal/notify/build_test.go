package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
)

func TestNew(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		name  string
		r     config.Receiver
		names []string // wanted sender names; nil wants an error
		err   string   // wanted in the error
	}{
		{"slack", config.Receiver{Name: "s", Slack: &config.SlackReceiver{WebhookURL: "https://hooks.slack.com/services/T/B/X"}}, []string{"s"}, ""},
		{"pagerduty", config.Receiver{Name: "p", PagerDuty: &config.PagerDutyReceiver{RoutingKey: "k"}}, []string{"p"}, ""},
		{"webhook", config.Receiver{Name: "w", Webhook: &config.WebhookReceiver{URL: "http://127.0.0.1:9/x"}}, []string{"w"}, ""},
		{"email", config.Receiver{Name: "e", Email: &config.EmailReceiver{SMTP: "smtp.example.com:587", From: "Vigil <vigil@example.com>", To: []string{"sec@example.com"}}}, []string{"e"}, ""},
		{"email off on loopback", config.Receiver{Name: "e", Email: &config.EmailReceiver{SMTP: "127.0.0.1:25", StartTLS: "off", From: "v@x", To: []string{"a@x"}}}, []string{"e"}, ""},
		{"alertmanager", config.Receiver{Name: "am", Alertmanager: &config.AlertmanagerReceiver{URLs: []string{"http://am-0:9093", "http://am-1:9093"}}}, []string{"am/am-0:9093", "am/am-1:9093"}, ""},

		{"no name", config.Receiver{Slack: &config.SlackReceiver{WebhookURL: "https://x"}}, nil, "name: required"},
		{"no kind", config.Receiver{Name: "x"}, nil, `receiver "x": needs one of`},
		{"two kinds", config.Receiver{Name: "x", Slack: &config.SlackReceiver{}, Webhook: &config.WebhookReceiver{}}, nil, "[slack webhook]"},
		{"slack no url", config.Receiver{Name: "x", Slack: &config.SlackReceiver{}}, nil, `receiver "x": slack.webhook_url: required`},
		{"slack ftp", config.Receiver{Name: "x", Slack: &config.SlackReceiver{WebhookURL: "ftp://h/services/SECRET"}}, nil, "slack.webhook_url: must be an http or https URL"},
		{"slack bad url", config.Receiver{Name: "x", Slack: &config.SlackReceiver{WebhookURL: "https://h/%zzSECRET"}}, nil, "slack.webhook_url: not a valid URL"},
		{"slack relative", config.Receiver{Name: "x", Slack: &config.SlackReceiver{WebhookURL: "/services/SECRET"}}, nil, "slack.webhook_url"},
		{"slack timeout", config.Receiver{Name: "x", Slack: &config.SlackReceiver{WebhookURL: "https://h", Timeout: -1}}, nil, "slack.timeout"},
		{"pagerduty no key", config.Receiver{Name: "x", PagerDuty: &config.PagerDutyReceiver{}}, nil, "pagerduty.routing_key: required"},
		{"pagerduty url", config.Receiver{Name: "x", PagerDuty: &config.PagerDutyReceiver{RoutingKey: "k", URL: "events.pagerduty.com"}}, nil, "pagerduty.url"},
		{"webhook no url", config.Receiver{Name: "x", Webhook: &config.WebhookReceiver{}}, nil, "webhook.url: required"},
		{"webhook header", config.Receiver{Name: "x", Webhook: &config.WebhookReceiver{URL: "http://h", Headers: map[string]string{"X-Vigil-Signature": "x"}}}, nil, "webhook.headers"},
		{"am no urls", config.Receiver{Name: "x", Alertmanager: &config.AlertmanagerReceiver{}}, nil, "alertmanager.urls: required"},
		{"am bad url", config.Receiver{Name: "x", Alertmanager: &config.AlertmanagerReceiver{URLs: []string{"http://a:1", "am:9093"}}}, nil, "alertmanager.urls[1]"},
		{"am header", config.Receiver{Name: "x", Alertmanager: &config.AlertmanagerReceiver{URLs: []string{"http://a:1"}, Headers: map[string]string{"Content-Type": "x"}}}, nil, "alertmanager.headers"},
		{"email no smtp", config.Receiver{Name: "x", Email: &config.EmailReceiver{From: "a@x", To: []string{"b@x"}}}, nil, "email.smtp: required"},
		{"email smtp no port", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "smtp.example.com", From: "a@x", To: []string{"b@x"}}}, nil, "email.smtp: must be host:port"},
		{"email no from", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", To: []string{"b@x"}}}, nil, "email.from: required"},
		{"email bad from", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "nobody", To: []string{"b@x"}}}, nil, "email.from"},
		{"email no to", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x"}}, nil, "email.to: required"},
		{"email bad to", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x", To: []string{"b@x", "<<"}}}, nil, "email.to[1]"},
		{"email starttls", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x", To: []string{"b@x"}, StartTLS: "maybe"}}, nil, "email.starttls"},
		{"email off remote", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "smtp.example.com:25", From: "a@x", To: []string{"b@x"}, StartTLS: "off"}}, nil, "email.starttls: \"off\" is allowed only for a server on loopback"},
		{"email password alone", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x", To: []string{"b@x"}, Password: "p"}}, nil, "email.username"},
		{"email username alone", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x", To: []string{"b@x"}, Username: "u"}}, nil, "email.password"},
		{"email ca missing", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x", To: []string{"b@x"}, TLSCAFile: "/nonexistent/ca.pem"}}, nil, "email.tls_ca_file"},
		{"email ca not pem", config.Receiver{Name: "x", Email: &config.EmailReceiver{SMTP: "h:25", From: "a@x", To: []string{"b@x"}, TLSCAFile: ca}}, nil, "email.tls_ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := New(tc.r, testOptions)
			if tc.names == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("New() error = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("error %q quotes the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			var names []string
			for _, s := range ss {
				names = append(names, s.Name())
			}
			if strings.Join(names, ",") != strings.Join(tc.names, ",") {
				t.Errorf("names = %v, want %v", names, tc.names)
			}
		})
	}
}

// TestNoSecretLeak fails a delivery every way there is and checks that
// neither Name nor the error quotes a secret.
func TestNoSecretLeak(t *testing.T) {
	const (
		slackPath = "T0SECRET/B0SECRET/SLACKSECRETTOKEN"
		pdKey     = "PDSECRETROUTINGKEY"
		whSecret  = "WEBHOOKSECRET"
		whToken   = "Bearer WEBHOOKTOKEN"
	)
	secrets := []string{"SECRET", "PDSECRET", "WEBHOOKSECRET", "WEBHOOKTOKEN", "ampassword"}
	echo := func(w http.ResponseWriter, r *http.Request) { // a server that echoes everything
		w.WriteHeader(500)
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		w.Write([]byte(r.URL.String() + " " + r.Header.Get("Authorization") + " "))
		w.Write(b[:n])
	}
	mk := func(base string) []Sender {
		var out []Sender
		for _, r := range []config.Receiver{
			{Name: "s", Slack: &config.SlackReceiver{WebhookURL: base + "/services/" + slackPath}},
			{Name: "p", PagerDuty: &config.PagerDutyReceiver{RoutingKey: pdKey, URL: base + "/v2/enqueue"}},
			{Name: "w", Webhook: &config.WebhookReceiver{URL: base + "/hook/WEBHOOKSECRET?token=WEBHOOKSECRET", Secret: whSecret, Headers: map[string]string{"Authorization": whToken}}},
			{Name: "am", Alertmanager: &config.AlertmanagerReceiver{URLs: []string{strings.Replace(base, "://", "://admin:ampassword@", 1)}}},
		} {
			ss, err := New(r, testOptions)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ss...)
		}
		return out
	}
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices the client gone only after the body
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	for _, base := range []string{srv.URL, down.URL, hang.URL} {
		for _, s := range mk(base) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err := s.Send(ctx, testNotification())
			cancel()
			if err == nil {
				t.Fatalf("%s: Send succeeded", s.Name())
			}
			for _, sec := range secrets {
				if strings.Contains(err.Error(), sec) || strings.Contains(s.Name(), sec) {
					t.Errorf("%s: %q leaks %q", s.Name(), err, sec)
				}
			}
		}
	}
}
