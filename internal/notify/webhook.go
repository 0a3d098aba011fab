package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
)

// Headers of a webhook request that Vigil sets and configuration cannot.
const (
	// WebhookSignatureHeader carries "sha256=" and the hex HMAC-SHA256,
	// keyed with the receiver's secret, of the timestamp, a full stop,
	// and the exact request body. It is sent only when a secret is set.
	WebhookSignatureHeader = "X-Vigil-Signature"
	// WebhookTimestampHeader carries the time of sending in Unix
	// seconds. It is part of what is signed, so that a receiver can
	// refuse old requests replayed.
	WebhookTimestampHeader = "X-Vigil-Timestamp"
)

// WebhookPayload is the JSON body of a webhook request. Version is "1";
// Alerts are in Vigil's alert JSON, the form of `vigil scan --format
// json`.
type WebhookPayload struct {
	Version  string         `json:"version"`
	Receiver string         `json:"receiver"`
	GroupKey string         `json:"group_key"`
	Test     bool           `json:"test"`
	Alerts   []*alert.Alert `json:"alerts"`
}

// webhook posts notifications as JSON, signed when a secret is set.
//
// The signature lets a receiver check that a request comes from Vigil
// and was not changed: with ts the X-Vigil-Timestamp header and body the
// raw request body, it is
//
//	X-Vigil-Signature: sha256=hex(HMAC-SHA256(secret, ts + "." + body))
//
// A receiver computes the same over the bytes it received (before any
// JSON parsing), compares in constant time ([VerifyWebhook] does both),
// and refuses timestamps more than a few minutes from its clock.
type webhook struct {
	name   string
	url    string
	secret []byte
	p      *poster
}

func newWebhook(name string, c *config.WebhookReceiver, o Options) (*webhook, error) {
	if _, err := parseHTTPURL(c.URL); err != nil {
		return nil, fmt.Errorf("receiver %q: webhook.url: %w", name, err)
	}
	if err := checkHeaders(c.Headers, "Content-Type", WebhookSignatureHeader, WebhookTimestampHeader); err != nil {
		return nil, fmt.Errorf("receiver %q: webhook.headers: %w", name, err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("receiver %q: webhook.timeout: must not be negative", name)
	}
	var secrets []string
	if c.Secret != "" {
		secrets = append(secrets, c.Secret)
	}
	for _, v := range c.Headers { // an Authorization header, an API key
		if len(v) >= 8 {
			secrets = append(secrets, v)
		}
	}
	return &webhook{name: name, url: c.URL, secret: []byte(c.Secret), p: newPoster(name, c.Timeout, c.Headers, o, secrets...)}, nil
}

// Name implements Sender.
func (s *webhook) Name() string { return s.name }

// Send implements Sender. A 2xx answer is success; 408, 425, 429 and
// 5xx are worth a retry (after Retry-After when given); any other 4xx
// is permanent.
func (s *webhook) Send(ctx context.Context, n *Notification) error {
	body, err := json.Marshal(&WebhookPayload{
		Version:  "1",
		Receiver: n.Receiver,
		GroupKey: n.GroupKey,
		Test:     n.Test,
		Alerts:   n.Alerts,
	})
	if err != nil {
		return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("encode alerts: %w", err)}
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return s.p.post(ctx, s.url, body, func(h http.Header) {
		h.Set(WebhookTimestampHeader, ts)
		h.Del(WebhookSignatureHeader)
		if len(s.secret) > 0 {
			h.Set(WebhookSignatureHeader, signWebhook(s.secret, ts, body))
		}
	})
}

// signWebhook returns the X-Vigil-Signature value for body sent at ts.
func signWebhook(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignWebhook returns the X-Vigil-Signature value for body sent at ts
// (the X-Vigil-Timestamp value): how a sender signs requests to Vigil's
// own ingest endpoint.
func SignWebhook(secret, ts string, body []byte) string {
	return signWebhook([]byte(secret), ts, body)
}

// VerifyWebhook reports whether sig, an X-Vigil-Signature header value,
// signs body sent at ts (the X-Vigil-Timestamp header value) with
// secret. It compares in constant time. It does not judge ts: a
// receiver should also refuse a timestamp far from its own clock.
func VerifyWebhook(secret string, ts string, body []byte, sig string) bool {
	got, ok := strings.CutPrefix(sig, "sha256=")
	if !ok || secret == "" {
		return false
	}
	mac, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(signWebhook([]byte(secret), ts, body), "sha256="))
	return hmac.Equal(mac, want)
}
