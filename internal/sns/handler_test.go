package sns

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// busyError is a Deliver error that asks for a retry after a while.
type busyError struct{ after time.Duration }

func (e busyError) Error() string             { return "spool full: /var/lib/vigil/spool" }
func (e busyError) RetryAfter() time.Duration { return e.after }

// recorder keeps what a Handler delivered.
type recorder struct {
	mu  sync.Mutex
	got []*Message
	err error
}

func (r *recorder) deliver(_ context.Context, m *Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.got = append(r.got, m)
	return nil
}

// request builds an SNS delivery of m as SNS sends it.
func request(m *Message) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/sns", bytes.NewReader(encode(m)))
	r.Header.Set("x-amz-sns-message-type", m.Type)
	r.Header.Set("x-amz-sns-message-id", m.MessageID)
	r.Header.Set("x-amz-sns-topic-arn", m.TopicArn)
	r.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	r.Header.Set("User-Agent", "Amazon Simple Notification Service Agent")
	return r
}

func TestHandler(t *testing.T) {
	t.Parallel()
	signed := func(mk func(*env) *Message, version string) func(*env) *http.Request {
		return func(e *env) *http.Request { return request(sign(mk(e), version)) }
	}
	tests := []struct {
		name       string
		req        func(*env) *http.Request
		deliverErr error
		maxBody    int64
		want       int
		delivered  int            // notifications handed to Deliver
		hits       map[string]int // requests the test server must have seen
		wantBody   string         // a part of the answer
		notInBody  string
		wantHeader map[string]string
		wantLog    string
	}{
		{name: "v1 notification", req: signed(func(e *env) *Message { return notification(e, true) }, "1"), want: 200, delivered: 1, hits: map[string]int{pathCert: 1}},
		{name: "v2 notification without Subject", req: signed(func(e *env) *Message { return notification(e, false) }, "2"), want: 200, delivered: 1},
		{name: "S3 notification from a wildcard topic", req: signed(func(e *env) *Message { return s3Notification(e) }, "2"), want: 200, delivered: 1},
		{name: "subscription confirmation", req: signed(func(e *env) *Message { return confirmation(e) }, "1"), want: 200,
			hits: map[string]int{pathConfirm: 1}, wantLog: "sns: subscribed"},
		{name: "confirmation from a wildcard topic", want: 200, hits: map[string]int{pathConfirm: 1},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.TopicArn = topicWildcard
				return request(sign(m, "2"))
			}},
		{name: "unsubscribe confirmation", req: signed(func(e *env) *Message { return unsubscribe(e) }, "2"), want: 200,
			hits: map[string]int{pathConfirm: 0}, wantLog: "sns: unsubscribed"},

		{name: "confirmation from a foreign topic", want: 403, wantBody: "allow-list",
			hits: map[string]int{pathConfirm: 0, pathCert: 0},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.TopicArn = topicForeign
				return request(sign(m, "2"))
			}},
		{name: "notification from a foreign topic", want: 403, hits: map[string]int{pathCert: 0},
			req: func(e *env) *http.Request {
				m := notification(e, true)
				m.TopicArn = "arn:aws:sns:us-west-2:123456789012:OtherTopic"
				return request(sign(m, "2"))
			}},
		{name: "SubscribeURL over http", want: 403, hits: map[string]int{pathConfirm: 0},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.SubscribeURL = strings.Replace(m.SubscribeURL, "https://", "http://", 1)
				return request(sign(m, "2"))
			}},
		{name: "SubscribeURL with user information", want: 403, hits: map[string]int{pathConfirm: 0},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.SubscribeURL = strings.Replace(m.SubscribeURL, "https://", "https://sns.us-west-2.amazonaws.com@", 1)
				return request(sign(m, "2"))
			}},
		{name: "SubscribeURL on another host", want: 403, hits: map[string]int{pathConfirm: 0},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.SubscribeURL = "https://sns.us-west-2.amazonaws.com.evil.com/?Action=ConfirmSubscription"
				return request(sign(m, "2"))
			}},
		{name: "SubscribeURL fails", want: 502, hits: map[string]int{pathFail: 1},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.SubscribeURL = e.url(pathFail) + "?Action=ConfirmSubscription&Token=SECRET-TOKEN"
				return request(sign(m, "2"))
			}, notInBody: "SECRET-TOKEN"},
		{name: "SubscribeURL redirects", want: 502, hits: map[string]int{pathRedirect: 1, pathTarget: 0},
			req: func(e *env) *http.Request {
				m := confirmation(e)
				m.SubscribeURL = e.url(pathRedirect)
				return request(sign(m, "2"))
			}},

		{name: "tampered Message", want: 403, wantLog: "signature does not verify",
			req: func(e *env) *http.Request {
				m := sign(notification(e, true), "2")
				m.Message = "Hello world?"
				return request(m)
			}},
		{name: "tampered Subject", want: 403, req: func(e *env) *http.Request {
			m := sign(notification(e, true), "1")
			m.Subject = "Re: My First Message"
			return request(m)
		}},
		{name: "tampered TopicArn", want: 403, req: func(e *env) *http.Request {
			m := sign(notification(e, true), "2")
			m.TopicArn = topicWildcard
			return request(m)
		}},
		{name: "tampered Timestamp", want: 403, req: func(e *env) *http.Request {
			m := sign(notification(e, true), "2")
			m.Timestamp = "2026-03-01T12:00:01.000Z"
			return request(m)
		}},
		{name: "stale", want: 403, hits: map[string]int{pathCert: 0}, wantBody: "too old",
			req: func(e *env) *http.Request {
				m := notification(e, true)
				m.Timestamp = sent.Add(-2 * time.Hour).Format("2006-01-02T15:04:05.000Z")
				return request(sign(m, "2"))
			}},
		{name: "expired certificate", want: 403, req: func(e *env) *http.Request {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathExpired)
			return request(sign(m, "2"))
		}},
		{name: "certificate on a foreign host", want: 403, hits: map[string]int{pathCert: 0},
			req: func(e *env) *http.Request {
				m := notification(e, true)
				m.SigningCertURL = "https://evil.com/SimpleNotificationService-x.pem"
				return request(sign(m, "2"))
			}},
		{name: "certificate unavailable", want: 503, req: func(e *env) *http.Request {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathMissing)
			return request(sign(m, "2"))
		}},

		{name: "GET", want: 405, wantHeader: map[string]string{"Allow": "POST"},
			req: func(e *env) *http.Request { return httptest.NewRequest(http.MethodGet, "/sns", nil) }},
		{name: "oversize body", want: 413, maxBody: 512, req: func(e *env) *http.Request {
			m := notification(e, true)
			m.Message = strings.Repeat("x", 600)
			return request(sign(m, "2"))
		}},
		{name: "header type differs from body", want: 400, wantBody: "does not match Type",
			req: func(e *env) *http.Request {
				r := request(sign(notification(e, true), "2"))
				r.Header.Set("x-amz-sns-message-type", TypeSubscriptionConfirmation)
				return r
			}},
		{name: "header topic differs from body", want: 400, wantBody: "x-amz-sns-topic-arn",
			req: func(e *env) *http.Request {
				r := request(sign(notification(e, true), "2"))
				r.Header.Set("x-amz-sns-topic-arn", topicWildcard)
				return r
			}},
		{name: "no type header", want: 400, req: func(e *env) *http.Request {
			r := request(sign(notification(e, true), "2"))
			r.Header.Del("x-amz-sns-message-type")
			return r
		}},
		{name: "unknown type", want: 400, wantBody: "not an SNS message type",
			req: func(e *env) *http.Request {
				m := sign(notification(e, true), "2")
				m.Type = "Notice"
				return request(m)
			}},
		{name: "raw delivery header", want: 400, wantBody: "RawMessageDelivery=false",
			req: func(e *env) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/sns", strings.NewReader(`{"Records":[]}`))
				r.Header.Set("x-amz-sns-message-type", TypeNotification)
				r.Header.Set("x-amz-sns-rawdelivery", "true")
				return r
			}},
		{name: "raw body without the header", want: 400, wantBody: "raw message delivery",
			req: func(e *env) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/sns", strings.NewReader(`{"Records":[]}`))
				r.Header.Set("x-amz-sns-message-type", TypeNotification)
				return r
			}},
		{name: "not JSON", want: 400, req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/sns", strings.NewReader(`Type=Notification`))
			r.Header.Set("x-amz-sns-message-type", TypeNotification)
			return r
		}},

		{name: "Deliver fails", want: 503, deliverErr: errors.New("disk full at /var/lib/vigil"),
			req: signed(func(e *env) *Message { return notification(e, true) }, "2"), notInBody: "/var/lib/vigil",
			wantHeader: map[string]string{"Retry-After": ""}},
		{name: "Deliver busy", want: 503, deliverErr: busyError{1500 * time.Millisecond},
			req: signed(func(e *env) *Message { return notification(e, true) }, "2"), notInBody: "spool",
			wantHeader: map[string]string{"Retry-After": "2"}},
		{name: "Deliver busy, wrapped", want: 503, deliverErr: errors.Join(errors.New("x"), busyError{time.Minute}),
			req: signed(func(e *env) *Message { return notification(e, true) }, "2"), wantHeader: map[string]string{"Retry-After": "60"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Each case has its own server, so that request counts are its own.
			ce := newEnv(t)
			req := tc.req(ce)
			var logs bytes.Buffer
			rec := &recorder{err: tc.deliverErr}
			h, err := NewHandler(HandlerOptions{
				Topics:   []string{topicDoc, "arn:aws:sns:*:123456789012:vigil-*"},
				Verifier: ce.verifier(VerifierOptions{}),
				MaxBody:  tc.maxBody,
				Deliver:  rec.deliver,
				Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Errorf("status = %d, want %d (body %q; log %s)", w.Code, tc.want, w.Body, logs.String())
			}
			if len(rec.got) != tc.delivered {
				t.Errorf("delivered %d messages, want %d", len(rec.got), tc.delivered)
			}
			for path, n := range tc.hits {
				if got := ce.count(path); got != n {
					t.Errorf("%s requested %d times, want %d", path, got, n)
				}
			}
			if !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("body = %q, want it to contain %q", w.Body, tc.wantBody)
			}
			if tc.notInBody != "" && strings.Contains(w.Body.String(), tc.notInBody) {
				t.Errorf("body = %q, must not contain %q", w.Body, tc.notInBody)
			}
			for k, v := range tc.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log = %q, want it to contain %q", logs.String(), tc.wantLog)
			}
		})
	}
}

// TestHandlerDelivers checks what Deliver receives: the verified message,
// its text exactly as published.
func TestHandlerDelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := new(recorder)
	h, err := NewHandler(HandlerOptions{
		Topics:   []string{"arn:aws:sns:eu-west-1:123456789012:vigil-alerts"},
		Verifier: e.verifier(VerifierOptions{}),
		Deliver:  rec.deliver,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := sign(s3Notification(e), "2")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(want))
	if w.Code != http.StatusOK || len(rec.got) != 1 {
		t.Fatalf("status %d, %d delivered: %s", w.Code, len(rec.got), w.Body)
	}
	got := rec.got[0]
	if got.Message != want.Message || got.Subject != want.Subject || got.MessageID != want.MessageID || got.TopicArn != want.TopicArn {
		t.Errorf("delivered %+v, want %+v", got, want)
	}
}

// TestHandlerLogs checks that a refused message is logged at warn with
// its topic and id, and never with its body.
func TestHandlerLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var logs bytes.Buffer
	h, err := NewHandler(HandlerOptions{
		Topics:   []string{topicDoc},
		Verifier: e.verifier(VerifierOptions{}),
		Deliver:  func(context.Context, *Message) error { return nil },
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := sign(notification(e, true), "2")
	m.Message = `{"secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(m))
	if w.Code != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", w.Code)
	}
	out := logs.String()
	for _, want := range []string{`"level":"WARN"`, `"topic":"` + topicDoc + `"`, `"message_id":"` + m.MessageID + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
	if strings.Contains(out, "wJalrXUtnFEMI") {
		t.Errorf("log %s contains the message body", out)
	}
}

func TestNewHandler(t *testing.T) {
	t.Parallel()
	deliver := func(context.Context, *Message) error { return nil }
	tests := []struct {
		name    string
		o       HandlerOptions
		wantErr []string
	}{
		{name: "minimal", o: HandlerOptions{Topics: []string{topicDoc}, Deliver: deliver}},
		{name: "wildcards", o: HandlerOptions{Deliver: deliver, Topics: []string{
			"arn:aws:sns:*:123456789012:vigil-*", "arn:*:sns:us-*-1:123456789012:*", "arn:aws-cn:sns:cn-north-1:123456789012:t.fifo"}}},
		{name: "nothing", o: HandlerOptions{}, wantErr: []string{"at least one topic", "Deliver is required"}},
		{name: "bad patterns", o: HandlerOptions{Deliver: deliver, MaxBody: -1, Topics: []string{
			"arn:aws:sns:*:*:vigil-*",
			"arn:aws:sns:us-east-1:12345678901:t",
			"arn:aws:sqs:us-east-1:123456789012:t",
			"arn:aws:sns:us-east-1:123456789012",
			"arn:aws:sns:us-east-1:123456789012:t:sub",
			"aws:sns:us-east-1:123456789012:t:x",
			"arn:aws:sns:us east 1:123456789012:t",
			"arn:aws:sns::123456789012:t",
			"*",
		}}, wantErr: []string{
			`topics[0] "arn:aws:sns:*:*:vigil-*": account must be a 12-digit account id`,
			"topics[1]", `topics[2] "arn:aws:sqs:us-east-1:123456789012:t": service is not "sns"`,
			"topics[3]", "topics[4]", "topics[5]", `topics[6] "arn:aws:sns:us east 1:123456789012:t": character ' ' not allowed`,
			"topics[7]", "topics[8]", "MaxBody -1 is negative",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewHandler(tc.o)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("NewHandler() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewHandler() = nil, want errors %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("NewHandler() = %v\nwant it to contain %q", err, want)
				}
			}
		})
	}
}

func TestTopicsMatch(t *testing.T) {
	t.Parallel()
	tp, err := compileTopics([]string{
		"arn:aws:sns:us-west-2:123456789012:MyTopic",
		"arn:aws:sns:*:123456789012:vigil-*",
		"arn:aws*:sns:*:210987654321:*-alerts",
	})
	if err != nil {
		t.Fatal(err)
	}
	for arn, want := range map[string]bool{
		"arn:aws:sns:us-west-2:123456789012:MyTopic":             true,
		"arn:aws:sns:us-west-2:123456789012:mytopic":             false,
		"arn:aws:sns:us-west-2:123456789012:MyTopic2":            false,
		"arn:aws:sns:us-east-1:123456789012:MyTopic":             false,
		"arn:aws:sns:eu-west-1:123456789012:vigil-":              true,
		"arn:aws:sns:eu-west-1:123456789012:vigil-cloudtrail":    true,
		"arn:aws:sns:cn-north-1:123456789012:vigil-x":            true,
		"arn:aws-cn:sns:cn-north-1:123456789012:vigil-x":         false,
		"arn:aws:sns:eu-west-1:999999999999:vigil-x":             false,
		"arn:aws:sns:eu-west-1:123456789012:evil:vigil-x":        false,
		"arn:aws:sns:eu-west-1:123456789012:x-vigil-x":           false,
		"arn:aws:sns:eu-west-1:123456789012:vigil-x:sub-id":      false,
		"arn:aws:sns::123456789012:vigil-x":                      true, // * matches an empty run
		"arn:aws-us-gov:sns:us-gov-west-1:210987654321:a-alerts": true,
		"arn:aws:sns:us-east-1:210987654321:alerts":              false,
		"":                                   false,
		"arn:aws:sns:us-east-1:123456789012": false,
	} {
		if got := tp.match(arn); got != want {
			t.Errorf("match(%q) = %v, want %v", arn, got, want)
		}
	}
}

// TestHandlerDefaultsAreStrict checks that a Handler built without a
// Verifier trusts SNS hosts only: the local server is never contacted.
func TestHandlerDefaultsAreStrict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h, err := NewHandler(HandlerOptions{
		Topics:  []string{topicDoc},
		Deliver: func(context.Context, *Message) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.v.now = e.clock.now
	for _, m := range []*Message{sign(notification(e, true), "2"), sign(confirmation(e), "2")} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request(m))
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not an SNS host") {
			t.Errorf("%s: status %d %q, want 403 not an SNS host", m.Type, w.Code, w.Body)
		}
	}
	if n := e.total(); n != 0 {
		t.Errorf("the default handler made %d requests to a non-SNS host", n)
	}
}
