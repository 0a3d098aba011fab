package notify

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const (
	// defaultTimeout bounds one delivery when the receiver sets none.
	defaultTimeout = 10 * time.Second
	// maxResponse is how much of an answer is read: enough for any
	// error message, not enough to hurt when a server misbehaves.
	maxResponse = 64 << 10
	// maxRetryAfter caps the wait a destination may ask for, so a
	// broken header cannot park a notification for a day.
	maxRetryAfter = time.Hour
	// maxErrBody is how much of an error answer goes into the error.
	maxErrBody = 256
)

// poster makes the HTTP requests of one sender. It holds the sender's
// own client, so that a slow destination does not use another's
// connections, and is safe for concurrent use once built.
type poster struct {
	dest   string // the sender's Name, for errors
	client *http.Client
	header http.Header // configured extra headers
	ua     string
	// secrets are strings that must never appear in an error: the
	// secret part of a URL, a routing key.
	secrets []string
}

// newPoster returns a poster with its own transport. Redirects are not
// followed: a destination that moved answers 3xx, which is reported as
// a permanent error, rather than have a signed body or configured
// credentials sent somewhere the configuration does not name.
func newPoster(dest string, timeout time.Duration, header map[string]string, o Options, secrets ...string) *poster {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection for every notification a destination is sent at
	// once (the default keeps two): otherwise each round of parallel
	// sends opens new connections.
	tr.MaxIdleConnsPerHost = 2 * DefaultParallel
	h := make(http.Header, len(header))
	for k, v := range header {
		h.Set(k, v)
	}
	var keep []string
	for _, s := range secrets {
		if s != "" {
			keep = append(keep, s)
		}
	}
	return &poster{
		dest: dest,
		client: &http.Client{
			Transport: tr,
			Timeout:   cmp.Or(timeout, defaultTimeout),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		header:  h,
		ua:      userAgent(o),
		secrets: keep,
	}
}

func userAgent(o Options) string { return "vigil/" + cmp.Or(o.Version, "dev") }

// post sends body as JSON to u and classifies the answer: nil for 2xx,
// else a *SendError. set, when not nil, sets headers of the sender's
// own after the configured ones, so that they cannot be overridden.
func (p *poster) post(ctx context.Context, u string, body []byte, set func(http.Header)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return &SendError{Dest: p.dest, Permanent: true, Err: errors.New(p.redact(err.Error()))}
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", p.ua)
	req.Header.Set("Content-Type", "application/json")
	if set != nil {
		set(req.Header)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL, which for Slack is the
		// secret: keep only its cause, which errors.Is still sees.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &SendError{Dest: p.dest, Err: fmt.Errorf("post %s: %w", redactURL(u), err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return p.classify(resp, answer)
}

// classify turns an answer into nil (2xx) or a *SendError.
func (p *poster) classify(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	se := &SendError{Dest: p.dest, Status: code, Permanent: !retryableStatus(code)}
	if !se.Permanent {
		se.RetryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	msg := http.StatusText(code)
	if code >= 300 && code < 400 {
		msg = "redirect not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += " (to " + redactURL(loc) + ")"
		}
	}
	if s := p.redact(snippet(body)); s != "" {
		msg += ": " + s
	}
	se.Err = errors.New(msg)
	return se
}

// retryableStatus reports whether an HTTP status may change on retry:
// timeouts, "too early", rate limits and server errors.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500
}

// parseRetryAfter reads a Retry-After header (RFC 9110 10.2.3): a
// number of seconds or an HTTP date. It reports false when v is empty or
// unreadable. The wait is never negative and at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true // a number too large to parse is still "long"
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	return min(max(d, 0), maxRetryAfter), true
}

// snippet is the start of an answer made safe for an error message:
// valid UTF-8, one line, at most maxErrBody bytes.
func snippet(b []byte) string {
	if len(b) > maxErrBody {
		b = b[:maxErrBody]
	}
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// redact replaces the poster's secrets in s.
func (p *poster) redact(s string) string {
	for _, sec := range p.secrets {
		s = strings.ReplaceAll(s, sec, "<secret>")
	}
	return s
}

// redactURL returns u reduced to scheme and host, so that a path or
// query holding a token (a Slack webhook, a signed URL) and a password
// in the user information never reach a log.
func redactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return "<url>"
	}
	s := pu.Scheme + "://" + pu.Host
	if pu.Path != "" && pu.Path != "/" || pu.RawQuery != "" {
		s += "/…"
	}
	return s
}

// checkHeaders validates configured extra headers: names are HTTP
// tokens, values hold no line breaks, and none is one the sender sets
// itself (the framing headers and those named in reserved).
func checkHeaders(h map[string]string, reserved ...string) error {
	reserved = append(reserved, "Content-Length", "Host", "Transfer-Encoding", "Connection")
	for k, v := range h {
		if !isToken(k) {
			return fmt.Errorf("%q is not a valid header name", k)
		}
		for _, r := range reserved {
			if strings.EqualFold(k, r) {
				return fmt.Errorf("%s is set by Vigil and cannot be configured", http.CanonicalHeaderKey(k))
			}
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("value of %s holds a line break or NUL", http.CanonicalHeaderKey(k))
		}
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
