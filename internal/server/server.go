// Package server is the HTTP face of `vigil serve`: event ingest (POST
// /ingest, and the SNS endpoint mounted at /sns), the read API over the
// alert store, Prometheus metrics and health checks.
package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-sec/vigil/internal/metrics"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/sns"
	"github.com/vigil-sec/vigil/internal/spool"
	"github.com/vigil-sec/vigil/internal/store"
)

// Spooler keeps what ingest receives durably.
type Spooler interface {
	Append(ctx context.Context, recs ...spool.Record) error
}

// Alerts is the read side of the alert store.
type Alerts interface {
	List(q store.Query) (store.Page, error)
	Get(id string) (store.Stored, bool, error)
}

// Options configure the handler.
type Options struct {
	Spool  Spooler
	Alerts Alerts
	// Metrics, if set, is served at /metrics and counts ingest requests.
	Metrics *metrics.Metrics
	// Tokens are accepted bearer tokens; HMACSecret accepts requests
	// signed as Vigil's webhooks are. With neither, ingest is open (the
	// daemon allows that only on loopback).
	Tokens     []string
	HMACSecret string
	// MaxBody bounds an ingest body; default DefaultMaxBody.
	MaxBody int64
	// SNSTopics, if any, turns on POST /sns for SNS HTTP(S)
	// subscriptions from these topics (patterns as sns.HandlerOptions);
	// their messages are spooled like ingest's. SNSVerifier checks their
	// signatures; nil is the production verifier (SNS hosts only).
	SNSTopics   []string
	SNSVerifier *sns.Verifier
	// Ready reports whether the daemon can take events; nil is ready.
	Ready  func() error
	Logger *slog.Logger
	Now    func() time.Time
}

// DefaultMaxBody is the largest ingest body by default.
const DefaultMaxBody = 16 << 20

// maxSkew is how far an HMAC-signed request's timestamp may be from the
// clock.
const maxSkew = 5 * time.Minute

type server struct {
	o   Options
	log *slog.Logger
	seq atomic.Uint64
}

// New returns the daemon's HTTP handler. It fails only on a bad SNS
// topic pattern.
func New(o Options) (http.Handler, error) {
	o.MaxBody = cmp.Or(o.MaxBody, DefaultMaxBody)
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{o: o, log: cmp.Or(o.Logger, slog.New(slog.DiscardHandler))}
	mux := http.NewServeMux()
	mux.Handle("/ingest", s.counted("ingest", http.HandlerFunc(s.ingest)))
	if len(o.SNSTopics) > 0 {
		h, err := sns.NewHandler(sns.HandlerOptions{Topics: o.SNSTopics, Verifier: o.SNSVerifier, Logger: s.log, Deliver: s.deliverSNS})
		if err != nil {
			return nil, err
		}
		mux.Handle("/sns", s.counted("sns", h))
	}
	mux.HandleFunc("GET /api/alerts", s.listAlerts)
	mux.HandleFunc("GET /api/alerts/{id}", s.getAlert)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.ready)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /{$}", s.index)
	return mux, nil
}

// busy is a spool refusal SNS should retry later; the SNS handler turns
// its RetryAfter into a Retry-After header on a 503 (SNS retries 5xx,
// and treats 4xx, 429 included, as delivered).
type busy struct{ error }

func (busy) RetryAfter() time.Duration { return time.Second }

// deliverSNS spools a verified notification's message: the event (or S3
// notification, or CloudTrail file notice) it carries.
func (s *server) deliverSNS(ctx context.Context, m *sns.Message) error {
	err := s.o.Spool.Append(ctx, spool.Record{Source: "sns", Name: "sns/" + m.TopicArn + "/" + m.MessageID, Received: s.o.Now(), Body: []byte(m.Message)})
	if errors.Is(err, spool.ErrFull) {
		return busy{err}
	}
	return err
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *server) counted(endpoint string, h http.Handler) http.Handler {
	if s.o.Metrics == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.o.Metrics.Ingest.WithLabelValues(endpoint, strconv.Itoa(cmp.Or(sw.code, http.StatusOK))).Inc()
	})
}

// problem writes a JSON error.
func problem(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, args...)})
	w.Write(append(b, '\n'))
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		problem(w, http.StatusInternalServerError, "encode: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(append(b, '\n'))
}

// authorized checks the bearer token or the HMAC signature. It needs the
// body for the signature.
func (s *server) authorized(r *http.Request, body []byte) bool {
	if len(s.o.Tokens) == 0 && s.o.HMACSecret == "" {
		return true
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		match := 0
		for _, t := range s.o.Tokens {
			match |= subtle.ConstantTimeCompare([]byte(tok), []byte(t))
		}
		if match == 1 {
			return true
		}
	}
	if s.o.HMACSecret != "" {
		ts := r.Header.Get(notify.WebhookTimestampHeader)
		sig := r.Header.Get(notify.WebhookSignatureHeader)
		if ts == "" || sig == "" {
			return false
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return false
		}
		if d := s.o.Now().Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
			return false
		}
		return notify.VerifyWebhook(s.o.HMACSecret, ts, body, sig)
	}
	return false
}

// ingest takes one event, a JSON array of events, NDJSON, or a whole log
// file (JSON or gzipped), and answers 202 once it is durably spooled.
func (s *server) ingest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		problem(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	received := s.o.Now()
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		problem(w, http.StatusUnsupportedMediaType, "Content-Encoding %q is not accepted: post the body as is (a gzipped log file may be posted as the body itself)", enc)
		return
	}
	if r.ContentLength > s.o.MaxBody {
		problem(w, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, s.o.MaxBody)
		return
	}
	buf, err := readBody(w, r, s.o.MaxBody)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			problem(w, http.StatusRequestEntityTooLarge, "body is over the limit of %d bytes", s.o.MaxBody)
			return
		}
		problem(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	defer putBody(buf)
	body := buf.Bytes()
	if !s.authorized(r, body) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		problem(w, http.StatusUnauthorized, "missing or wrong credentials (Authorization: Bearer, or X-Vigil-Timestamp and X-Vigil-Signature)")
		return
	}
	if err := checkBody(body); err != nil {
		problem(w, http.StatusBadRequest, "%v", err)
		return
	}
	name := fmt.Sprintf("http/%s#%d", received.UTC().Format("2006-01-02T15:04:05.000Z"), s.seq.Add(1))
	err = s.o.Spool.Append(r.Context(), spool.Record{Source: "http", Name: name, Received: received, Body: body})
	switch {
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":%q,"bytes":%d}`+"\n", name, len(body))
	case errors.Is(err, spool.ErrFull):
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusTooManyRequests, "busy: events received but not yet processed are at their limit; retry")
	case errors.Is(err, spool.ErrTooLarge):
		problem(w, http.StatusRequestEntityTooLarge, "%v", err)
	case errors.Is(err, spool.ErrClosed):
		w.Header().Set("Retry-After", "5")
		problem(w, http.StatusServiceUnavailable, "shutting down; retry")
	default:
		s.log.Error("ingest: spool", "err", err)
		problem(w, http.StatusInternalServerError, "could not store the events; retry")
	}
}

// checkBody refuses what is certainly not events, so that the sender
// learns of it now rather than from a log line later: an empty body, and
// text that does not begin and end as JSON does. Gzip is passed on (the
// pipeline reads it with its limits). Full validation is left to the
// pipeline, which reports each bad record with its position and keeps
// its neighbours: checking every byte here would cost an eighth of the
// daemon's time.
func checkBody(b []byte) error {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		return nil
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return errors.New("empty body")
	}
	first, last := t[0], t[len(t)-1]
	if (first != '{' && first != '[') || (last != '}' && last != ']') {
		return errors.New("body is not JSON (one event, an array of events, or one event per line)")
	}
	return nil
}

// bodies recycles request buffers: the spool copies what it keeps.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the request body, up to max bytes, into a pooled buffer.
func readBody(w http.ResponseWriter, r *http.Request, max int64) (*bytes.Buffer, error) {
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	if n := r.ContentLength; n > 0 && n <= max {
		buf.Grow(int(n) + 1)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		putBody(buf)
		return nil, err
	}
	return buf, nil
}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		bodies.Put(b)
	}
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if s.o.Ready != nil {
		if err := s.o.Ready(); err != nil {
			problem(w, http.StatusServiceUnavailable, "not ready: %v", err)
			return
		}
	}
	io.WriteString(w, "ready\n")
}

func (s *server) listAlerts(w http.ResponseWriter, r *http.Request) {
	if s.o.Alerts == nil {
		problem(w, http.StatusNotFound, "no alert store")
		return
	}
	q, err := store.ParseQuery(r.URL.Query())
	if err != nil {
		problem(w, http.StatusBadRequest, "%v", err)
		return
	}
	page, err := s.o.Alerts.List(q)
	if err != nil {
		var qe *store.QueryError
		if errors.As(err, &qe) {
			problem(w, http.StatusBadRequest, "%v", err)
			return
		}
		s.log.Error("api: list alerts", "err", err)
		problem(w, http.StatusInternalServerError, "list alerts failed")
		return
	}
	writeJSON(w, page)
}

func (s *server) getAlert(w http.ResponseWriter, r *http.Request) {
	if s.o.Alerts == nil {
		problem(w, http.StatusNotFound, "no alert store")
		return
	}
	id := r.PathValue("id")
	st, ok, err := s.o.Alerts.Get(id)
	switch {
	case err != nil:
		s.log.Error("api: get alert", "id", id, "err", err)
		problem(w, http.StatusInternalServerError, "get alert failed")
	case !ok:
		problem(w, http.StatusNotFound, "no alert %q", id)
	default:
		writeJSON(w, st)
	}
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, `Vigil
POST /ingest            events: one, an array, JSON lines, or a log file
POST /sns               SNS HTTP(S) subscriptions (when topics are configured)
GET  /api/alerts        alerts: since, until, rule, severity, account, limit, cursor
GET  /api/alerts/{id}   one alert (its dedup_key) with the event that raised it
GET  /metrics           Prometheus metrics
GET  /healthz, /readyz  liveness, readiness
`)
}
