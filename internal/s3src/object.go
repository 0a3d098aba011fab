package s3src

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vigil-sec/vigil/internal/source"
)

// ErrTooLarge is wrapped by the errors of objects larger than the limit
// they were opened with.
var ErrTooLarge = errors.New("s3src: object too large")

// Name returns the name of an object's input: s3://bucket/key.
func Name(bucket, key string) string { return "s3://" + bucket + "/" + key }

// OpenObject opens an object for reading: the returned body streams from
// S3 as it is read, and must be closed. ctx bounds the whole read, not only
// the call.
func OpenObject(ctx context.Context, c Client, bucket, key string) (io.ReadCloser, error) {
	return openObject(ctx, c, bucket, key, 0)
}

// ObjectInput returns a pipeline input for an object, named
// s3://bucket/key, that opens it when the pipeline reaches it (with ctx,
// which must outlive the read). maxSize, when positive, makes Open fail
// with [ErrTooLarge] for a larger object, and the read fail if the body
// turns out longer than it said.
func ObjectInput(ctx context.Context, c Client, bucket, key string, maxSize int64) source.Input {
	return source.Input{Name: Name(bucket, key), Open: func() (io.ReadCloser, error) {
		return openObject(ctx, c, bucket, key, maxSize)
	}}
}

// Ref is an S3 object that a message names.
type Ref struct {
	Bucket, Key string
	// Size is the size the message gave, or 0.
	Size int64
	// AltKey, if set, is another reading of the key to try when Key does
	// not exist: the form-decoded key, for keys from messages whose
	// encoding is not documented (EventBridge).
	AltKey string
}

// Name returns s3://bucket/key.
func (r Ref) Name() string { return Name(r.Bucket, r.Key) }

// Input returns a pipeline input for the object, as [ObjectInput] does,
// that tries AltKey when Key does not exist.
func (r Ref) Input(ctx context.Context, c Client, maxSize int64) source.Input {
	return source.Input{Name: r.Name(), Open: func() (io.ReadCloser, error) {
		rc, err := openObject(ctx, c, r.Bucket, r.Key, maxSize)
		if r.AltKey != "" && r.AltKey != r.Key && IsNotFound(err) {
			rc, err = openObject(ctx, c, r.Bucket, r.AltKey, maxSize)
		}
		return rc, err
	}}
}

// IsNotFound reports whether err says that an object or its bucket does
// not exist.
func IsNotFound(err error) bool {
	var nk *types.NoSuchKey
	var nb *types.NoSuchBucket
	return errors.As(err, &nk) || errors.As(err, &nb)
}

func openObject(ctx context.Context, c Client, bucket, key string, maxSize int64) (io.ReadCloser, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("s3src: get %s: %w", Name(bucket, key), err)
	}
	if maxSize <= 0 {
		return out.Body, nil
	}
	if n := aws.ToInt64(out.ContentLength); n > maxSize {
		out.Body.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, Name(bucket, key), n, maxSize)
	}
	return &limitedBody{rc: out.Body, left: maxSize, name: Name(bucket, key), max: maxSize}, nil
}

// limitedBody fails a read that goes past max bytes.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	name string
	max  int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w: %s is longer than the limit of %d bytes", ErrTooLarge, l.name, l.max)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1] // one byte more tells a body of exactly max from a longer one
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		n += int(l.left) // hand over only the bytes within the limit
		return n, fmt.Errorf("%w: %s is longer than the limit of %d bytes", ErrTooLarge, l.name, l.max)
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
