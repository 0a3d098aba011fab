package testsrv

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 30 * time.Second

// MailpitOptions configures [Mailpit]. The zero value is a plain SMTP server
// that accepts mail from anyone.
type MailpitOptions struct {
	// TLS makes the server offer STARTTLS with a certificate for 127.0.0.1
	// and localhost signed by a fresh CA (MailpitServer.CAFile), and refuse
	// mail from clients that do not use it.
	TLS bool
	// ImplicitTLS makes the server speak TLS from the first byte (SMTPS, as
	// on port 465) instead, with the same kind of certificate.
	ImplicitTLS bool
	// Username and Password, when either is set, make SMTP AUTH (PLAIN or
	// LOGIN) mandatory with exactly these credentials: wrong ones are
	// refused. Neither may contain white space, nor Username a colon.
	// Without TLS, authentication in clear text is allowed.
	Username, Password string
}

// MailpitServer is a running Mailpit, stopped when the test ends.
type MailpitServer struct {
	SMTPAddr string // host:port of the SMTP server, 127.0.0.1:port
	APIURL   string // base URL of the HTTP API, http://127.0.0.1:port
	CAFile   string // with TLS or ImplicitTLS: the PEM file of the CA that signed the SMTP certificate

	pool        *x509.CertPool
	implicitTLS bool
	proc        *process
}

// MailpitAddress is a mail address as Mailpit reports it.
type MailpitAddress struct {
	Name    string
	Address string
}

// MailpitMessage is a message Mailpit captured. Text, HTML and Headers are
// set only by [MailpitServer.Message] and [MailpitServer.WaitMessages], not
// by [MailpitServer.Messages].
type MailpitMessage struct {
	ID          string // Mailpit's id, for Message and Raw
	MessageID   string // the Message-ID header, without angle brackets
	From        MailpitAddress
	To, Cc, Bcc []MailpitAddress
	ReplyTo     []MailpitAddress
	Subject     string
	Date        time.Time // when Mailpit received it
	Username    string    // the SMTP AUTH user that sent it; Mailpit 1.27 records it for AUTH LOGIN only, not PLAIN
	Tags        []string
	Size        int    // bytes
	Snippet     string // the start of the text, as Mailpit summarises it
	Attachments int    // how many attachments it has
	Text        string // the text/plain body
	HTML        string // the text/html body
	Headers     map[string][]string
}

// Mailpit starts a Mailpit SMTP server with its HTTP API, both on 127.0.0.1,
// with a database in t.TempDir(), and waits until both answer. It stops the
// server when the test ends and prints its log if the test failed.
func Mailpit(t testing.TB, opts MailpitOptions) *MailpitServer {
	t.Helper()
	bin := Binary(t, "mailpit")
	dir := t.TempDir()
	s := &MailpitServer{}
	args := []string{
		"--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check",
		"--smtp-disable-rdns",
		"--verbose",
	}
	if opts.TLS || opts.ImplicitTLS {
		cert := newServerCert(t, dir)
		s.CAFile, s.pool = cert.CAFile, cert.Pool
		args = append(args, "--smtp-tls-cert", cert.CertFile, "--smtp-tls-key", cert.KeyFile)
		if opts.ImplicitTLS {
			s.implicitTLS = true
			args = append(args, "--smtp-require-tls")
		} else {
			args = append(args, "--smtp-require-starttls")
		}
	}
	if opts.Username != "" || opts.Password != "" {
		authFile := filepath.Join(dir, "smtp-auth")
		writeAuthFile(t, authFile, opts.Username, opts.Password)
		args = append(args, "--smtp-auth-file", authFile)
		if s.pool == nil {
			args = append(args, "--smtp-auth-allow-insecure")
		}
	}

	s.proc = &process{name: "mailpit", path: bin, dir: dir, logPath: filepath.Join(dir, "mailpit.log")}
	s.proc.manage(t)
	for attempt := 1; ; attempt++ {
		smtpPort, httpPort := FreePort(t), FreePort(t)
		s.SMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort))
		s.APIURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
		s.proc.args = append(slices.Clip(args), "--smtp", s.SMTPAddr, "--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)))
		if err := s.proc.start(); err != nil {
			t.Fatalf("testsrv: %v", err)
		}
		err := poll(startTimeout, 50*time.Millisecond, s.ready, s.proc)
		if err == nil {
			return s
		}
		s.proc.stop(true)
		if attempt < 3 && s.proc.addrInUse() {
			t.Logf("testsrv: mailpit: a port was taken, retrying with new ports")
			continue
		}
		t.Fatalf("testsrv: mailpit did not start: %v\n%s", err, s.proc.logReport())
	}
}

// writeAuthFile writes an htpasswd-style file with one user whose password
// is stored as {SHA}, a hash that Mailpit's htpasswd reader accepts.
func writeAuthFile(t testing.TB, path, user, password string) {
	t.Helper()
	if user == "" || password == "" || strings.ContainsAny(user, ": \t\r\n") || strings.ContainsAny(password, " \t\r\n") {
		t.Fatalf("testsrv: Mailpit needs a non-empty username without white space or colons and a non-empty password without white space, got %q and %q", user, password)
	}
	sum := sha1.Sum([]byte(password))
	line := user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatalf("testsrv: %v", err)
	}
}

// ready reports whether the API answers and the SMTP server greets.
func (s *MailpitServer) ready() error {
	resp, err := httpClient.Get(s.APIURL + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s", resp.Status)
	}
	conn, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	c := conn
	if s.implicitTLS {
		tc := tls.Client(conn, s.TLSConfig())
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("SMTP TLS handshake: %w", err)
		}
		c = tc
	}
	greeting, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	if !strings.HasPrefix(greeting, "220") {
		return fmt.Errorf("SMTP greeting: %q", greeting)
	}
	io.WriteString(c, "QUIT\r\n")
	return nil
}

// TLSConfig returns a client configuration that trusts the server's CA (nil
// without TLS).
func (s *MailpitServer) TLSConfig() *tls.Config {
	if s.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// apiMessage is a message in Mailpit's API, where Attachments is a count in
// the list and an array in a single message, and the time is Created in the
// list and Date in a single message.
type apiMessage struct {
	MailpitMessage
	Created     time.Time
	Attachments json.RawMessage
}

func (m apiMessage) message() MailpitMessage {
	msg := m.MailpitMessage
	if msg.Date.IsZero() {
		msg.Date = m.Created
	}
	var n int
	var list []json.RawMessage
	switch {
	case json.Unmarshal(m.Attachments, &n) == nil:
		msg.Attachments = n
	case json.Unmarshal(m.Attachments, &list) == nil:
		msg.Attachments = len(list)
	}
	return msg
}

// Messages returns every message Mailpit holds, oldest first, without their
// bodies and headers.
func (s *MailpitServer) Messages(t testing.TB) []MailpitMessage {
	t.Helper()
	msgs, err := s.messages()
	if err != nil {
		t.Fatalf("testsrv: mailpit: %v", err)
	}
	return msgs
}

func (s *MailpitServer) messages() ([]MailpitMessage, error) {
	var list struct {
		Total    int
		Messages []apiMessage
	}
	if err := s.getJSON("/api/v1/messages?limit=1000", &list); err != nil {
		return nil, err
	}
	msgs := make([]MailpitMessage, 0, len(list.Messages))
	for _, m := range slices.Backward(list.Messages) { // the API lists the newest first
		msgs = append(msgs, m.message())
	}
	return msgs, nil
}

// Message returns the message with Mailpit's id, with its bodies and headers.
func (s *MailpitServer) Message(t testing.TB, id string) MailpitMessage {
	t.Helper()
	msg, err := s.message(id)
	if err != nil {
		t.Fatalf("testsrv: mailpit: %v", err)
	}
	return msg
}

func (s *MailpitServer) message(id string) (MailpitMessage, error) {
	var m apiMessage
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		return MailpitMessage{}, err
	}
	msg := m.message()
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id)+"/headers", &msg.Headers); err != nil {
		return MailpitMessage{}, err
	}
	return msg, nil
}

// Raw returns the message with Mailpit's id as it was received.
func (s *MailpitServer) Raw(t testing.TB, id string) []byte {
	t.Helper()
	b, err := s.get("/api/v1/message/" + url.PathEscape(id) + "/raw")
	if err != nil {
		t.Fatalf("testsrv: mailpit: %v", err)
	}
	return b
}

// WaitMessages waits until Mailpit holds at least n messages and returns
// them all, oldest first, with their bodies and headers. It fails the test if
// that takes longer than timeout.
func (s *MailpitServer) WaitMessages(t testing.TB, n int, timeout time.Duration) []MailpitMessage {
	t.Helper()
	var msgs []MailpitMessage
	err := poll(timeout, 50*time.Millisecond, func() error {
		var err error
		msgs, err = s.messages()
		if err != nil {
			return err
		}
		if len(msgs) < n {
			return fmt.Errorf("%d messages, want %d", len(msgs), n)
		}
		return nil
	}, s.proc)
	if err != nil {
		t.Fatalf("testsrv: mailpit: waiting for %d messages: %v", n, err)
	}
	for i, m := range msgs {
		msgs[i] = s.Message(t, m.ID)
	}
	return msgs
}

// DeleteAll deletes every message.
func (s *MailpitServer) DeleteAll(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, s.APIURL+"/api/v1/messages", nil)
	if err != nil {
		t.Fatalf("testsrv: mailpit: %v", err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("testsrv: mailpit: delete messages: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("testsrv: mailpit: delete messages: %s: %s", resp.Status, b)
	}
}

func (s *MailpitServer) get(path string) ([]byte, error) {
	resp, err := httpClient.Get(s.APIURL + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func (s *MailpitServer) getJSON(path string, v any) error {
	b, err := s.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}
