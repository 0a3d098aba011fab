package s3src

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Client is the part of the S3 API that this package uses. *s3.Client
// implements it; it is safe for concurrent use, and so must other
// implementations be.
type Client interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ Client = (*s3.Client)(nil)

// Options say how to reach S3. The zero value uses the SDK's defaults:
// region, credentials and endpoint from the environment, ~/.aws and the
// instance or task role, as the AWS CLI does.
type Options struct {
	// Region is the bucket's region. Default: AWS_REGION or the profile's.
	Region string
	// Endpoint is the base URL of an S3-compatible server, such as
	// http://127.0.0.1:7070. Default: AWS's S3, or AWS_ENDPOINT_URL_S3 or
	// AWS_ENDPOINT_URL when set (the SDK reads those itself).
	Endpoint string
	// PathStyle addresses buckets in the path (endpoint/bucket/key)
	// rather than in the host name (bucket.endpoint/key), as most
	// S3-compatible servers need.
	PathStyle bool
	// Profile is the shared configuration profile to use. Default:
	// AWS_PROFILE, or "default".
	Profile string
	// Credentials, if set, replace the standard credential chain.
	Credentials aws.CredentialsProvider
}

// ErrNoRegion is returned by [NewClient] when no region is configured
// anywhere.
var ErrNoRegion = errors.New("s3src: no AWS region: set the region in the configuration, AWS_REGION or the profile")

// NewClient returns an S3 client configured by o and the standard AWS
// configuration chain (config.LoadDefaultConfig).
func NewClient(ctx context.Context, o Options) (*s3.Client, error) {
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			return nil, err
		}
	}
	cfg, err := LoadConfig(ctx, o.Region, o.Profile, o.Credentials)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	}), nil
}

// LoadConfig loads the SDK configuration from the standard chain, with the
// region, profile and credentials given when they are not empty. It fails
// if no region is configured anywhere. The SQS poller's client is built
// from it too.
func LoadConfig(ctx context.Context, region, profile string, creds aws.CredentialsProvider) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if creds != nil {
		opts = append(opts, config.WithCredentialsProvider(creds))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("s3src: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	return cfg, nil
}

// checkEndpoint reports whether an endpoint is an absolute http(s) URL.
func checkEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("s3src: endpoint %q: want an http:// or https:// URL", e)
	}
	return nil
}
