package testsrv

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"strings"
	"testing"
	"time"
)

const testMail = "From: Vigil <vigil@example.test>\r\n" +
	"To: SecOps <secops@example.test>\r\n" +
	"Subject: [high] testsrv finding\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"plain body\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>html body</p>\r\n" +
	"--b1--\r\n"

// sendMail sends testMail through s the way a careful client would: over
// TLS from the start, or after STARTTLS when starttls is set, then with auth
// if it is not nil.
func sendMail(s *MailpitServer, implicitTLS, starttls bool, auth smtp.Auth) error {
	var conn net.Conn
	var err error
	if implicitTLS {
		conn, err = tls.Dial("tcp", s.SMTPAddr, s.TLSConfig())
	} else {
		conn, err = net.Dial("tcp", s.SMTPAddr)
	}
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	host, _, _ := net.SplitHostPort(s.SMTPAddr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if starttls {
		if err := c.StartTLS(s.TLSConfig()); err != nil {
			return err
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail("vigil@example.test"); err != nil {
		return err
	}
	if err := c.Rcpt("secops@example.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(testMail)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestMailpit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  MailpitOptions
		login bool // AUTH LOGIN rather than PLAIN
	}{
		{"plain", MailpitOptions{}, false},
		{"auth", MailpitOptions{Username: "vigil", Password: "s3cret!"}, false},
		{"starttls", MailpitOptions{TLS: true}, false},
		{"starttls+auth", MailpitOptions{TLS: true, Username: "vigil", Password: "s3cret!"}, false},
		{"starttls+auth-login", MailpitOptions{TLS: true, Username: "vigil", Password: "s3cret!"}, true},
		{"implicit-tls+auth", MailpitOptions{ImplicitTLS: true, Username: "vigil", Password: "s3cret!"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Mailpit(t, tc.opts)
			useTLS := tc.opts.TLS || tc.opts.ImplicitTLS
			if useTLS {
				if _, err := os.Stat(s.CAFile); err != nil {
					t.Fatalf("CAFile: %v", err)
				}
			} else if s.CAFile != "" || s.TLSConfig() != nil {
				t.Errorf("CAFile = %q and TLSConfig() = %v without TLS, want none", s.CAFile, s.TLSConfig())
			}
			host, _, _ := net.SplitHostPort(s.SMTPAddr)
			var auth smtp.Auth
			if tc.opts.Username != "" {
				auth = smtp.PlainAuth("", tc.opts.Username, tc.opts.Password, host)
				wrong := smtp.PlainAuth("", tc.opts.Username, "wrong", host)
				if tc.login {
					auth = loginAuth{tc.opts.Username, tc.opts.Password}
					wrong = loginAuth{tc.opts.Username, "wrong"}
				}
				if err := sendMail(s, tc.opts.ImplicitTLS, tc.opts.TLS, wrong); err == nil || !strings.Contains(err.Error(), "535") {
					t.Errorf("sending with a wrong password: err = %v, want 535", err)
				}
				if err := sendMail(s, tc.opts.ImplicitTLS, tc.opts.TLS, nil); err == nil {
					t.Errorf("sending without authentication succeeded, want it refused")
				}
			}
			if tc.opts.TLS {
				if err := sendMail(s, false, false, nil); err == nil || !strings.Contains(strings.ToUpper(err.Error()), "STARTTLS") {
					t.Errorf("sending without STARTTLS: err = %v, want it refused", err)
				}
			}
			if err := sendMail(s, tc.opts.ImplicitTLS, tc.opts.TLS, auth); err != nil {
				t.Fatalf("send: %v", err)
			}

			msgs := s.WaitMessages(t, 1, 10*time.Second)
			if len(msgs) != 1 {
				t.Fatalf("WaitMessages() returned %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.Subject != "[high] testsrv finding" || m.From.Address != "vigil@example.test" || m.From.Name != "Vigil" ||
				len(m.To) != 1 || m.To[0].Address != "secops@example.test" ||
				m.Text != "plain body" || m.HTML != "<p>html body</p>" || m.Date.IsZero() {
				t.Errorf("WaitMessages()[0] = %+v", m)
			}
			wantUser := "" // Mailpit records the user of AUTH LOGIN only
			if tc.login {
				wantUser = tc.opts.Username
			}
			if m.Username != wantUser {
				t.Errorf("Username = %q, want %q", m.Username, wantUser)
			}
			if got := m.Headers["Content-Type"]; len(got) != 1 || !strings.HasPrefix(got[0], "multipart/alternative") {
				t.Errorf("Headers[Content-Type] = %q", got)
			}
			if list := s.Messages(t); len(list) != 1 || list[0].ID != m.ID || list[0].Subject != m.Subject || list[0].Text != "" {
				t.Errorf("Messages() = %+v, want the one message without its body", list)
			}
			if raw := s.Raw(t, m.ID); !strings.Contains(string(raw), "<p>html body</p>") {
				t.Errorf("Raw() = %q", raw)
			}
			s.DeleteAll(t)
			if list := s.Messages(t); len(list) != 0 {
				t.Errorf("Messages() after DeleteAll = %+v", list)
			}
		})
	}
}

// loginAuth is SMTP AUTH LOGIN, which net/smtp lacks.
type loginAuth struct{ user, password string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(string(fromServer)) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN challenge %q", fromServer)
}
