package sns

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStringToSignDocExamples checks stringToSign against the two strings
// to sign printed in AWS's "Verifying the signatures of Amazon SNS
// messages".
func TestStringToSignDocExamples(t *testing.T) {
	t.Parallel()
	n := &Message{
		Type:       TypeNotification,
		Message:    "My Test Message",
		MessageID:  "4d4dc071-ddbf-465d-bba8-08f81c89da64",
		Subject:    "My subject",
		HasSubject: true,
		Timestamp:  "2019-01-31T04:37:04.321Z",
		TopicArn:   "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
		// Not covered by the signature:
		UnsubscribeURL: "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
		SigningCertURL: "https://sns.us-east-2.amazonaws.com/x.pem",
		MessageAttributes: map[string]Attribute{
			"a": {Type: "String", Value: "b"},
		},
	}
	want := "Message\nMy Test Message\n" +
		"MessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n" +
		"Subject\nMy subject\n" +
		"Timestamp\n2019-01-31T04:37:04.321Z\n" +
		"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n" +
		"Type\nNotification\n"
	if got := string(stringToSign(n)); got != want {
		t.Errorf("stringToSign(notification) = %q, want %q", got, want)
	}

	c := &Message{
		Type:         TypeSubscriptionConfirmation,
		Message:      "My Test Message",
		MessageID:    "3d891288-136d-417f-bc05-901c108273ee",
		SubscribeURL: "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P&Token=233...",
		Timestamp:    "2019-01-31T19:25:13.719Z",
		Token:        "233...",
		TopicArn:     "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
	}
	want = "Message\nMy Test Message\n" +
		"MessageId\n3d891288-136d-417f-bc05-901c108273ee\n" +
		"SubscribeURL\nhttps://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P&Token=233...\n" +
		"Timestamp\n2019-01-31T19:25:13.719Z\n" +
		"Token\n233...\n" +
		"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n" +
		"Type\nSubscriptionConfirmation\n"
	if got := string(stringToSign(c)); got != want {
		t.Errorf("stringToSign(confirmation) = %q, want %q", got, want)
	}
}

// TestStringToSignOrder checks that the names come in byte order for every
// type, with and without Subject, and match the independent builder.
func TestStringToSignOrder(t *testing.T) {
	t.Parallel()
	for _, m := range []*Message{
		{Type: TypeNotification, Message: "m", MessageID: "i", Timestamp: "t", TopicArn: "a"},
		{Type: TypeNotification, Message: "m", MessageID: "i", Timestamp: "t", TopicArn: "a", HasSubject: true},
		{Type: TypeSubscriptionConfirmation, Message: "m", MessageID: "i", Timestamp: "t", TopicArn: "a", Token: "k", SubscribeURL: "u"},
		{Type: TypeUnsubscribeConfirmation, Message: "m", MessageID: "i", Timestamp: "t", TopicArn: "a", Token: "k", SubscribeURL: "u"},
	} {
		s := string(stringToSign(m))
		if s != string(canonical(m)) {
			t.Errorf("stringToSign(%s) = %q, want %q", m.Type, s, canonical(m))
		}
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		var names []string
		for i := 0; i < len(lines); i += 2 {
			names = append(names, lines[i])
		}
		if !slices.IsSorted(names) {
			t.Errorf("stringToSign(%s) names %q are not in byte order", m.Type, names)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		msg   func() *Message
		clock time.Duration // added to the env clock's start
		want  error
	}{
		{name: "v1 notification with Subject", msg: func() *Message { return sign(notification(e, true), "1") }},
		{name: "v1 notification without Subject", msg: func() *Message { return sign(notification(e, false), "1") }},
		{name: "v2 notification with Subject", msg: func() *Message { return sign(notification(e, true), "2") }},
		{name: "v2 notification without Subject", msg: func() *Message { return sign(notification(e, false), "2") }},
		{name: "v2 notification with empty Subject", msg: func() *Message {
			m := notification(e, true)
			m.Subject = ""
			return sign(m, "2")
		}},
		{name: "v2 S3 notification", msg: func() *Message { return sign(s3Notification(e), "2") }},
		{name: "v1 subscription confirmation", msg: func() *Message { return sign(confirmation(e), "1") }},
		{name: "v2 unsubscribe confirmation", msg: func() *Message { return sign(unsubscribe(e), "2") }},
		{name: "attributes are not signed", msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.MessageAttributes = map[string]Attribute{"x": {Type: "String", Value: "y"}}
			return m
		}},
		{name: "clock behind the message", clock: -2 * time.Hour,
			msg: func() *Message { return sign(notification(e, true), "2") }},
		{name: "an hour old", clock: time.Hour - time.Minute,
			msg: func() *Message { return sign(notification(e, true), "2") }},

		{name: "tampered Message", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.Message = "Hello world?"
			return m
		}},
		{name: "tampered Subject", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "1")
			m.Subject = "My Second Message"
			return m
		}},
		{name: "Subject removed", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.Subject, m.HasSubject = "", false
			return m
		}},
		{name: "empty Subject added", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, false), "2")
			m.HasSubject = true
			return m
		}},
		{name: "tampered TopicArn", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.TopicArn = topicWildcard
			return m
		}},
		{name: "tampered Timestamp", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.Timestamp = "2026-03-01T12:00:30.000Z"
			return m
		}},
		{name: "tampered MessageId", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.MessageID = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf325"
			return m
		}},
		{name: "tampered SubscribeURL", want: ErrBadSignature, msg: func() *Message {
			m := sign(confirmation(e), "2")
			m.SubscribeURL += "&x=1"
			return m
		}},
		{name: "tampered Token", want: ErrBadSignature, msg: func() *Message {
			m := sign(confirmation(e), "1")
			m.Token = "0" + m.Token[1:]
			return m
		}},
		{name: "confirmation signed as unsubscribe", want: ErrBadSignature, msg: func() *Message {
			m := sign(unsubscribe(e), "2")
			m.Type = TypeSubscriptionConfirmation
			return m
		}},
		{name: "v1 signature claimed as v2", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "1")
			m.SignatureVersion = "2"
			return m
		}},
		{name: "unknown SignatureVersion", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.SignatureVersion = "3"
			return m
		}},
		{name: "Signature not base64", want: ErrBadSignature, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.Signature = "not base64!"
			return m
		}},
		{name: "stale", clock: time.Hour, want: ErrStale,
			msg: func() *Message { return sign(notification(e, true), "2") }},
		{name: "expired certificate", want: ErrBadSignature, msg: func() *Message {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathExpired)
			return sign(m, "2")
		}},
		{name: "certificate not PEM", want: ErrBadSignature, msg: func() *Message {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathNotPEM)
			return sign(m, "2")
		}},
		{name: "certificate with an ECDSA key", want: ErrBadSignature, msg: func() *Message {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathECDSA)
			return sign(m, "2")
		}},
		{name: "certificate not found", want: ErrFetch, msg: func() *Message {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathMissing)
			return sign(m, "2")
		}},
		{name: "certificate redirected", want: ErrFetch, msg: func() *Message {
			m := notification(e, true)
			m.SigningCertURL = e.url(pathRedirect)
			return sign(m, "2")
		}},
		{name: "certificate on another host", want: ErrUntrustedURL, msg: func() *Message {
			m := notification(e, true)
			m.SigningCertURL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem"
			return sign(m, "2")
		}},
		{name: "not a complete message", want: ErrMalformed, msg: func() *Message {
			m := sign(notification(e, true), "2")
			m.Signature = ""
			return m
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClock(sent.Add(time.Minute + tc.clock))
			v := e.verifier(VerifierOptions{})
			v.now = c.now
			err := v.Verify(t.Context(), tc.msg())
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify() = %v, want %v", err, tc.want)
			}
		})
	}
	if n := e.count(pathTarget); n != 0 {
		t.Errorf("redirect target fetched %d times, want 0", n)
	}
}

// TestVerifyParsed verifies messages that went through encode and Parse,
// as the handler does: JSON escaping must give back the signed text.
func TestVerifyParsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.verifier(VerifierOptions{})
	for _, m := range []*Message{
		sign(notification(e, true), "1"),
		sign(notification(e, false), "2"),
		sign(s3Notification(e), "2"),
		sign(confirmation(e), "2"),
		sign(unsubscribe(e), "1"),
	} {
		p, err := Parse(encode(m))
		if err != nil {
			t.Fatalf("Parse(encode(%s)): %v", m.Type, err)
		}
		if err := v.Verify(t.Context(), p); err != nil {
			t.Errorf("Verify(Parse(encode(%s %s))) = %v", m.Type, m.MessageID, err)
		}
	}
}

// countingTransport records requests and answers none of them.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("no network in tests")
}

// TestVerifyUntrustedCertURL uses the production host rule: a URL it
// refuses must cause no request at all.
func TestVerifyUntrustedCertURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []string{
		"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
		"https://evil.com/SimpleNotificationService-x.pem",
		"https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
		"https://sns.us-east-1.amazonaws.com.cn.evil.com/x.pem",
		"https://evilsns.us-east-1.amazonaws.com/x.pem",
		"https://sns.evil.com/x.pem",
		"https://sns..amazonaws.com/x.pem",
		"https://s3.us-east-1.amazonaws.com/x.pem",
		"https://sns.us-east-1.amazonaws.com./x.pem",
		"https://SNS.us-east-1.amazonaws.com/x.pem",
		"https://user@sns.us-east-1.amazonaws.com/x.pem",
		"https://user:pass@sns.us-east-1.amazonaws.com/x.pem",
		"https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
		`https://sns.us-east-1.amazonaws.com\@evil.com/x.pem`,
		"https://evil.com#@sns.us-east-1.amazonaws.com/x.pem",
		"https://evil.com?@sns.us-east-1.amazonaws.com/x.pem",
		"https://sns.us-east-1.amazonaws.com%2eevil.com/x.pem",
		"https://sns.us-east-1.amazonaws.com:443/x.pem",
		"https://sns.us-east-1.amazonaws.com:8443/x.pem",
		"https://sns.us-east-1.amazonaws.com:/x.pem",
		"https://54.239.1.1/x.pem",
		"https://[::1]/x.pem",
		"https://127.0.0.1:443/x.pem",
		"https:sns.us-east-1.amazonaws.com/x.pem",
		"https:///x.pem",
		"//sns.us-east-1.amazonaws.com/x.pem",
		"sns.us-east-1.amazonaws.com/x.pem",
		"file:///etc/passwd",
		"ftp://sns.us-east-1.amazonaws.com/x.pem",
		" https://sns.us-east-1.amazonaws.com/x.pem",
		"https://sns.us-east-1.amazonaws.com\n/x.pem",
	} {
		t.Run(u, func(t *testing.T) {
			t.Parallel()
			tr := new(countingTransport)
			c := newClock(sent.Add(time.Minute))
			v := NewVerifier(VerifierOptions{Client: &http.Client{Transport: tr}, Now: c.now})
			m := notification(e, true)
			m.SigningCertURL = u
			err := v.Verify(t.Context(), sign(m, "2"))
			if !errors.Is(err, ErrUntrustedURL) {
				t.Errorf("Verify(SigningCertURL %q) = %v, want ErrUntrustedURL", u, err)
			}
			if n := tr.n.Load(); n != 0 {
				t.Errorf("Verify(SigningCertURL %q) made %d requests, want 0", u, n)
			}
		})
	}

	// The control: a genuine-looking URL is fetched (and fails here).
	tr := new(countingTransport)
	c := newClock(sent.Add(time.Minute))
	v := NewVerifier(VerifierOptions{Client: &http.Client{Transport: tr}, Now: c.now})
	m := notification(e, true)
	m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"
	if err := v.Verify(t.Context(), sign(m, "2")); !errors.Is(err, ErrFetch) || tr.n.Load() != 1 {
		t.Errorf("Verify(genuine URL) = %v after %d requests, want ErrFetch after 1", err, tr.n.Load())
	}
}

func TestVerifyStaleMakesNoRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.verifier(VerifierOptions{MaxAge: 10 * time.Minute})
	e.clock.add(10 * time.Minute)
	if err := v.Verify(t.Context(), sign(notification(e, true), "2")); !errors.Is(err, ErrStale) {
		t.Errorf("Verify() = %v, want ErrStale", err)
	}
	if n := e.total(); n != 0 {
		t.Errorf("Verify(stale) made %d requests, want 0", n)
	}

	// A negative MaxAge turns the check off.
	v = e.verifier(VerifierOptions{MaxAge: -1})
	e.clock.add(24 * time.Hour)
	if err := v.Verify(t.Context(), sign(notification(e, true), "2")); err != nil {
		t.Errorf("Verify() with MaxAge -1 = %v, want nil", err)
	}
}

func TestIsSNSHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"sns.us-east-1.amazonaws.com":          true,
		"sns.eu-west-1.amazonaws.com":          true,
		"sns.ap-southeast-5.amazonaws.com":     true,
		"sns.us-gov-west-1.amazonaws.com":      true,
		"sns.cn-north-1.amazonaws.com.cn":      true,
		"sns.cn-northwest-1.amazonaws.com.cn":  true,
		"sns.amazonaws.com":                    false,
		"sns.us-east-1.amazonaws.com:443":      false,
		"sns.us-east-1.amazonaws.com.":         false,
		"sns.us-east-1.amazonaws.com.evil.com": false,
		"sns.us_east_1.amazonaws.com":          false,
		"sns.us-east-1.amazonaws.co":           false,
		"sns.us-east-1.amazonaws.com.cn.cn":    false,
		"xsns.us-east-1.amazonaws.com":         false,
		"sns.us-east-1.evil.amazonaws.com":     false,
		"SNS.US-EAST-1.AMAZONAWS.COM":          false,
		"":                                     false,
	} {
		if got := IsSNSHost(host); got != want {
			t.Errorf("IsSNSHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCertCacheFetchesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.verifier(VerifierOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			version := []string{"1", "2"}[i%2]
			errs <- v.Verify(context.Background(), sign(notification(e, i%3 == 0), version))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify() = %v", err)
		}
	}
	for range 10 {
		if err := v.Verify(t.Context(), sign(confirmation(e), "2")); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(pathCert); n != 1 {
		t.Errorf("certificate fetched %d times for 50 messages, want 1", n)
	}

	// Past the TTL the certificate is fetched again.
	e.clock.add(defaultCacheTTL)
	if err := v.Verify(t.Context(), sign(notification(e, true), "2")); !errors.Is(err, ErrStale) {
		t.Fatalf("Verify() = %v, want ErrStale (the message is now old too)", err)
	}
	v.maxAge = 48 * time.Hour
	if err := v.Verify(t.Context(), sign(notification(e, true), "2")); err != nil {
		t.Fatal(err)
	}
	if n := e.count(pathCert); n != 2 {
		t.Errorf("certificate fetched %d times after the TTL, want 2", n)
	}
}

func TestCertCacheBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.verifier(VerifierOptions{CacheSize: 2})
	verify := func(q string) {
		t.Helper()
		m := notification(e, true)
		m.SigningCertURL = e.url(pathCert) + "?v=" + q
		if err := v.Verify(t.Context(), sign(m, "2")); err != nil {
			t.Fatalf("Verify(%s) = %v", q, err)
		}
	}
	verify("a")
	e.clock.add(time.Second)
	verify("b")
	e.clock.add(time.Second)
	verify("a") // a is now more recently used than b
	e.clock.add(time.Second)
	verify("c") // evicts b
	if n := v.certs.len(); n != 2 {
		t.Errorf("cache holds %d certificates, want 2", n)
	}
	if n := e.count(pathCert); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	e.clock.add(time.Second)
	verify("a") // still cached
	if n := e.count(pathCert); n != 3 {
		t.Errorf("%d fetches after a cached URL, want 3", n)
	}
	verify("b") // evicted: fetched again
	if n := e.count(pathCert); n != 4 {
		t.Errorf("%d fetches after an evicted URL, want 4", n)
	}
}

func TestCertCacheFailureNotKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.verifier(VerifierOptions{})
	m := notification(e, true)
	m.SigningCertURL = e.url(pathMissing)
	sign(m, "2")
	for range 3 {
		if err := v.Verify(t.Context(), m); !errors.Is(err, ErrFetch) {
			t.Fatalf("Verify() = %v, want ErrFetch", err)
		}
	}
	if n := e.count(pathMissing); n != 3 {
		t.Errorf("failed fetch tried %d times for 3 messages, want 3", n)
	}
	if n := v.certs.len(); n != 0 {
		t.Errorf("cache holds %d entries after failures, want 0", n)
	}
}

func TestCertCacheFullOfFetches(t *testing.T) {
	t.Parallel()
	c := newCertCache(1, time.Hour)
	release := make(chan struct{})
	started := make(chan struct{})
	go c.get(context.Background(), "a", sent, func(context.Context) (*x509.Certificate, error) {
		close(started)
		<-release
		return nil, errors.New("done")
	})
	<-started
	_, err := c.get(t.Context(), "b", sent, func(context.Context) (*x509.Certificate, error) {
		t.Error("second fetch started while the cache was full of fetches")
		return nil, nil
	})
	if !errors.Is(err, ErrFetch) {
		t.Errorf("get() = %v, want ErrFetch", err)
	}
	close(release)

	// A waiter whose context ends stops waiting.
	ctx, cancel := context.WithCancel(t.Context())
	block := make(chan struct{})
	defer close(block)
	c2 := newCertCache(4, time.Hour)
	done := make(chan error)
	go func() {
		_, err := c2.get(ctx, "a", sent, func(context.Context) (*x509.Certificate, error) {
			<-block
			return nil, errors.New("late")
		})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("get() with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestNewVerifierClient(t *testing.T) {
	t.Parallel()
	c := &http.Client{Transport: new(countingTransport)}
	v := NewVerifier(VerifierOptions{Client: c})
	if c.CheckRedirect != nil || c.Timeout != 0 {
		t.Error("NewVerifier changed the caller's client")
	}
	if v.f.client.Timeout != DefaultTimeout || v.f.client.CheckRedirect == nil || v.f.client.Transport != c.Transport {
		t.Errorf("NewVerifier client = %+v, want the caller's transport, DefaultTimeout and no redirects", v.f.client)
	}
}
