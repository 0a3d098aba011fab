package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/daemon"
	"github.com/vigil-sec/vigil/internal/lambda"
	"github.com/vigil-sec/vigil/internal/metrics"
	"github.com/vigil-sec/vigil/internal/s3src"
	"github.com/vigil-sec/vigil/internal/source"
	"github.com/vigil-sec/vigil/internal/sqssrc"
)

// s3Client builds the client that reads the objects notifications name.
func s3Client(ctx context.Context, cfg *config.Config) (s3src.Client, error) {
	c, err := s3src.NewClient(ctx, s3src.Options{Region: cfg.Serve.S3.Region, Endpoint: cfg.Serve.S3.Endpoint, PathStyle: cfg.Serve.S3.PathStyle})
	if err != nil {
		return nil, fmt.Errorf("serve.s3: %w", err)
	}
	return c, nil
}

// sqsSources builds a poller for each configured queue.
func sqsSources(ctx context.Context, cfg *config.Config, data string, log *slog.Logger, m *metrics.Metrics) ([]daemon.Source, error) {
	if len(cfg.Serve.SQS) == 0 {
		return nil, nil
	}
	s3c, err := s3Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	obs := newSQSMetrics(m)
	var out []daemon.Source
	for i, q := range cfg.Serve.SQS {
		c, err := sqssrc.NewClient(ctx, sqssrc.ClientOptions{QueueURL: q.QueueURL, Region: q.Region, Endpoint: q.Endpoint})
		if err != nil {
			return nil, fmt.Errorf("serve.sqs[%d]: %w", i, err)
		}
		name := q.QueueURL[strings.LastIndexByte(q.QueueURL, '/')+1:]
		p, err := sqssrc.New(c, sqssrc.Options{
			QueueURL: q.QueueURL, Workers: q.Workers, MaxReceives: q.MaxReceives, VisibilityTimeout: q.VisibilityTimeout,
			DeadLetterDir: filepath.Join(data, "sqs-dead", name), DeadLetterQueueURL: q.DeadLetterQueueURL,
			S3: s3c, Logger: log.With("queue", name), Observer: obs.queue(name),
		})
		if err != nil {
			return nil, fmt.Errorf("serve.sqs[%d]: %w", i, err)
		}
		out = append(out, daemon.Source{Name: "sqs " + name, Run: p.Run})
		log.Info("polling", "queue", q.QueueURL)
	}
	return out, nil
}

// sqsMetrics counts what the pollers do.
type sqsMetrics struct {
	messages *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

func newSQSMetrics(m *metrics.Metrics) *sqsMetrics {
	s := &sqsMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_sqs_messages_total",
			Help: "SQS messages by queue and what happened: received, deleted, failed (left for redelivery), dead_lettered."}, []string{"queue", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_sqs_errors_total",
			Help: "SQS and S3 errors by queue and stage."}, []string{"queue", "stage"}),
	}
	m.Registry.MustRegister(s.messages, s.errors)
	return s
}

type queueObserver struct {
	s    *sqsMetrics
	name string
}

func (s *sqsMetrics) queue(name string) sqssrc.Observer { return queueObserver{s, name} }

func (o queueObserver) add(outcome string, n int) {
	o.s.messages.WithLabelValues(o.name, outcome).Add(float64(n))
}
func (o queueObserver) Received(n int)     { o.add("received", n) }
func (o queueObserver) Deleted(n int)      { o.add("deleted", n) }
func (o queueObserver) Failed(n int)       { o.add("failed", n) }
func (o queueObserver) DeadLettered(n int) { o.add("dead_lettered", n) }
func (o queueObserver) Error(stage sqssrc.Stage, err error) {
	o.s.errors.WithLabelValues(o.name, string(stage)).Inc()
}

// s3Objects opens the S3 objects that notifications name (Lambda).
func s3Objects(ctx context.Context, cfg *config.Config) (lambda.ObjectOpener, error) {
	c, err := s3Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return objectOpener{c}, nil
}

type objectOpener struct{ c s3src.Client }

func (o objectOpener) OpenObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	return s3src.OpenObject(ctx, o.c, bucket, key)
}

// s3Inputs lists the objects under s3:// URLs for vigil scan.
func s3Inputs(ctx context.Context, cfg *config.Config, urls []string) ([]source.Input, error) {
	c, err := s3Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var out []source.Input
	for _, raw := range urls {
		u, err := s3src.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		ins, err := s3src.List(ctx, c, u.Bucket, u.Prefix, s3src.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", raw, err)
		}
		if len(ins) == 0 {
			return nil, fmt.Errorf("%s: no objects", cmp.Or(raw, u.String()))
		}
		out = append(out, ins...)
	}
	return out, nil
}
