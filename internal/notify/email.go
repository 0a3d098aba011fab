package notify

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
)

// The StartTLS modes of an email receiver.
const (
	StartTLSRequired      = "required"
	StartTLSOpportunistic = "opportunistic"
	StartTLSOff           = "off"
)

// defaultEmailTimeout bounds a whole SMTP conversation, dial included,
// when the receiver sets none.
const defaultEmailTimeout = 30 * time.Second

// email sends notifications through an SMTP server, one message a
// notification, as multipart/alternative with a text and an HTML part.
//
// STARTTLS is required unless configured otherwise: a server that does
// not offer it fails the delivery (to be retried, as it may be a passing
// misconfiguration or someone stripping STARTTLS on the way). "off" is
// allowed only for a server on loopback. The password is sent (AUTH
// PLAIN) only over TLS or to loopback.
type email struct {
	name     string
	addr     string // host:port
	host     string
	from     *mail.Address
	to       []*mail.Address
	username string
	password string
	startTLS string
	tls      *tls.Config
	timeout  time.Duration
	o        Options
}

func newEmail(name string, c *config.EmailReceiver, o Options) (*email, error) {
	field := func(f string, err error) error {
		return fmt.Errorf("receiver %q: email.%s: %w", name, f, err)
	}
	host, port, err := net.SplitHostPort(c.SMTP)
	if c.SMTP == "" {
		return nil, field("smtp", errors.New("required"))
	}
	if err != nil || host == "" {
		return nil, field("smtp", errors.New("must be host:port"))
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return nil, field("smtp", fmt.Errorf("invalid port %q", port))
	}
	if c.From == "" {
		return nil, field("from", errors.New("required"))
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, field("from", err)
	}
	if len(c.To) == 0 {
		return nil, field("to", errors.New("required"))
	}
	to := make([]*mail.Address, len(c.To))
	for i, s := range c.To {
		if to[i], err = mail.ParseAddress(s); err != nil {
			return nil, field("to["+strconv.Itoa(i)+"]", err)
		}
	}
	mode := cmp.Or(c.StartTLS, StartTLSRequired)
	switch mode {
	case StartTLSRequired, StartTLSOpportunistic:
	case StartTLSOff:
		if !isLoopback(host) {
			return nil, field("starttls", fmt.Errorf("%q is allowed only for a server on loopback, not %s", mode, host))
		}
	default:
		return nil, field("starttls", fmt.Errorf("%q is not one of required, opportunistic, off", c.StartTLS))
	}
	if c.Username == "" && c.Password != "" {
		return nil, field("username", errors.New("required with password"))
	}
	if c.Username != "" && c.Password == "" {
		return nil, field("password", errors.New("required with username"))
	}
	if c.Timeout < 0 {
		return nil, field("timeout", errors.New("must not be negative"))
	}
	tc := &tls.Config{ServerName: cmp.Or(c.TLSServerName, host), MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, field("tls_ca_file", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, field("tls_ca_file", fmt.Errorf("%s holds no PEM certificate", c.TLSCAFile))
		}
		tc.RootCAs = pool
	}
	return &email{
		name:     name,
		addr:     c.SMTP,
		host:     host,
		from:     from,
		to:       to,
		username: c.Username,
		password: c.Password,
		startTLS: mode,
		tls:      tc,
		timeout:  cmp.Or(c.Timeout, defaultEmailTimeout),
		o:        o,
	}, nil
}

// isLoopback reports whether host is "localhost" or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name implements Sender.
func (s *email) Name() string { return s.name }

// Parallel is 2: mail servers limit connections per client.
func (s *email) Parallel() int { return 2 }

// Send implements Sender. SMTP 5xx replies are permanent, 4xx replies
// and connection or TLS failures are worth a retry; SendError.Status is
// the SMTP reply code.
func (s *email) Send(ctx context.Context, n *Notification) error {
	if len(n.Alerts) == 0 {
		return nil
	}
	now := time.Now()
	msg, err := buildMessage(s.from, s.to, n, s.o, now, messageID(s.from, now))
	if err != nil {
		return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("build message: %w", err)}
	}
	return s.deliver(ctx, msg)
}

// deliver runs one SMTP conversation, bounded by the receiver's timeout
// and by ctx.
func (s *email) deliver(ctx context.Context, msg []byte) error {
	// The receiver's timeout bounds the conversation through the
	// connection's deadline; ctx interrupts it when it is done, so that
	// its error is then ctx's.
	deadline := time.Now().Add(s.timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", s.addr)
	if err != nil {
		return s.fail(ctx, "dial", err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return s.fail(ctx, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return s.fail(ctx, "EHLO", err)
	}
	secure := false
	if s.startTLS != StartTLSOff {
		ok, _ := c.Extension("STARTTLS")
		switch {
		case ok:
			if err := c.StartTLS(s.tls); err != nil {
				return s.fail(ctx, "STARTTLS", err)
			}
			secure = true
		case s.startTLS == StartTLSRequired:
			return &SendError{Dest: s.name, Err: fmt.Errorf("server %s does not offer STARTTLS, which starttls %q requires", s.addr, s.startTLS)}
		}
	}
	if s.username != "" {
		if !secure && !isLoopback(s.host) {
			return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("not sending the password to %s without TLS", s.addr)}
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return &SendError{Dest: s.name, Permanent: true, Err: fmt.Errorf("server %s does not offer AUTH, and a username is set", s.addr)}
		}
		if err := c.Auth(smtp.PlainAuth("", s.username, s.password, s.host)); err != nil {
			return s.fail(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return s.fail(ctx, "MAIL FROM", err)
	}
	for _, to := range s.to {
		if err := c.Rcpt(to.Address); err != nil {
			return s.fail(ctx, "RCPT TO <"+to.Address+">", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return s.fail(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return s.fail(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil { // the server's answer to the message
		return s.fail(ctx, "DATA", err)
	}
	// The message is accepted: a failing QUIT does not unsend it.
	_ = c.Quit()
	return nil
}

// fail turns an error at an SMTP step into a *SendError: a reply code
// of 5xx is permanent, 4xx and anything without a reply (network, TLS,
// deadline) is worth a retry.
func (s *email) fail(ctx context.Context, step string, err error) error {
	se := &SendError{Dest: s.name}
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		se.Status = te.Code
		se.Permanent = te.Code >= 500
	case ctx.Err() != nil:
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("server closed the connection: %w", err)
	}
	se.Err = fmt.Errorf("%s: %w", step, err)
	return se
}

// helloName is the name given in EHLO: the host's name when it is a
// domain name, else "localhost" as net/smtp would.
func helloName() string {
	h, err := os.Hostname()
	if err != nil || !strings.Contains(h, ".") || strings.ContainsAny(h, " \r\n") {
		return "localhost"
	}
	return h
}
