package notify

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/testsrv"
)

func newTestEmail(t *testing.T, c config.EmailReceiver) Sender {
	t.Helper()
	if c.From == "" {
		c.From = "Vigil <vigil@example.com>"
	}
	if c.To == nil {
		c.To = []string{"sec@example.com", "On Call <oncall@example.com>"}
	}
	ss, err := New(config.Receiver{Name: "mail", Email: &c}, testOptions)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ss[0]
}

func TestEmailMailpit(t *testing.T) {
	srv := testsrv.Mailpit(t, testsrv.MailpitOptions{TLS: true, Username: "vigil", Password: "pa55word"})
	s := newTestEmail(t, config.EmailReceiver{
		SMTP: srv.SMTPAddr, Username: "vigil", Password: "pa55word", TLSCAFile: srv.CAFile,
	})
	a := testAlert()
	a.Title = `<script>alert(1)</script> Zugang für Fremde`
	n := testNotification(a, awsAlert())
	n.Test = true
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.WaitMessages(t, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if want := "[TEST] [Vigil] [CRITICAL] Bucket made public (+1 more)"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if m.From.Address != "vigil@example.com" || m.From.Name != "Vigil" {
		t.Errorf("From = %+v", m.From)
	}
	var to []string
	for _, r := range m.To {
		to = append(to, r.Address)
	}
	if !slices.Equal(to, []string{"sec@example.com", "oncall@example.com"}) {
		t.Errorf("To = %v", to)
	}
	if !strings.HasSuffix(m.MessageID, "@example.com") {
		t.Errorf("Message-ID = %q", m.MessageID)
	}
	for _, want := range []string{a.Title, "alice (arn:aws:iam::111122223333:user/alice)", "203.0.113.7 (Berlin, Germany; AS3320 Deutsche Telekom AG)",
		"AWS EC2 us-east-1", "x.json.gz record 3", "https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt; Zugang für Fremde") {
		t.Errorf("HTML part does not escape the title:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, `href="https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef"`) {
		t.Errorf("HTML part lacks the link:\n%s", m.HTML)
	}
}

func TestEmailMailpitModes(t *testing.T) {
	plain := testsrv.Mailpit(t, testsrv.MailpitOptions{})
	plainAuth := testsrv.Mailpit(t, testsrv.MailpitOptions{Username: "vigil", Password: "pa55word"})
	tlsAuth := testsrv.Mailpit(t, testsrv.MailpitOptions{TLS: true, Username: "vigil", Password: "pa55word"})

	for _, tc := range []struct {
		name      string
		srv       *testsrv.MailpitServer
		c         config.EmailReceiver
		ok        bool
		permanent bool
		status    int
		errText   string
	}{
		{name: "required without TLS", srv: plain, c: config.EmailReceiver{}, errText: "does not offer STARTTLS"},
		{name: "opportunistic without TLS", srv: plain, c: config.EmailReceiver{StartTLS: "opportunistic"}, ok: true},
		{name: "off on loopback with auth", srv: plainAuth, c: config.EmailReceiver{StartTLS: "off", Username: "vigil", Password: "pa55word"}, ok: true},
		{name: "off wrong password", srv: plainAuth, c: config.EmailReceiver{StartTLS: "off", Username: "vigil", Password: "wrong"}, permanent: true, status: 535},
		{name: "TLS wrong password", srv: tlsAuth, c: config.EmailReceiver{Username: "vigil", Password: "wrong"}, permanent: true, status: 535},
		{name: "TLS server name", srv: tlsAuth, c: config.EmailReceiver{Username: "vigil", Password: "pa55word", TLSServerName: "localhost"}, ok: true},
		{name: "TLS wrong server name", srv: tlsAuth, c: config.EmailReceiver{Username: "vigil", Password: "pa55word", TLSServerName: "mail.example.com"}, errText: "STARTTLS"},
		{name: "TLS untrusted CA", srv: tlsAuth, c: config.EmailReceiver{Username: "vigil", Password: "pa55word", TLSCAFile: "-"}, errText: "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.SMTP = tc.srv.SMTPAddr
			switch c.TLSCAFile {
			case "-":
				c.TLSCAFile = ""
			case "":
				c.TLSCAFile = tc.srv.CAFile
			}
			before := len(tc.srv.Messages(t))
			err := newTestEmail(t, c).Send(context.Background(), testNotification())
			if tc.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				tc.srv.WaitMessages(t, before+1, 10*time.Second)
				return
			}
			se := sendErr(t, err)
			t.Log(err)
			if se.Permanent != tc.permanent || se.Status != tc.status || !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("Send() = %v (permanent %v, status %d), want permanent %v, status %d, %q",
					err, se.Permanent, se.Status, tc.permanent, tc.status, tc.errText)
			}
			if strings.Contains(err.Error(), c.Password) && c.Password != "" {
				t.Errorf("error quotes the password: %v", err)
			}
			if got := len(tc.srv.Messages(t)); got != before {
				t.Errorf("a message was delivered despite the error")
			}
		})
	}
}

func TestEmailConnection(t *testing.T) {
	// Refused: nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	se := sendErr(t, newTestEmail(t, config.EmailReceiver{SMTP: addr, StartTLS: "off"}).Send(context.Background(), testNotification()))
	if se.Status != 0 || se.Permanent {
		t.Errorf("refused: %+v, want Status 0, retryable", se)
	}

	// Silent: a server that accepts and never greets, bounded by ctx and
	// by the receiver's timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctx     time.Duration
		want    error
	}{
		{"ctx", 0, 200 * time.Millisecond, context.DeadlineExceeded},
		{"receiver timeout", 200 * time.Millisecond, 0, nil},
	} {
		ctx := context.Background()
		if tc.ctx > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tc.ctx)
			defer cancel()
		}
		start := time.Now()
		err := newTestEmail(t, config.EmailReceiver{SMTP: silent.Addr().String(), Timeout: tc.timeout}).Send(ctx, testNotification())
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: Send took %v", tc.name, took)
		}
		se := sendErr(t, err)
		if se.Status != 0 || se.Permanent || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: Send() = %v, want Status 0, retryable, %v", tc.name, err, tc.want)
		}
	}
}
