package sns

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests' clock: messages are stamped at sent, and verified a minute
// later unless a test moves the clock.
var (
	sent    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sentStr = "2026-03-01T12:00:00.000Z"
)

// testKey is the RSA key every test certificate holds.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// certPEM returns a self-signed certificate for pub valid from nb to na.
func certPEM(t testing.TB, pub, priv any, nb, na time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := new(clock)
	c.set(t)
	return c
}
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// env is an HTTPS server playing SNS's certificate and confirmation
// endpoints, counting the requests of each path.
type env struct {
	srv   *httptest.Server
	clock *clock

	mu   sync.Mutex
	hits map[string]int
}

// paths served by env.
const (
	pathCert     = "/SimpleNotificationService-test.pem"
	pathExpired  = "/expired.pem"
	pathNotPEM   = "/notpem.pem"
	pathECDSA    = "/ecdsa.pem"
	pathMissing  = "/missing.pem"
	pathConfirm  = "/confirm"
	pathFail     = "/confirm-fail"
	pathRedirect = "/redirect"
	pathTarget   = "/redirect-target"
)

func newEnv(t testing.TB) *env {
	t.Helper()
	k := testKey()
	good := certPEM(t, &k.PublicKey, k, sent.AddDate(-1, 0, 0), sent.AddDate(1, 0, 0))
	expired := certPEM(t, &k.PublicKey, k, sent.AddDate(-2, 0, 0), sent.AddDate(0, 0, -1))
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec := certPEM(t, &ek.PublicKey, ek, sent.AddDate(-1, 0, 0), sent.AddDate(1, 0, 0))

	e := &env{clock: newClock(sent.Add(time.Minute)), hits: map[string]int{}}
	mux := http.NewServeMux()
	serve := func(path string, f func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			e.hits[path]++
			e.mu.Unlock()
			f(w, r)
		})
	}
	serve(pathCert, func(w http.ResponseWriter, _ *http.Request) { w.Write(good) })
	serve(pathExpired, func(w http.ResponseWriter, _ *http.Request) { w.Write(expired) })
	serve(pathNotPEM, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>not a certificate</html>")) })
	serve(pathECDSA, func(w http.ResponseWriter, _ *http.Request) { w.Write(ec) })
	serve(pathMissing, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	serve(pathConfirm, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") != "ConfirmSubscription" {
			http.Error(w, "bad action", http.StatusBadRequest)
			return
		}
		// The answer documented for a visit to a SubscribeURL.
		w.Write([]byte(`<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ConfirmSubscriptionResult>
    <SubscriptionArn>arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55</SubscriptionArn>
  </ConfirmSubscriptionResult>
  <ResponseMetadata><RequestId>075ecce8-8dac-11e1-bf80-f781d96e9307</RequestId></ResponseMetadata>
</ConfirmSubscriptionResponse>`))
	})
	serve(pathFail, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	serve(pathRedirect, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, pathTarget, http.StatusFound)
	})
	serve(pathTarget, func(w http.ResponseWriter, _ *http.Request) { w.Write(good) })
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// host is the test server's authority, 127.0.0.1:PORT.
func (e *env) host() string { return strings.TrimPrefix(e.srv.URL, "https://") }

// url returns the URL of path on the test server, or on SNS for an env
// without one (fuzz seeds).
func (e *env) url(path string) string {
	if e.srv == nil {
		return "https://sns.us-west-2.amazonaws.com" + path
	}
	return e.srv.URL + path
}

func (e *env) count(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[path]
}

func (e *env) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.hits {
		n += c
	}
	return n
}

// verifier returns a Verifier that trusts only the test server.
func (e *env) verifier(o VerifierOptions) *Verifier {
	o.HostAllowed = func(h string) bool { return h == e.host() }
	o.Client = e.srv.Client()
	o.Now = e.clock.now
	return NewVerifier(o)
}

const (
	topicDoc      = "arn:aws:sns:us-west-2:123456789012:MyTopic"
	topicWildcard = "arn:aws:sns:eu-west-1:123456789012:vigil-alerts"
	topicForeign  = "arn:aws:sns:us-west-2:999999999999:MyTopic"
)

// The messages below follow the shapes of the examples in AWS's SNS
// developer guide ("Parsing message formats"), restamped and signed with
// the test key.

func notification(e *env, subject bool) *Message {
	m := &Message{
		Type:           TypeNotification,
		MessageID:      "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		TopicArn:       topicDoc,
		Message:        "Hello world!",
		Timestamp:      sentStr,
		SigningCertURL: e.url(pathCert),
		UnsubscribeURL: "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96",
	}
	if subject {
		m.Subject, m.HasSubject = "My First Message", true
	}
	return m
}

// s3Notification is an S3 event notification published to a topic: the
// Message is the event's JSON, with the quotes, slashes and non-ASCII
// text that JSON escaping must round-trip exactly for the signature.
func s3Notification(e *env) *Message {
	m := notification(e, true)
	m.MessageID = "8b1e2f0c-7d35-5b8e-a0c4-2e9f4a6d1c3b"
	m.TopicArn = topicWildcard
	m.Subject = "Amazon S3 Notification"
	m.Message = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",` +
		`"eventTime":"2026-03-01T11:59:58.123Z","eventName":"ObjectCreated:Put",` +
		`"userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},` +
		`"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"trail-logs","arn":"arn:aws:s3:::trail-logs"},` +
		`"object":{"key":"AWSLogs/123456789012/CloudTrail/eu-west-1/2026/03/01/f%C3%A9vrier.json.gz","size":1024}}}]}` +
		"\n\t<tag> & \u00e9t\u00e9 \U0001F600 \u2028"
	return m
}

func confirmation(e *env) *Message {
	return &Message{
		Type:      TypeSubscriptionConfirmation,
		MessageID: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		Token:     "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
		TopicArn:  topicDoc,
		Message:   "You have chosen to subscribe to the topic " + topicDoc + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		SubscribeURL: e.url(pathConfirm) + "?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(topicDoc) +
			"&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
		Timestamp:      sentStr,
		SigningCertURL: e.url(pathCert),
	}
}

func unsubscribe(e *env) *Message {
	m := confirmation(e)
	m.Type = TypeUnsubscribeConfirmation
	m.MessageID = "47138184-6831-46b8-8f7c-afc488602d7d"
	m.Message = "You have chosen to deactivate subscription " + topicDoc + ":2bcfbf39-05c3-41de-beaa-fcfcc21c8f55.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
	return m
}

// canonical builds the string to sign from the AWS documentation's rule,
// independently of stringToSign: the covered fields sorted by name, each
// as "Name\nValue\n".
func canonical(m *Message) []byte {
	kv := map[string]string{
		"Message":   m.Message,
		"MessageId": m.MessageID,
		"Timestamp": m.Timestamp,
		"TopicArn":  m.TopicArn,
		"Type":      m.Type,
	}
	if m.Type == TypeNotification {
		if m.HasSubject {
			kv["Subject"] = m.Subject
		}
	} else {
		kv["SubscribeURL"] = m.SubscribeURL
		kv["Token"] = m.Token
	}
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		b.WriteString(k + "\n" + kv[k] + "\n")
	}
	return b.Bytes()
}

// sign signs m with the test key under SignatureVersion version and
// returns m.
func sign(m *Message, version string) *Message {
	m.SignatureVersion = version
	var (
		h      crypto.Hash
		digest []byte
	)
	if version == "1" {
		d := sha1.Sum(canonical(m))
		h, digest = crypto.SHA1, d[:]
	} else {
		d := sha256.Sum256(canonical(m))
		h, digest = crypto.SHA256, d[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, testKey(), h, digest)
	if err != nil {
		panic(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	return m
}

// encode writes m as SNS does: one key per line, " : " between key and
// value. Empty fields are left out, except a Subject that is present.
func encode(m *Message) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	sep := ""
	put := func(k string, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		b.WriteString(sep + "  " + `"` + k + `" : `)
		b.Write(j)
		sep = ",\n"
	}
	for _, f := range fields {
		v := *f.ptr(m)
		if v != "" || f.key == "Subject" && m.HasSubject {
			put(f.key, v)
		}
	}
	if m.MessageAttributes != nil {
		put(attributesKey, m.MessageAttributes)
	}
	b.WriteString("\n}")
	return b.Bytes()
}
