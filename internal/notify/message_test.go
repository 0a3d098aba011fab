package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
)

// parsedMail is a message read back with net/mail and mime/multipart.
type parsedMail struct {
	Header      mail.Header
	Subject     string
	Text, HTML  string
	PartHeaders []map[string][]string
}

func parseMail(t *testing.T, raw []byte) *parsedMail {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d has %d octets, RFC 5322 allows 998", i, len(line))
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	p := &parsedMail{Header: m.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		p.PartHeaders = append(p.PartHeaders, part.Header)
		switch ct := part.Header.Get("Content-Type"); ct {
		case "text/plain; charset=utf-8":
			p.Text = string(b)
		case "text/html; charset=utf-8":
			p.HTML = string(b)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	return p
}

func TestBuildMessage(t *testing.T) {
	from, _ := mail.ParseAddress("Vigil Ålerts <vigil@example.com>")
	to := []*mail.Address{{Address: "sec@example.com"}, {Name: "On call", Address: "oncall@example.com"}}
	hostile := testAlert()
	hostile.Title = `<script>alert("x")</script> Zugriff für Ünbekannte` + "\r\nBcc: victim@example.com"
	hostile.UserAgent = `"><img src=x onerror=alert(1)>`
	now := time.Date(2024, 5, 1, 13, 0, 0, 0, time.UTC)
	n := testNotification(hostile, awsAlert())
	n.Test = true
	raw, err := buildMessage(from, to, n, testOptions, now, "<id.1@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	m := parseMail(t, raw)
	for k, want := range map[string]string{
		"From":           `=?utf-8?q?Vigil_=C3=85lerts?= <vigil@example.com>`,
		"Date":           "Wed, 01 May 2024 13:00:00 +0000",
		"Message-Id":     "<id.1@example.com>",
		"Mime-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
		"Bcc":            "",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if got, _ := m.Header.AddressList("To"); len(got) != 2 || got[1].Name != "On call" {
		t.Errorf("To = %v", got)
	}
	wantSubject := `[TEST] [Vigil] [CRITICAL] Bucket made public (+1 more)`
	if m.Subject != wantSubject {
		t.Errorf("Subject = %q, want %q", m.Subject, wantSubject)
	}
	for _, h := range m.PartHeaders {
		if h["Content-Transfer-Encoding"] != nil {
			t.Errorf("part header %v: multipart.Reader should have decoded quoted-printable", h)
		}
	}
	// Text: everything, unescaped.
	for _, want := range []string{"[TEST] This is a test notification", hostile.Title, "alice (arn:aws:iam::111122223333:user/alice)",
		"AWS EC2 us-east-1", "Link:     https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, m.Text)
		}
	}
	// HTML: the same, escaped.
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Zugriff für Ünbekannte", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
		`<a href="https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef">`, "<strong>[TEST]</strong>", "border-left:6px solid #d40e0d"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, m.HTML)
		}
	}
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML part holds %q unescaped", bad)
		}
	}
}

func TestSubjectEncoding(t *testing.T) {
	from, _ := mail.ParseAddress("vigil@example.com")
	to := []*mail.Address{{Address: "a@example.com"}}
	for _, title := range []string{
		"Plain ASCII title",
		"Zugriff für Ünbekannte",
		strings.Repeat("日本語のタイトル", 100),
		"line\r\nInjected: header\r\n\r\nbody",
		"=?utf-8?q?not_really?=",
	} {
		a := testAlert()
		a.Title = title
		raw, err := buildMessage(from, to, testNotification(a), testOptions, time.Now(), "<x@y>")
		if err != nil {
			t.Fatal(err)
		}
		m := parseMail(t, raw)
		want := truncate(oneLine("[Vigil] [HIGH] "+title), emailMaxSubject)
		if m.Subject != want {
			t.Errorf("Subject = %q, want %q", m.Subject, want)
		}
		if m.Header.Get("Injected") != "" {
			t.Errorf("title %q injected a header", title)
		}
	}
}

func TestBuildMessageMany(t *testing.T) {
	var alerts []*alert.Alert
	for range emailDetailed + 7 {
		alerts = append(alerts, testAlert())
	}
	from, _ := mail.ParseAddress("vigil@example.com")
	raw, err := buildMessage(from, []*mail.Address{from}, testNotification(alerts...), testOptions, time.Now(), "<x@y>")
	if err != nil {
		t.Fatal(err)
	}
	m := parseMail(t, raw)
	if !strings.Contains(m.Text, "7 more:") || !strings.Contains(m.HTML, "7 more:") {
		t.Error("the alerts beyond those shown in full are not listed")
	}
	if got := strings.Count(m.Text, "Who:"); got != emailDetailed {
		t.Errorf("%d alerts in full, want %d", got, emailDetailed)
	}
}
