package sns

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // SignatureVersion 1 is SHA1withRSA.
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Errors returned (wrapped) by [Verifier.Verify]. ErrUntrustedURL,
// ErrBadSignature and ErrStale mean the message must be refused; ErrFetch
// means the certificate could not be had just now and a retry may succeed.
var (
	ErrUntrustedURL = errors.New("sns: URL is not an SNS HTTPS URL")
	ErrBadSignature = errors.New("sns: signature does not verify")
	ErrStale        = errors.New("sns: message too old")
	ErrFetch        = errors.New("sns: fetch failed")
)

const (
	// DefaultMaxAge is how old a message's Timestamp may be. SNS retries an
	// HTTP/HTTPS delivery for at most an hour, so no genuine delivery is
	// older; a captured message replayed later is.
	DefaultMaxAge = time.Hour
	// DefaultTimeout bounds one fetch (a certificate, a confirmation)
	// when VerifierOptions.Client has no timeout of its own. SNS gives up
	// on a delivery after 15 s, so every fetch must fit well inside that.
	DefaultTimeout = 5 * time.Second

	defaultCacheSize = 64
	defaultCacheTTL  = time.Hour
	// maxCert bounds a signing certificate's PEM (SNS's are about 2 KiB).
	maxCert = 16 << 10
)

// VerifierOptions configures a [Verifier]. The zero value is the
// production configuration.
type VerifierOptions struct {
	// HostAllowed reports whether a URL's host (its authority, with the
	// port if the URL names one) may be fetched from. nil means
	// [IsSNSHost]. Tests point it at a local server; production leaves it
	// nil.
	HostAllowed func(host string) bool
	// Client fetches certificates and, for [Handler], SubscribeURLs. nil
	// means a client with its own transport; a client without a timeout
	// gets [DefaultTimeout]. Whatever the client, redirects are never
	// followed.
	Client *http.Client
	// MaxAge is how old a message may be; 0 means [DefaultMaxAge] and a
	// negative value turns the check off (for messages that sat in a
	// queue).
	MaxAge time.Duration
	// CacheSize is how many certificates are kept (default 64), and
	// CacheTTL how long each (default 1 h, never past its NotAfter).
	CacheSize int
	CacheTTL  time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verifier checks SNS message signatures. It is safe for concurrent use;
// create it with [NewVerifier] and share it, so that its certificate
// cache is shared too.
type Verifier struct {
	f      fetcher
	maxAge time.Duration
	now    func() time.Time
	certs  *certCache
}

// NewVerifier returns a Verifier configured by o.
func NewVerifier(o VerifierOptions) *Verifier {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	size := o.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	return &Verifier{
		f:      newFetcher(o.Client, o.HostAllowed),
		maxAge: cmp.Or(o.MaxAge, DefaultMaxAge),
		now:    now,
		certs:  newCertCache(size, cmp.Or(o.CacheTTL, defaultCacheTTL)),
	}
}

// Verify checks that m was signed by SNS and is recent enough. In order, and
// without any network I/O before the last step: the fields the signature
// covers are present, SignatureVersion is known, Timestamp is within
// MaxAge, Signature is base64, and SigningCertURL is an SNS HTTPS URL;
// then the certificate is taken from the cache or fetched, its validity
// period checked, and the signature verified over the string-to-sign.
func (v *Verifier) Verify(ctx context.Context, m *Message) error {
	if err := m.check(); err != nil {
		return err
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: unsupported SignatureVersion %q", ErrBadSignature, clip(m.SignatureVersion))
	}
	now := v.now()
	if v.maxAge > 0 {
		t, _ := m.time() // checked by m.check
		if age := now.Sub(t); age > v.maxAge {
			return fmt.Errorf("%w: sent %s ago, more than %s", ErrStale, age.Truncate(time.Second), v.maxAge)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: Signature is not base64", ErrBadSignature)
	}
	u, err := v.f.check("SigningCertURL", m.SigningCertURL)
	if err != nil {
		return err
	}
	cert, err := v.certs.get(ctx, u.String(), now, func(ctx context.Context) (*x509.Certificate, error) {
		b, err := v.f.get(ctx, u, maxCert)
		if err != nil {
			return nil, err
		}
		return parseCert(b)
	})
	if err != nil {
		return err
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("%w: signing certificate valid only from %s to %s",
			ErrBadSignature, cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum(stringToSign(m))
		digest = d[:]
	} else {
		d := sha256.Sum256(stringToSign(m))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), hash, digest, sig); err != nil {
		return ErrBadSignature
	}
	return nil
}

// stringToSign returns the text SNS signs: the covered fields in byte
// order of their names, each as "Name\nValue\n". A notification's Subject
// is covered when the key is present, even if empty.
func stringToSign(m *Message) []byte {
	var b bytes.Buffer
	add := func(name, value string) {
		b.WriteString(name)
		b.WriteByte('\n')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == TypeNotification {
		if m.HasSubject {
			add("Subject", m.Subject)
		}
	} else {
		add("SubscribeURL", m.SubscribeURL)
	}
	add("Timestamp", m.Timestamp)
	if m.Type != TypeNotification {
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.Bytes()
}

// parseCert reads the PEM certificate at a SigningCertURL. Only an RSA
// key can check an SNS signature.
func parseCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: signing certificate is not a PEM certificate", ErrBadSignature)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: signing certificate: %v", ErrBadSignature, err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("%w: signing certificate has a %T, not an RSA key", ErrBadSignature, cert.PublicKey)
	}
	return cert, nil
}
