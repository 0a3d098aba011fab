package cli

import (
	"context"
	"log/slog"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/daemon"
	"github.com/vigil-sec/vigil/internal/lambda"
	"github.com/vigil-sec/vigil/internal/metrics"
)

// sqsSources builds a poller for each configured queue.
func sqsSources(ctx context.Context, cfg *config.Config, data string, log *slog.Logger, m *metrics.Metrics) ([]daemon.Source, error) {
	return nil, nil
}

// s3Objects opens the S3 objects that notifications name.
func s3Objects(ctx context.Context, cfg *config.Config) (lambda.ObjectOpener, error) {
	return nil, nil
}
