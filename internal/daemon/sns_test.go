package daemon

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/sns"
)

// snsSigner plays SNS: it serves its signing certificate and a
// SubscribeURL over TLS on loopback and signs messages (SignatureVersion
// 2) as SNS does. The verifier is pointed at it through the host
// allow-list that production leaves at SNS's own hosts.
type snsSigner struct {
	srv        *httptest.Server
	key        *rsa.PrivateKey
	subscribed atomic.Int32
}

func newSNSSigner(t *testing.T) *snsSigner {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.us-east-1.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s := &snsSigner{key: key}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cert.pem":
			w.Write(certPEM)
		case "/subscribe":
			s.subscribed.Add(1)
			w.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *snsSigner) verifier() *sns.Verifier {
	host := strings.TrimPrefix(s.srv.URL, "https://")
	return sns.NewVerifier(sns.VerifierOptions{HostAllowed: func(h string) bool { return h == host }, Client: s.srv.Client()})
}

// message returns a signed SNS message of type typ.
func (s *snsSigner) message(t *testing.T, typ, topic, id, body string) string {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	m := map[string]string{"Type": typ, "MessageId": id, "TopicArn": topic, "Message": body, "Timestamp": ts,
		"SignatureVersion": "2", "SigningCertURL": s.srv.URL + "/cert.pem"}
	var fields []string
	if typ == "Notification" {
		fields = []string{"Message", "MessageId", "Timestamp", "TopicArn", "Type"}
	} else {
		m["Token"] = "tok"
		m["SubscribeURL"] = s.srv.URL + "/subscribe?" + url.Values{"Token": {"tok"}}.Encode()
		fields = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var sb strings.Builder
	for _, f := range fields {
		sb.WriteString(f + "\n" + m[f] + "\n")
	}
	sum := sha256.Sum256([]byte(sb.String()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	b, _ := json.Marshal(m)
	return string(b)
}

func postSNS(t *testing.T, url, typ, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/sns", strings.NewReader(body))
	req.Header.Set("x-amz-sns-message-type", typ)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSNS follows an SNS HTTPS subscription through the daemon: the
// subscription of an allowed topic is confirmed, a signed notification
// carrying an EventBridge CloudTrail event alerts, a forged one and one
// from another topic are refused and raise nothing.
func TestSNS(t *testing.T) {
	signer := newSNSSigner(t)
	recv := newReceiver(t)
	const topic = "arn:aws:sns:eu-west-1:111122223333:vigil-events"
	r := start(t, t.TempDir(), recv, rigOptions{snsTopics: []string{"arn:aws:sns:*:111122223333:vigil-*"}, snsVerifier: signer.verifier()})
	waitFor(t, "ready", func() bool { return r.d.Ready() == nil })

	if c := postSNS(t, r.url, "SubscriptionConfirmation", signer.message(t, "SubscriptionConfirmation", topic, "sub-1", "You have chosen to subscribe")); c != 200 || signer.subscribed.Load() != 1 {
		t.Fatalf("subscription: status %d, SubscribeURL fetched %d times", c, signer.subscribed.Load())
	}
	if c := postSNS(t, r.url, "Notification", signer.message(t, "Notification", topic, "m-1", publicACL("via-sns"))); c != 200 {
		t.Fatalf("notification: %d", c)
	}
	forged := strings.Replace(signer.message(t, "Notification", topic, "m-2", publicACL("forged")), "forged", "forgee", 1)
	if c := postSNS(t, r.url, "Notification", forged); c != 403 {
		t.Errorf("forged notification: %d, want 403", c)
	}
	other := signer.message(t, "Notification", "arn:aws:sns:eu-west-1:999999999999:vigil-events", "m-3", publicACL("other-account"))
	if c := postSNS(t, r.url, "Notification", other); c != 403 {
		t.Errorf("topic not allowed: %d, want 403", c)
	}
	waitFor(t, "the SNS event's alert", func() bool { d, _ := recv.count(); return d == 1 })
	time.Sleep(200 * time.Millisecond)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.got) != 1 || recv.got["via-sns"] != 1 {
		t.Errorf("alerts %v, want only via-sns", recv.got)
	}
}
