package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/daemon"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/lambda"
)

const lambdaUsage = `Usage: vigil lambda [flags]

Run as an AWS Lambda function (the provided.al2023 runtime): EventBridge,
SNS, SQS (with partial batch failures), S3 and CloudWatch Logs invocations
go through the same rules as vigil scan and vigil serve, and each
invocation's alerts are delivered before it returns. The binary starts in
this mode by itself inside Lambda. See docs/lambda.md.

The configuration is VIGIL_CONFIG (a file bundled in the function's
package), else --config. State and the outbox live under /tmp/vigil.

Flags:
`

// inLambda reports whether the process runs in AWS Lambda's runtime.
func inLambda() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

func lambdaCommand(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("vigil lambda", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f ruleFlags
	f.register(fs, false)
	logFormat := fs.String("log-format", "json", "log `format` on stderr: text or json")
	logLevel := fs.String("log-level", "info", "log `level`")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, lambdaUsage)
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("lambda: unexpected argument %q", rest[0])
	}
	if !inLambda() {
		return usagef("lambda: not running in AWS Lambda (AWS_LAMBDA_RUNTIME_API is not set); see docs/lambda.md")
	}
	log, err := newLogger(env.Stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	f.config = cmp.Or(os.Getenv("VIGIL_CONFIG"), f.config)
	cfg := &config.Config{}
	if f.config != "" {
		if cfg, err = config.Load(f.config); err != nil {
			return err
		}
	}
	// /tmp is the only writable place; it lives as long as the execution
	// environment, so dedup and state hold across warm invocations.
	data := "/tmp/vigil"
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	f.state = filepath.Join(data, "state.db")
	cfg.Notify.Outbox = filepath.Join(data, "outbox.db")
	setup, err := newSetupFrom(cfg, f, nil, true)
	if err != nil {
		return err
	}
	defer setup.Close()
	if err := setup.rules.Errors(); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	engine, err := detect.New(setup.rules.Rules)
	if err != nil {
		return err
	}
	b := &daemon.Batch{Engine: engine, Enrich: setup.enrich, Console: env.Stdout, Logger: log}
	if len(cfg.Notify.Receivers) > 0 {
		dl, err := openDelivery(cfg, setup.statePath, ruleTags(setup.rules.Rules), nil)
		if err != nil {
			return err
		}
		defer dl.Close()
		b.Dispatcher = dl.d
	}
	objects, err := s3Objects(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("vigil lambda", "version", Version, "rules", len(setup.rules.Rules), "receivers", len(cfg.Notify.Receivers))
	lambda.Start(&lambda.Handler{Processor: b, Objects: objects, Logger: log})
	return nil
}
