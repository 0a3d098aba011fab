package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testOptions = Options{ExternalURL: "https://vigil.example.com/", Version: "1.2.3"}

// testAlert returns a fully populated alert: an IAM user in a named
// production account, calling from an address in Germany.
func testAlert() *alert.Alert {
	return &alert.Alert{
		Rule:      "aws-iam-access-key-created",
		Severity:  detect.High,
		Title:     "Access key created for another user",
		EventID:   "3e9c2b5a-1f0d-4e52-9a57-1c2b3d4e5f60",
		EventTime: time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC),
		Kind:      event.KindCloudTrail,
		Account:   "111122223333",
		AccountInfo: &event.AccountInfo{
			Name: "payments-prod", Environment: "production", Owner: "payments-team",
		},
		Region: "us-east-1",
		Actor: alert.Actor{
			Name: "alice",
			Actor: event.Actor{
				Type:        "IAMUser",
				ARN:         "arn:aws:iam::111122223333:user/alice",
				PrincipalID: "AIDAEXAMPLE",
				Account:     "111122223333",
				UserName:    "alice",
				AccessKeyID: "AKIAEXAMPLE",
				MFA:         event.False,
			},
		},
		SourceIP:  "203.0.113.7",
		UserAgent: "aws-cli/2.15.0 Python/3.11",
		Service:   "iam.amazonaws.com",
		Action:    "CreateAccessKey",
		Resource:  "arn:aws:iam::111122223333:user/bob",
		Details:   map[string]any{"target_user": "bob"},
		Origin: event.Origin{
			Source: "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/x.json.gz",
			Index:  3, Offset: 1024, Path: "Records",
		},
		Addresses: []alert.Address{{
			Field: "source_ip", IP: "203.0.113.7",
			Geo: event.Geo{Country: "DE", CountryName: "Germany", City: "Berlin", ASN: 3320, ASOrg: "Deutsche Telekom AG"},
		}},
		DedupKey: "0123456789abcdef0123456789abcdef",
	}
}

// awsAlert returns an alert from an address in AWS's EC2 range.
func awsAlert() *alert.Alert {
	a := testAlert()
	a.Rule, a.Severity, a.Title = "aws-s3-bucket-made-public", detect.Critical, "Bucket made public"
	a.SourceIP = "54.1.2.3"
	a.Addresses = []alert.Address{{Field: "source_ip", IP: "54.1.2.3", Geo: event.Geo{
		Country: "US", ASN: 14618, ASOrg: "AMAZON-AES",
		AWS: &event.AWSRange{Service: "EC2", Region: "us-east-1", Prefix: "54.0.0.0/15"},
	}}}
	a.DedupKey = "fedcba9876543210fedcba9876543210"
	return a
}

func testNotification(alerts ...*alert.Alert) *Notification {
	if len(alerts) == 0 {
		alerts = []*alert.Alert{testAlert()}
	}
	return &Notification{Receiver: "ops", GroupKey: "{}:{rule=\"x\"}", Alerts: alerts}
}

// request is one request a test server received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// recorder is an HTTP test server that records requests and answers
// with its handler, 200 when it has none.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{req.Method, req.URL.Path, req.Header.Clone(), body})
		r.mu.Unlock()
		if h != nil {
			h(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// only returns the one request r received.
func (r *recorder) only(t *testing.T) request {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// golden compares got, JSON, with testdata/name indented, or writes it
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("golden %s: body is not JSON: %v\n%s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("body differs from %s (go test -update rewrites it):\n got: %s\nwant: %s", path, buf.Bytes(), want)
	}
}

// decodeStrict decodes b into v, failing on fields v does not have: the
// structs mirror the documented API, so an unknown field is a typo.
func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, b)
	}
}

// sendErr asserts err is a *SendError and returns it.
func sendErr(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want *SendError", err, err)
	}
	return se
}

// statusCase is one answer of a destination and what Send must make of
// it; every HTTP sender runs the same table.
type statusCase struct {
	name       string
	status     int
	retryAfter string // Retry-After header, "" for none
	body       string
	wantErr    bool
	permanent  bool
	wantAfter  time.Duration // 0: none; -1: about 2 minutes (HTTP date)
}

var statusCases = []statusCase{
	{name: "200", status: 200, body: "ok"},
	{name: "202", status: 202, body: `{"status":"success"}`},
	{name: "204", status: 204},
	{name: "301 not followed", status: 301, wantErr: true, permanent: true},
	{name: "400", status: 400, body: "invalid_payload", wantErr: true, permanent: true},
	{name: "401", status: 401, wantErr: true, permanent: true},
	{name: "403", status: 403, body: "invalid_token", wantErr: true, permanent: true},
	{name: "404", status: 404, body: "no_service", wantErr: true, permanent: true},
	{name: "408", status: 408, wantErr: true},
	{name: "413", status: 413, wantErr: true, permanent: true},
	{name: "425", status: 425, wantErr: true},
	{name: "429 seconds", status: 429, retryAfter: "30", wantErr: true, wantAfter: 30 * time.Second},
	{name: "429 date", status: 429, retryAfter: "date", wantErr: true, wantAfter: -1},
	{name: "429 huge", status: 429, retryAfter: "999999999", wantErr: true, wantAfter: time.Hour},
	{name: "429 junk", status: 429, retryAfter: "soon", wantErr: true},
	{name: "500", status: 500, wantErr: true},
	{name: "502", status: 502, wantErr: true},
	{name: "503 with Retry-After", status: 503, retryAfter: "7", wantErr: true, wantAfter: 7 * time.Second},
}

// runStatusCases sends n through a sender built by mk for each status
// case and checks the error, its class and its wait.
func runStatusCases(t *testing.T, mk func(t *testing.T, url string) Sender, n *Notification) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				switch tc.retryAfter {
				case "":
				case "date":
					w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
				default:
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if tc.status == 301 {
					w.Header().Set("Location", "https://elsewhere.example/secret-path")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			err := mk(t, srv.URL).Send(context.Background(), n)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Send() = %v, want nil", err)
				}
				return
			}
			se := sendErr(t, err)
			if se.Status != tc.status {
				t.Errorf("Status = %d, want %d", se.Status, tc.status)
			}
			if se.Permanent != tc.permanent {
				t.Errorf("Permanent = %v, want %v (%v)", se.Permanent, tc.permanent, err)
			}
			switch {
			case tc.wantAfter == -1:
				if se.RetryAfter < 100*time.Second || se.RetryAfter > 2*time.Minute {
					t.Errorf("RetryAfter = %v, want about 2m", se.RetryAfter)
				}
			case se.RetryAfter != tc.wantAfter:
				t.Errorf("RetryAfter = %v, want %v", se.RetryAfter, tc.wantAfter)
			}
			if RetryAfter(err) != se.RetryAfter || IsPermanent(err) != se.Permanent {
				t.Errorf("RetryAfter/IsPermanent disagree with the SendError")
			}
			if tc.body != "" && !strings.Contains(err.Error(), tc.body) {
				t.Errorf("error %q does not quote the answer %q", err, tc.body)
			}
		})
	}
}

// runTransportCases checks a refused connection and a ctx deadline:
// both retryable, with Status 0.
func runTransportCases(t *testing.T, mk func(t *testing.T, url string) Sender, n *Notification) {
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		se := sendErr(t, mk(t, url).Send(context.Background(), n))
		if se.Status != 0 || se.Permanent {
			t.Errorf("SendError = %+v, want Status 0, retryable", se)
		}
	})
	t.Run("ctx deadline", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := mk(t, srv.URL).Send(ctx, n)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Send took %v, want about the ctx timeout", took)
		}
		se := sendErr(t, err)
		if se.Status != 0 || se.Permanent || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send() = %+v, want Status 0, retryable, DeadlineExceeded", se)
		}
	})
}
