package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/outbox"
)

// defaultOutboxPath is where the outbox lives without configuration or a
// state file.
const defaultOutboxPath = "vigil-data/outbox.db"

// outboxPath is the configured outbox, else one beside the state file,
// else the default.
func outboxPath(cfg *config.Config, statePath string) string {
	switch {
	case cfg.Notify.Outbox != "":
		return cfg.Notify.Outbox
	case statePath != "":
		return filepath.Join(filepath.Dir(statePath), "outbox.db")
	}
	return defaultOutboxPath
}

// delivery is an open outbox and the dispatcher over it.
type delivery struct {
	ob *outbox.Outbox
	d  *notify.Dispatcher
}

// openDelivery opens the outbox and builds the receivers. It is an error
// to ask for delivery with no receiver configured.
func openDelivery(cfg *config.Config, statePath string, tagsOf func(string) []string, logw io.Writer) (*delivery, error) {
	if len(cfg.Notify.Receivers) == 0 {
		return nil, usagef("no receivers configured: add notify.receivers to the configuration (see README, \"Sending alerts\")")
	}
	path := outboxPath(cfg, statePath)
	if path == defaultOutboxPath {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	ob, err := outbox.Open(path)
	if err != nil {
		return nil, err
	}
	var log *slog.Logger
	if logw != nil {
		log = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := notify.NewDispatcher(cfg.Notify, ob, notify.Options{Version: Version}, tagsOf, log)
	if err != nil {
		ob.Close()
		return nil, fmt.Errorf("%s: %w", cfg.Path(), err)
	}
	return &delivery{ob: ob, d: d}, nil
}

func (dl *delivery) Close() error { return dl.ob.Close() }

// report writes what the outbox holds after a flush.
func (dl *delivery) report(w io.Writer, stats notify.Stats) error {
	status, err := dl.d.Status()
	if err != nil {
		return err
	}
	var waiting, dead int
	for _, st := range status {
		waiting += st.Queued
		dead += st.Dead
	}
	fmt.Fprintf(w, "vigil: notify: %s delivered", plural(stats.Delivered, "notification"))
	if waiting > 0 {
		fmt.Fprintf(w, ", %d still queued (delivered by the next run, or: vigil alerts queue)", waiting)
	}
	if dead > 0 {
		fmt.Fprintf(w, ", %d dead letters (vigil alerts dead; vigil alerts retry)", dead)
	}
	fmt.Fprintln(w)
	for _, st := range status {
		if st.LastError != "" {
			fmt.Fprintf(w, "vigil: notify: %s: %s\n", st.Dest, printable(st.LastError))
		}
	}
	return nil
}

// loadConfig reads the configuration file, if one is named.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return &config.Config{}, nil
	}
	return config.Load(path)
}

const notifyUsage = `Usage: vigil notify test [--config FILE] [--receiver NAME]

Send a clearly marked test alert to every destination of every receiver
(or of one), directly and not through the outbox, and report each answer.
Exit status 2 when any destination failed.

Flags:
`

func notifyCommand(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprint(env.Stderr, notifyUsage)
		return usagef("notify: the only subcommand is test")
	}
	fs := flag.NewFlagSet("vigil notify test", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "configuration `file` with notify.receivers")
	receiver := fs.String("receiver", "", "test only the receiver with this `name`")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on a destination after this `long`")
	fs.Usage = func() { fmt.Fprint(env.Stderr, notifyUsage); fs.PrintDefaults() }
	if rest, err := parseFlags(fs, args[1:]); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("notify test: unexpected argument %q", rest[0])
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if len(cfg.Notify.Receivers) == 0 {
		return usagef("no receivers configured: add notify.receivers to the configuration")
	}
	// No outbox: a test goes straight out.
	d, err := notify.NewDispatcher(cfg.Notify, nil, notify.Options{Version: Version}, nil, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	results, err := d.Test(ctx, *receiver, testAlert())
	if err != nil {
		return usagef("notify test: %v", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	failed := 0
	for _, r := range results {
		res := "ok"
		if r.Err != nil {
			res = "FAILED: " + printable(r.Err.Error())
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Receiver, r.Dest, r.Took.Round(time.Millisecond), res)
	}
	tw.Flush()
	if failed > 0 {
		return fmt.Errorf("notify test: %d of %d destinations failed", failed, len(results))
	}
	return nil
}

// testAlert is the alert `vigil notify test` sends: plainly a test in
// every field a person reads.
func testAlert() *alert.Alert {
	now := time.Now().UTC().Truncate(time.Second)
	host, _ := os.Hostname()
	return &alert.Alert{
		Rule: "vigil-test", Severity: detect.Info, Kind: event.KindUnknown,
		Title:     "Vigil test alert: delivery works (no action needed)",
		EventID:   "vigil-test-" + strconv.FormatInt(now.Unix(), 10),
		EventTime: now,
		Actor:     alert.Actor{Name: "vigil notify test"},
		Service:   "vigil", Action: "NotifyTest",
		Details:  map[string]any{"host": host, "note": "sent by `vigil notify test`; not a security event"},
		Origin:   event.Origin{Source: "vigil notify test", Index: -1},
		DedupKey: "vigil-test-" + strconv.FormatInt(now.UnixNano(), 36),
	}
}

const alertsUsage = `Usage:
  vigil alerts queue [--config FILE] [--json]         notifications waiting for their destination
  vigil alerts dead  [--config FILE] [--json]         notifications that ran out of attempts
  vigil alerts retry [--config FILE] [--timeout D] [ID...]
                                                      send dead letters again (all, or these ids)

The outbox is notify.outbox in the configuration, else outbox.db beside the
state file, else vigil-data/outbox.db.

Flags:
`

func alertsCommand(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, alertsUsage)
		return usagef("alerts: give a subcommand: queue, dead or retry")
	}
	sub := args[0]
	fs := flag.NewFlagSet("vigil alerts "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var rf ruleFlags
	fs.StringVar(&rf.config, "config", "", "configuration `file`")
	fs.StringVar(&rf.state, "state", "", "the state `file` the outbox sits beside (default: the configuration's)")
	asJSON := fs.Bool("json", false, "write JSON Lines, one notification per line, alerts included")
	timeout := fs.Duration("timeout", time.Minute, "retry: keep trying for this `long` before leaving them queued")
	fs.Usage = func() { fmt.Fprint(env.Stderr, alertsUsage); fs.PrintDefaults() }
	rest, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	cfg, err := loadConfig(rf.config)
	if err != nil {
		return err
	}
	statePath := cmp.Or(rf.state, cfg.State)
	switch sub {
	case "queue", "dead":
		if len(rest) > 0 {
			return usagef("alerts %s: unexpected argument %q", sub, rest[0])
		}
		path := outboxPath(cfg, statePath)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(env.Stderr, "vigil: no outbox at %s: nothing was ever queued\n", path)
			return nil
		}
		ob, err := outbox.Open(path)
		if err != nil {
			return err
		}
		defer ob.Close()
		var items []*outbox.Item
		if sub == "dead" {
			items, err = ob.Dead("")
		} else {
			dests, derr := ob.Dests()
			if derr != nil {
				return derr
			}
			for _, d := range dests {
				q, qerr := ob.Queued(d)
				if qerr != nil {
					return qerr
				}
				items = append(items, q...)
			}
		}
		if err != nil {
			return err
		}
		return writeItems(env, items, *asJSON, sub == "dead")
	case "retry":
		var ids []uint64
		for _, a := range rest {
			id, err := strconv.ParseUint(a, 10, 64)
			if err != nil {
				return usagef("alerts retry: %q is not a dead letter id (see vigil alerts dead)", a)
			}
			ids = append(ids, id)
		}
		dl, err := openDelivery(cfg, statePath, nil, env.Stderr)
		if err != nil {
			return err
		}
		defer dl.Close()
		moved, err := dl.ob.Retry(time.Now(), ids)
		if err != nil {
			return err
		}
		if len(moved) == 0 {
			fmt.Fprintln(env.Stderr, "vigil: no dead letters to retry")
			return nil
		}
		if len(ids) > 0 && len(moved) < len(ids) {
			fmt.Fprintf(env.Stderr, "vigil: %d of the %d ids are not dead letters\n", len(ids)-len(moved), len(ids))
		}
		fctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		stats := dl.d.Flush(fctx)
		fmt.Fprintf(env.Stderr, "vigil: %d dead letters back in the queue\n", len(moved))
		return dl.report(env.Stderr, stats)
	default:
		fmt.Fprint(env.Stderr, alertsUsage)
		return usagef("alerts: unknown subcommand %q", sub)
	}
}

func writeItems(env Env, items []*outbox.Item, asJSON, dead bool) error {
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, it := range items {
			line := struct {
				*outbox.Item
				Alerts []*alert.Alert `json:"alerts"`
			}{it, it.Alerts}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
		return nil
	}
	if len(items) == 0 {
		what := "queued"
		if dead {
			what = "dead letters"
		}
		fmt.Fprintf(env.Stderr, "vigil: no %s\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	when := "DUE"
	if dead {
		when = "DEAD SINCE"
	}
	fmt.Fprintf(tw, "ID\tDESTINATION\tALERTS\tATTEMPTS\t%s\tFIRST ALERT\tLAST ERROR\n", when)
	for _, it := range items {
		t := it.Due
		if dead {
			t = it.DeadAt
		}
		first := ""
		if len(it.Alerts) > 0 {
			first = it.Alerts[0].Severity.String() + " " + it.Alerts[0].Title
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", it.ID, it.Dest, len(it.Alerts), it.Attempts, t.Local().Format(time.DateTime),
			printable(clip(first, 60)), printable(it.LastError))
	}
	return tw.Flush()
}

// ruleTags maps rule ids to their tags, for routing by tag.
func ruleTags(rules []detect.Rule) func(string) []string {
	m := make(map[string][]string, len(rules))
	for _, r := range rules {
		meta := r.Meta()
		m[meta.ID] = meta.Tags
	}
	return func(id string) []string { return m[id] }
}
