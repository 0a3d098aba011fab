package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// emailDetailed is how many alerts an email shows in full; the
	// others are listed one a line.
	emailDetailed = 50
	// emailMaxSubject bounds the subject, in characters, before
	// encoding.
	emailMaxSubject = 200
)

// buildMessage returns the RFC 5322 message for n: headers, then a
// multipart/alternative body with a text/plain and a text/html part,
// both quoted-printable. Everything taken from alerts is escaped in the
// HTML part by html/template, and header values are encoded (RFC 2047)
// or cleaned of line breaks, so that an alert cannot add headers or
// markup.
func buildMessage(from *mail.Address, to []*mail.Address, n *Notification, o Options, now time.Time, msgID string) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)

	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	hdr := func(k, v string) { buf.WriteString(k + ": " + v + "\r\n") }
	hdr("From", from.String())
	hdr("To", strings.Join(tos, ",\r\n "))
	hdr("Subject", encodeHeader(subject(n)))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", msgID)
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")

	m := newMailView(n, o)
	var text, html bytes.Buffer
	writeText(&text, m)
	if err := htmlTemplate.Execute(&html, m); err != nil {
		return nil, err
	}
	for _, part := range []struct {
		typ  string
		body []byte
	}{{"text/plain", text.Bytes()}, {"text/html", html.Bytes()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write(part.body); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// subject is "[Vigil] [SEVERITY] title", "(+N more)" after it for a
// notification of several alerts, "[TEST] " before it for a test.
func subject(n *Notification) string {
	s := "[Vigil] " + headline(&Notification{Alerts: n.Alerts})
	if n.Test {
		s = testPrefix + s
	}
	return truncate(oneLine(s), emailMaxSubject)
}

// oneLine replaces control characters (line breaks among them) with
// spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// encodeHeader returns s as an unstructured header value: as it is when
// it is printable ASCII, else as RFC 2047 Q encoded-words, folded
// between words so that no line grows past 78 octets. Text that merely
// looks like an encoded word ("=?") is encoded too, so that readers show
// it as it was.
func encodeHeader(s string) string {
	plain := !strings.Contains(s, "=?")
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= ' ' && s[i] <= '~'
	}
	if plain {
		return s
	}
	const (
		prefix  = "=?utf-8?q?"
		suffix  = "?="
		maxWord = 75 // RFC 2047 2
	)
	var b, word strings.Builder
	word.WriteString(prefix)
	var enc [utf8.UTFMax * 3]byte
	for _, r := range s {
		e := enc[:0]
		var rb [utf8.UTFMax]byte
		for _, c := range rb[:utf8.EncodeRune(rb[:], r)] {
			switch {
			case c == ' ':
				e = append(e, '_')
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("!*+-/", c) >= 0:
				e = append(e, c)
			default:
				e = append(e, '=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			}
		}
		if word.Len()+len(e)+len(suffix) > maxWord {
			b.WriteString(word.String() + suffix + "\r\n ")
			word.Reset()
			word.WriteString(prefix)
		}
		word.Write(e)
	}
	b.WriteString(word.String() + suffix)
	return b.String()
}

// messageID returns a new Message-ID in the sender's domain.
func messageID(from *mail.Address, now time.Time) string {
	var b [12]byte
	rand.Read(b[:])
	domain := "vigil.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i+1 < len(from.Address) {
		domain = from.Address[i+1:]
	}
	return "<" + strconv.FormatInt(now.Unix(), 36) + "." + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

// mailView is what the text and HTML parts show.
type mailView struct {
	Subject string
	Test    bool
	Alerts  []mailAlert
	Rest    []string // one line per alert not shown in full
}

type mailAlert struct {
	Title  string
	Color  template.CSS // a constant of slackColors, not from the alert
	Link   string
	Fields []field
}

func newMailView(n *Notification, o Options) *mailView {
	m := &mailView{Subject: subject(n), Test: n.Test}
	for i, a := range n.Alerts {
		v := newView(a, n.Test, o)
		if i >= emailDetailed {
			m.Rest = append(m.Rest, v.line())
			continue
		}
		var fields []field
		for _, f := range v.fields() {
			if f.Name != "Link" {
				fields = append(fields, f)
			}
		}
		m.Alerts = append(m.Alerts, mailAlert{
			Title:  v.Title,
			Color:  template.CSS(slackColor(a.Severity)),
			Link:   v.Link,
			Fields: fields,
		})
	}
	return m
}

func writeText(b *bytes.Buffer, m *mailView) {
	if m.Test {
		b.WriteString("[TEST] This is a test notification from `vigil notify test`. No action is needed.\n\n")
	}
	for _, a := range m.Alerts {
		b.WriteString(a.Title)
		b.WriteString("\n")
		for _, f := range a.Fields {
			fmt.Fprintf(b, "%-9s %s\n", f.Name+":", f.Value)
		}
		if a.Link != "" {
			fmt.Fprintf(b, "%-9s %s\n", "Link:", a.Link)
		}
		b.WriteString("\n")
	}
	if len(m.Rest) > 0 {
		fmt.Fprintf(b, "%d more:\n", len(m.Rest))
		for _, l := range m.Rest {
			b.WriteString("- " + l + "\n")
		}
	}
}

var htmlTemplate = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1d1c1d">
{{- if .Test}}
<p style="background:#fff4ce;padding:8px;border:1px solid #f2c744"><strong>[TEST]</strong> This is a test notification from <code>vigil notify test</code>. No action is needed.</p>
{{- end}}
{{- range .Alerts}}
<table role="presentation" style="border-left:6px solid {{.Color}};padding-left:10px;margin:0 0 18px 0;border-collapse:collapse">
<tr><td colspan="2" style="font-size:16px;font-weight:bold;padding:4px 0 8px 0">{{.Title}}</td></tr>
{{- range .Fields}}
<tr><td style="font-weight:bold;vertical-align:top;padding:2px 12px 2px 0">{{.Name}}</td><td style="padding:2px 0;word-break:break-all">{{.Value}}</td></tr>
{{- end}}
{{- if .Link}}
<tr><td></td><td style="padding:8px 0"><a href="{{.Link}}">Open in Vigil</a></td></tr>
{{- end}}
</table>
{{- end}}
{{- if .Rest}}
<p><strong>{{len .Rest}} more:</strong></p>
<ul>{{range .Rest}}<li>{{.}}</li>{{end}}</ul>
{{- end}}
</body></html>
`))
