package s3src

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigil-sec/vigil/internal/source"
)

// ListOptions tune [List]. The zero value lists every object with S3's
// default page size and no size limit.
type ListOptions struct {
	// PageSize is the MaxKeys of each ListObjectsV2 call. Default: the
	// server's (1000 for S3).
	PageSize int32
	// MaxSize, when positive, leaves out objects larger than it, and
	// makes an input fail with [ErrTooLarge] if its object has grown past
	// it by the time it is read.
	MaxSize int64
	// Skipped, if set, is called for every object left out, with why:
	// "folder" (a key ending in "/"), "empty" (no bytes), or "too large".
	Skipped func(key string, size int64, reason string)
}

// List returns an input for every object under prefix in bucket, sorted by
// key, which for CloudTrail's and most other AWS log deliveries is the
// order they were written in. Keys ending in "/" (folder markers) and
// empty objects are left out, as are objects larger than o.MaxSize. Each
// input is named s3://bucket/key and opens its object with ctx when the
// pipeline reaches it; nothing is read before that.
//
// The listing is read whole before List returns, one ListObjectsV2 page at
// a time; an error on any page fails the listing.
func List(ctx context.Context, c Client, bucket, prefix string, o ListOptions) ([]source.Input, error) {
	type object struct {
		key  string
		size int64
	}
	var objects []object
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if o.PageSize > 0 {
		in.MaxKeys = aws.Int32(o.PageSize)
	}
	skip := func(key string, size int64, reason string) {
		if o.Skipped != nil {
			o.Skipped(key, size, reason)
		}
	}
	p := s3.NewListObjectsV2Paginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3src: list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, obj := range out.Contents {
			key, size := aws.ToString(obj.Key), aws.ToInt64(obj.Size)
			switch {
			case key == "" || strings.HasSuffix(key, "/"):
				skip(key, size, "folder")
			case obj.Size != nil && size == 0:
				skip(key, size, "empty")
			case o.MaxSize > 0 && size > o.MaxSize:
				skip(key, size, "too large")
			default:
				objects = append(objects, object{key, size})
			}
		}
	}
	// S3 lists in byte order already; S3-compatible servers and directory
	// buckets may not.
	slices.SortFunc(objects, func(a, b object) int { return strings.Compare(a.key, b.key) })
	inputs := make([]source.Input, len(objects))
	for i, obj := range objects {
		inputs[i] = ObjectInput(ctx, c, bucket, obj.key, o.MaxSize)
	}
	return inputs, nil
}
