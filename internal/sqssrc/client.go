package sqssrc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-sec/vigil/internal/s3src"
)

// Client is the part of the SQS API that the poller uses. *sqs.Client
// implements it; it is called from several goroutines at once.
type Client interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ Client = (*sqs.Client)(nil)

// ClientOptions say how to reach SQS. The zero value uses the SDK's
// defaults, as the AWS CLI does.
type ClientOptions struct {
	// QueueURL, when Region is empty, gives the region if it is an AWS
	// queue URL (https://sqs.eu-west-1.amazonaws.com/123456789012/name).
	QueueURL string
	// Region default: the queue URL's, AWS_REGION or the profile's.
	Region string
	// Endpoint is the base URL of an SQS-compatible server. Default: AWS,
	// or AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL (read by the SDK).
	Endpoint string
	// Profile is the shared configuration profile. Default: AWS_PROFILE,
	// or "default".
	Profile string
	// Credentials, if set, replace the standard credential chain.
	Credentials aws.CredentialsProvider
}

// ErrNoRegion is returned by [NewClient] when no region is configured
// anywhere.
var ErrNoRegion = errors.New("sqssrc: no AWS region: set the region in the configuration, AWS_REGION or the profile, or use an AWS queue URL")

// NewClient returns an SQS client configured by o and the standard AWS
// configuration chain.
func NewClient(ctx context.Context, o ClientOptions) (*sqs.Client, error) {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sqssrc: endpoint %q: want an http:// or https:// URL", o.Endpoint)
		}
	}
	region := o.Region
	if region == "" {
		region = queueRegion(o.QueueURL)
	}
	cfg, err := s3src.LoadConfig(ctx, region, o.Profile, o.Credentials)
	if errors.Is(err, s3src.ErrNoRegion) {
		return nil, ErrNoRegion
	}
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(so *sqs.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}

// queueRegion returns the region of an AWS queue URL, or "".
func queueRegion(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	// sqs.<region>.amazonaws.com[.cn], or the legacy <region>.queue.amazonaws.com.
	parts := strings.Split(u.Hostname(), ".")
	switch {
	case len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws":
		return parts[1]
	case len(parts) >= 4 && parts[1] == "queue" && parts[2] == "amazonaws":
		return parts[0]
	}
	return ""
}

// queueName returns the last path segment of a queue URL: the queue's
// name.
func queueName(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil || u.Path == "" {
		return ""
	}
	p := strings.TrimSuffix(u.Path, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}
