package s3src

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URL is an s3://bucket/prefix location.
type URL struct {
	Bucket string
	// Prefix is everything after the bucket and its slash, as written: S3
	// keys are not URL-encoded in s3:// URLs (as in the AWS CLI), so
	// "s3://b/a%20b" names the prefix "a%20b". Empty means the whole
	// bucket.
	Prefix string
}

// String returns the URL in s3://bucket/prefix form.
func (u URL) String() string { return "s3://" + u.Bucket + "/" + u.Prefix }

// ErrBadURL is wrapped by the errors of [ParseURL].
var ErrBadURL = errors.New("s3src: bad S3 URL")

// ParseURL parses "s3://bucket" or "s3://bucket/prefix". The scheme is
// case-insensitive; the bucket must be a valid bucket name (3 to 63
// lowercase letters, digits, dots and hyphens; underscores and capitals,
// which old us-east-1 buckets may have, are accepted too).
func ParseURL(s string) (URL, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !strings.EqualFold(scheme, "s3") {
		return URL{}, fmt.Errorf("%w %q: want s3://bucket/prefix", ErrBadURL, s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return URL{}, fmt.Errorf("%w %q: no bucket name", ErrBadURL, s)
	}
	if err := checkBucket(bucket); err != nil {
		return URL{}, fmt.Errorf("%w %q: bucket %q: %v", ErrBadURL, s, bucket, err)
	}
	return URL{Bucket: bucket, Prefix: prefix}, nil
}

// checkBucket reports what is wrong with a bucket name, leniently: S3's
// legacy rules allowed capitals and underscores.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("length %d, want 3 to 63", len(b))
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		default:
			return fmt.Errorf("character %q at %d (bucket names hold letters, digits, '.', '-' and '_'; is this an access point or a path?)", c, i)
		}
	}
	return nil
}

// DecodeKey undoes the encoding of object keys in S3 event notifications,
// where keys are form-encoded: "+" for a space, %XX for other bytes
// ("red flower+é.gz" is sent as "red+flower%2B%C3%A9.gz"). A key that is
// not valid form encoding (a "%" without two hex digits) cannot have been
// encoded by S3: the error says so, and callers use the key as it is.
func DecodeKey(key string) (string, error) {
	d, err := url.QueryUnescape(key)
	if err != nil {
		return key, fmt.Errorf("s3src: key %q is not form-encoded: %w", key, err)
	}
	return d, nil
}
