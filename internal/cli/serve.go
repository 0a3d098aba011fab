package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/daemon"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/inbox"
	"github.com/vigil-sec/vigil/internal/metrics"
	"github.com/vigil-sec/vigil/internal/server"
	"github.com/vigil-sec/vigil/internal/sns"
	"github.com/vigil-sec/vigil/internal/spool"
	"github.com/vigil-sec/vigil/internal/store"
)

const serveUsage = `Usage: vigil serve [flags]

Run Vigil as a service: take events as AWS emits them and alert within
seconds. Sources: HTTP ingest (POST /ingest: EventBridge API destinations,
direct posts), SNS HTTP(S) subscriptions (POST /sns), SQS queues (EventBridge
events, S3 notifications of new log files) and a watched folder. Every event
received is on disk before it is acknowledged; alerts go to the configured
receivers, the console (JSON lines on stdout) and the API (GET /api/alerts).

Without a configuration: watch ./inbox, keep data in ./vigil-data, listen on
127.0.0.1:8080. SIGTERM or ^C stops taking events and finishes what was
taken.

Flags:
`

type serveFlags struct {
	ruleFlags
	listen    string
	dataDir   string
	inboxDir  string
	workers   int
	logFormat string
	logLevel  string
	console   bool
	enrich    bool
	cpuProf   string
	memProf   string
}

// Defaults of `vigil serve` without configuration.
const (
	defaultListen  = "127.0.0.1:8080"
	defaultDataDir = "vigil-data"
)

func serveCommand(ctx context.Context, args []string, env Env) (err error) {
	fs := flag.NewFlagSet("vigil serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f serveFlags
	f.ruleFlags.register(fs, true)
	fs.StringVar(&f.listen, "listen", "", "HTTP `address` (default: serve.listen, else "+defaultListen+")")
	fs.StringVar(&f.dataDir, "data-dir", "", "`directory` of the spool, alert store, outbox and state (default: serve.data_dir, else "+defaultDataDir+")")
	fs.StringVar(&f.inboxDir, "inbox", "", "watched `directory` (default: serve.inbox.dir, else inbox; - for none)")
	fs.IntVar(&f.workers, "workers", 0, "decoding `goroutines` (default: one per CPU but one, left to HTTP, commits and delivery)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log `format` on stderr: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.BoolVar(&f.console, "console", true, "print each alert as a JSON line on stdout (serve.console)")
	fs.BoolVar(&f.enrich, "enrich", true, "look up every address (GeoIP, AWS's ranges) and account names")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a Go CPU profile of the run to `file` (for performance reports)")
	fs.StringVar(&f.memProf, "memprofile", "", "write a Go allocation profile to `file` at exit (for performance reports)")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, serveUsage)
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("serve: unexpected argument %q", rest[0])
	}
	stopProfiles, err := startProfiles(f.cpuProf, f.memProf)
	if err != nil {
		return err
	}
	defer func() {
		if perr := stopProfiles(); perr != nil && err == nil {
			err = perr
		}
	}()
	consoleSet := false
	fs.Visit(func(fl *flag.Flag) { consoleSet = consoleSet || fl.Name == "console" })
	log, err := newLogger(env.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	cfg := &config.Config{}
	if f.config != "" {
		if cfg, err = config.Load(f.config); err != nil {
			return err
		}
	}
	sv := cfg.Serve
	listen := cmp.Or(f.listen, sv.Listen, defaultListen)
	data := cmp.Or(f.dataDir, sv.DataDir, defaultDataDir)
	inboxDir := cmp.Or(f.inboxDir, sv.Inbox.Dir, inbox.DefaultDir)
	if err := checkListen(listen, sv.Ingest); err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Stateful rules keep what they learn beside the rest of the data.
	if f.state == "" && cfg.State == "" {
		f.state = filepath.Join(data, "state.db")
	}
	f.ruleFlags.noEnrich = !f.enrich
	setup, err := newSetupFrom(cfg, f.ruleFlags, nil, true)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := setup.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := setup.rules.Errors(); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	engine, err := detect.New(setup.rules.Rules)
	if err != nil {
		return err
	}
	m := metrics.New()

	maxSpool := cmp.Or(sv.SpoolMaxBytes, 256<<20)
	sp, err := spool.Open(filepath.Join(data, "spool"), spool.Options{MaxBytes: maxSpool, Logger: log, MaxRecord: max(cmp.Or(sv.Ingest.MaxBodyBytes, server.DefaultMaxBody), sns.DefaultMaxBody)})
	if err != nil {
		return err
	}
	defer sp.Close()
	m.Gauge("vigil_spool_pending_records", "Events received by HTTP or SNS and not yet processed (records).", func() float64 { return float64(sp.Stats().Pending) })
	m.Gauge("vigil_spool_pending_bytes", "Bytes received by HTTP or SNS and not yet processed.", func() float64 { return float64(sp.Stats().PendingBytes) })

	alerts, err := store.Open(filepath.Join(data, "alerts.db"), store.Options{Retention: sv.AlertRetention})
	if err != nil {
		return err
	}
	defer alerts.Close()

	if f.workers <= 0 {
		// A decoder per core keeps every core busy decoding, and then
		// each network step of ingest and delivery waits for a time
		// slice: on two cores that cost seconds of alert latency at
		// 20,000 events/s (bench/ingest), one core less costs none.
		f.workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	opts := daemon.Options{
		Engine: engine, Enrich: setup.enrich, Workers: f.workers,
		Spool: sp, SpoolMaxBytes: maxSpool, Store: alerts, Metrics: m, Logger: log,
	}
	if (consoleSet && f.console) || (!consoleSet && (sv.Console == nil || *sv.Console)) {
		opts.Console = env.Stdout
	}
	if len(cfg.Notify.Receivers) > 0 {
		if cfg.Notify.Outbox == "" && cfg.State == "" {
			cfg.Notify.Outbox = filepath.Join(data, "outbox.db")
		}
		dl, err := openDelivery(cfg, setup.statePath, ruleTags(setup.rules.Rules), nil)
		if err != nil {
			return err
		}
		defer dl.Close()
		opts.Dispatcher = dl.d
		m.Gauge("vigil_outbox_pending_notifications", "Notifications waiting for their destination.", func() float64 {
			st, err := dl.d.Status()
			if err != nil {
				return -1
			}
			n := 0
			for _, s := range st {
				n += s.Queued
			}
			return float64(n)
		})
	} else {
		log.Info("no receivers configured: alerts go to the console and the API only")
	}

	if inboxDir != "-" {
		w, err := inbox.Open(inbox.Options{Dir: inboxDir, LedgerPath: filepath.Join(data, "inbox.db"), Logger: log})
		if err != nil {
			return err
		}
		defer w.Close()
		opts.Sources = append(opts.Sources, daemon.Source{Name: "inbox", Run: w.Run})
		log.Info("watching", "dir", inboxDir)
		m.Gauge("vigil_inbox_pending_files", "Files in the watched folder not yet processed (waiting, in flight, or failed and to be retried).", func() float64 {
			st := w.Stats()
			return float64(st.Pending + st.InFlight)
		})
		m.Gauge("vigil_inbox_failed_files", "Files in the watched folder that could not be read after every attempt.", func() float64 { return float64(w.Stats().Failed) })
	}
	sqsSources, err := sqsSources(ctx, cfg, data, log, m)
	if err != nil {
		return err
	}
	opts.Sources = append(opts.Sources, sqsSources...)

	srvOpts := server.Options{Spool: sp, Alerts: alerts, Metrics: m, Tokens: sv.Ingest.Tokens, HMACSecret: sv.Ingest.HMACSecret,
		MaxBody: sv.Ingest.MaxBodyBytes, Logger: log}
	srvOpts.SNSTopics = sv.SNS.Topics
	var d *daemon.Daemon
	srvOpts.Ready = func() error { return d.Ready() }
	if opts.Handler, err = server.New(srvOpts); err != nil {
		return fmt.Errorf("serve.sns.topics: %w", err)
	}
	if d, err = daemon.New(opts); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Tests and scripts read the address (the port may be :0).
	log.Info("vigil serve", "version", Version, "listen", ln.Addr().String(), "data", data, "rules", len(setup.rules.Rules))
	stopFlush := flushStateEvery(setup, time.Minute, log)
	defer stopFlush()
	return d.Run(ctx, ln)
}

// checkListen refuses to take events from beyond this machine without
// credentials.
func checkListen(listen string, in config.Ingest) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("serve: listen address %q: %v", listen, err)
	}
	if len(in.Tokens) > 0 || in.HMACSecret != "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usagef("serve: listening on %s beyond loopback needs serve.ingest.tokens or serve.ingest.hmac_secret, so that only your senders can post events", listen)
}

// flushStateEvery saves what stateful rules learnt periodically, so a
// crash loses at most that much.
func flushStateEvery(s *setup, every time.Duration, log *slog.Logger) (stop func()) {
	t := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				if err := s.store.Flush(); err != nil {
					log.Error("save state", "err", err)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { t.Stop(); close(done) }
}

// newLogger builds the daemon's structured logger.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, usagef("--log-format must be text or json, not %q", format)
}
