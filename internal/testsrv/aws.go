package testsrv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// awsEndpoint is what the AWS emulators share: where they listen and the
// credentials and region their clients sign with.
type awsEndpoint struct {
	URL       string // http://127.0.0.1:port
	Region    string
	AccessKey string
	SecretKey string
}

// Config returns an SDK configuration that reaches the server and nothing
// else: static credentials, the server's region, its URL as the base
// endpoint of every service, and no credential or endpoint lookups in the
// environment or ~/.aws.
func (e awsEndpoint) Config() aws.Config {
	return aws.Config{
		Region:       e.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		BaseEndpoint: aws.String(e.URL),
		HTTPClient:   &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Minute},
	}
}

// S3 returns an S3 client for the server, with path-style addressing
// (http://127.0.0.1:port/bucket/key: bucket host names do not resolve on
// loopback).
func (e awsEndpoint) S3() *s3.Client {
	return s3.NewFromConfig(e.Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

// CreateBucket creates a bucket, failing the test if it cannot.
func (e awsEndpoint) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("testsrv: create bucket %q at %s: %v", name, e.URL, err)
	}
}

// PutObject stores body under bucket/key, failing the test if it cannot.
func (e awsEndpoint) PutObject(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.S3().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		t.Fatalf("testsrv: put s3://%s/%s at %s: %v", bucket, key, e.URL, err)
	}
}

// SQS returns an SQS client for the server.
func (e awsEndpoint) SQS() *sqs.Client {
	return sqs.NewFromConfig(e.Config())
}

// httpReady reports whether the server answers HTTP at path, whatever the
// status below 500 (an unsigned request may well be refused).
func httpReady(url string) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
