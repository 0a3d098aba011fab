package testsrv

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// listAll lists bucket/prefix page by page, pageSize keys at a time, and
// returns the keys and how many pages it took.
func listAll(ctx context.Context, t *testing.T, c *s3.Client, bucket, prefix string, pageSize int32) (keys []string, pages int) {
	t.Helper()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(pageSize),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2 %s/%s: %v", bucket, prefix, err)
		}
		pages++
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, pages
}

// TestVersityGW checks the S3 calls Vigil's sources make against versitygw.
func TestVersityGW(t *testing.T) {
	t.Parallel()
	s := VersityGW(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.CreateBucket(t, "logs")
	objects := map[string]string{
		"AWSLogs/1/CloudTrail/a.json.gz":    "a",
		"AWSLogs/1/CloudTrail/b.json.gz":    "b",
		"AWSLogs/1/CloudTrail/c d+e é.json": "c",
		"AWSLogs/2/CloudTrail/x.json.gz":    "x",
		"other/y":                           "y",
	}
	for k, v := range objects {
		s.PutObject(t, "logs", k, []byte(v))
	}
	c := s.S3()

	keys, pages := listAll(ctx, t, c, "logs", "AWSLogs/1/", 2)
	slices.Sort(keys)
	want := []string{"AWSLogs/1/CloudTrail/a.json.gz", "AWSLogs/1/CloudTrail/b.json.gz", "AWSLogs/1/CloudTrail/c d+e é.json"}
	if !slices.Equal(keys, want) || pages != 2 {
		t.Errorf("ListObjectsV2(prefix AWSLogs/1/, MaxKeys 2) = %q in %d pages, want %q in 2", keys, pages, want)
	}

	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("AWSLogs/1/CloudTrail/c d+e é.json")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || string(b) != "c" {
		t.Errorf("GetObject body = %q, %v; want %q", b, err, "c")
	}

	bad := s3.NewFromConfig(s.Config(), func(o *s3.Options) {
		o.UsePathStyle = true
		o.Credentials = credentials.NewStaticCredentialsProvider(s.AccessKey, "wrong", "")
	})
	_, err = bad.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Errorf("ListObjectsV2 with a wrong secret: err = %v, want SignatureDoesNotMatch", err)
	}
}
