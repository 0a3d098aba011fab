package sns

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// DefaultMaxBody bounds a request body. SNS messages reach 256 KiB, and
// JSON escaping can double a message inside its envelope (every quote of
// a JSON payload becomes \"), so the bound is well above 256 KiB: a
// genuine message refused with 413 would be lost, as SNS does not retry
// 4xx answers.
const DefaultMaxBody = 1 << 20

// maxConfirm bounds the answer read from a SubscribeURL (an XML document
// of a few hundred bytes).
const maxConfirm = 64 << 10

// HandlerOptions configures a [Handler].
type HandlerOptions struct {
	// Topics is the allow-list of topic ARNs whose messages are accepted
	// and whose subscriptions are confirmed; see [NewHandler] for the
	// pattern syntax. Required.
	Topics []string
	// Verifier checks signatures and fetches SubscribeURLs; nil means
	// NewVerifier(VerifierOptions{}), the production configuration.
	Verifier *Verifier
	// MaxBody bounds a request body; 0 means [DefaultMaxBody].
	MaxBody int64
	// Deliver is called with every verified notification from an allowed
	// topic, possibly concurrently. It should return nil once the message
	// is accepted durably: SNS is then answered 200 and forgets it. An
	// error makes the handler answer 503, so that SNS delivers the
	// message again (for at most an hour); if the error, or one it wraps,
	// has a RetryAfter() time.Duration method, its value is sent as
	// Retry-After. Content that no retry can fix is not an error. Required.
	Deliver func(ctx context.Context, m *Message) error
	// Logger receives one line per refused or failed request and per
	// subscription change; nil discards them. Bodies are never logged.
	Logger *slog.Logger
}

// Handler is the HTTP endpoint an SNS topic delivers to (POST /sns). It
// is safe for concurrent use.
type Handler struct {
	topics  topics
	v       *Verifier
	maxBody int64
	deliver func(context.Context, *Message) error
	log     *slog.Logger
}

// NewHandler returns a Handler configured by o, or an error naming every
// problem with o. Each of o.Topics is a topic ARN,
// arn:PARTITION:sns:REGION:ACCOUNT:NAME, in which PARTITION, REGION and
// NAME may use * for any run of characters within the part, as in
// arn:aws:sns:*:123456789012:vigil-*. ACCOUNT must be written out: a
// wildcard there would accept topics anyone can create.
func NewHandler(o HandlerOptions) (*Handler, error) {
	var errs []error
	t, err := compileTopics(o.Topics)
	if err != nil {
		errs = append(errs, err)
	}
	if o.Deliver == nil {
		errs = append(errs, errors.New("sns: Deliver is required"))
	}
	if o.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("sns: MaxBody %d is negative", o.MaxBody))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h := &Handler{
		topics:  t,
		v:       o.Verifier,
		maxBody: o.MaxBody,
		deliver: o.Deliver,
		log:     o.Logger,
	}
	if h.v == nil {
		h.v = NewVerifier(VerifierOptions{})
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// The request headers SNS sets.
const (
	headerType  = "X-Amz-Sns-Message-Type"
	headerTopic = "X-Amz-Sns-Topic-Arn"
	headerRaw   = "X-Amz-Sns-Rawdelivery"
)

const rawHint = "raw message delivery is enabled on this subscription: Vigil needs SNS's signed JSON envelope, so disable it (subscription attribute RawMessageDelivery=false)"

// ServeHTTP handles one SNS delivery: it answers 405 to anything but POST,
// 413 to a body over the limit, 400 to a malformed message (or one sent
// with raw message delivery), 403 to a message from a topic not on the
// allow-list or whose signature or age does not verify, 503 when the
// certificate cannot be fetched or Deliver fails, 502 when a subscription
// cannot be confirmed (403 if its SubscribeURL is not an SNS HTTPS URL),
// and 200 otherwise.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST is allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get(headerRaw) == "true" {
		h.log.Error("sns: refused a raw delivery", "topic", clip(r.Header.Get(headerTopic)), "hint", rawHint)
		http.Error(w, rawHint, http.StatusBadRequest)
		return
	}
	typ := r.Header.Get(headerType)
	if _, ok := required[typ]; !ok {
		h.refuse(w, r, http.StatusBadRequest, nil, fmt.Errorf("%w: header x-amz-sns-message-type is %q, not an SNS message type", ErrMalformed, clip(typ)))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, nil, fmt.Errorf("sns: body over %d bytes", h.maxBody))
			return
		}
		h.refuse(w, r, http.StatusBadRequest, nil, fmt.Errorf("sns: reading body: %w", err))
		return
	}
	m, err := Parse(body)
	if err != nil {
		if typ == TypeNotification {
			err = fmt.Errorf("%w (if %s)", err, rawHint)
		}
		h.refuse(w, r, http.StatusBadRequest, nil, err)
		return
	}
	if m.Type != typ {
		h.refuse(w, r, http.StatusBadRequest, m, fmt.Errorf("%w: header x-amz-sns-message-type %q does not match Type %q", ErrMalformed, typ, m.Type))
		return
	}
	if t := r.Header.Get(headerTopic); t != "" && t != m.TopicArn {
		h.refuse(w, r, http.StatusBadRequest, m, fmt.Errorf("%w: header x-amz-sns-topic-arn does not match TopicArn", ErrMalformed))
		return
	}
	// The allow-list comes before the signature, so that messages from
	// other topics cost no certificate fetch.
	if !h.topics.match(m.TopicArn) {
		h.refuse(w, r, http.StatusForbidden, m, errors.New("sns: topic is not on the allow-list"))
		return
	}
	if err := h.v.Verify(r.Context(), m); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, ErrFetch) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusServiceUnavailable
		}
		h.refuse(w, r, code, m, err)
		return
	}

	switch m.Type {
	case TypeSubscriptionConfirmation:
		arn, err := h.confirm(r.Context(), m)
		if err != nil {
			// SNS retries a 502; a SubscribeURL that is not SNS's will not
			// become SNS's, so that one is refused for good.
			code := http.StatusBadGateway
			if errors.Is(err, ErrUntrustedURL) {
				code = http.StatusForbidden
			}
			h.refuse(w, r, code, m, fmt.Errorf("sns: confirming the subscription: %w", err))
			return
		}
		h.log.Info("sns: subscribed", "topic", m.TopicArn, "subscription", arn, "message_id", m.MessageID)
	case TypeUnsubscribeConfirmation:
		// Only logged: re-subscribing is the operator's decision.
		h.log.Warn("sns: unsubscribed", "topic", m.TopicArn, "message_id", m.MessageID)
	case TypeNotification:
		if err := h.deliver(r.Context(), m); err != nil {
			if ra, ok := errors.AsType[retryAfter](err); ok {
				if s := int64((ra.RetryAfter() + time.Second - 1) / time.Second); s > 0 {
					w.Header().Set("Retry-After", strconv.FormatInt(s, 10))
				}
			}
			h.fail(w, r, http.StatusServiceUnavailable, m, fmt.Errorf("sns: delivering: %w", err), "delivery failed; retry later")
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// retryAfter is implemented by a Deliver error that knows when to retry.
type retryAfter interface {
	error
	RetryAfter() time.Duration
}

// refuse answers code with err's text, which describes the request (a
// field, a host, a status), and logs it; see fail.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, code int, m *Message, err error) {
	h.fail(w, r, code, m, err, err.Error())
}

// fail logs err, with m's topic and id when m is known, and answers code
// with answer. The body is never logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, m *Message, err error, answer string) {
	attrs := []any{"status", code, "err", err}
	if m != nil {
		attrs = append(attrs, "topic", clip(m.TopicArn), "message_id", clip(m.MessageID), "type", m.Type)
	}
	level := slog.LevelWarn
	if code >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "sns: request refused", attrs...)
	http.Error(w, answer, code)
}

// confirm visits m's SubscribeURL, which must be an SNS HTTPS URL, and
// returns the subscription ARN from the answer, if it has one.
func (h *Handler) confirm(ctx context.Context, m *Message) (string, error) {
	u, err := h.v.f.check("SubscribeURL", m.SubscribeURL)
	if err != nil {
		return "", err
	}
	b, err := h.v.f.get(ctx, u, maxConfirm)
	if err != nil {
		return "", err
	}
	var resp struct {
		SubscriptionArn string `xml:"ConfirmSubscriptionResult>SubscriptionArn"`
	}
	_ = xml.Unmarshal(b, &resp) // the ARN is for the log; 200 is the confirmation
	return clip(resp.SubscriptionArn), nil
}
