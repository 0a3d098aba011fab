package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"

	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/ruleset"
	"github.com/vigil-sec/vigil/internal/server"
	"github.com/vigil-sec/vigil/internal/state"
)

const configUsage = `Usage: vigil config check FILE

Check a configuration file without running anything: every key and value
(unknown keys and bad values are errors naming their line), the ${VAR}
secrets it reads from the environment, the GeoIP databases and AWS ranges
it names (opened and verified), its receivers and route tree, and the rule
files it loads. Exit status 2 when anything is wrong.
`

func configCommand(args []string, env Env) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(env.Stderr, configUsage)
		return usagef("config: the only subcommand is check")
	}
	fs := flag.NewFlagSet("vigil config check", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, configUsage) }
	paths, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		fs.Usage()
		return usagef("config check: give one configuration file")
	}
	cfg, err := loadConfig(paths[0])
	if err != nil {
		return err
	}
	var errs []error
	s := &setup{cfg: cfg}
	_, err = s.openEnrichment()()
	if s.geo != nil {
		s.geo.Close()
	}
	if err != nil {
		errs = append(errs, err)
	}
	d, err := notify.NewDispatcher(cfg.Notify, nil, notify.Options{}, nil, nil)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", cfg.Path(), err))
	}
	sv := cfg.Serve
	if _, err := server.New(server.Options{SNSTopics: sv.SNS.Topics}); err != nil {
		errs = append(errs, fmt.Errorf("%s: serve.sns.topics: %w", cfg.Path(), err))
	}
	if err := checkListen(cmp.Or(sv.Listen, defaultListen), sv.Ingest); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", cfg.Path(), err))
	}
	store, _ := state.Open("") // in memory: checking must not take the state file's lock
	rules, err := ruleset.Load(cfg.Rules, rulefile.Options{Config: cfg, State: store, SkipTests: true})
	if err != nil {
		errs = append(errs, err)
	} else if err := rules.Errors(); err != nil {
		errs = append(errs, fmt.Errorf("rules: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	geo := "off"
	if s.geo != nil {
		geo = "on"
	}
	fmt.Fprintf(env.Stdout, "%s: ok: %s (%d trusted), GeoIP %s, %s, %s (%s), %s loaded (%d skipped), state %s\n",
		cfg.Path(), plural(len(cfg.Accounts), "account"), len(cfg.TrustedAccounts), geo,
		"AWS ranges "+cmp.Or(cfg.IPRanges, "default"), plural(len(d.Receivers()), "receiver"),
		plural(len(d.Destinations("")), "destination"), plural(len(rules.Rules), "rule"), len(rules.Skipped), cmp.Or(cfg.State, "in memory"))
	auth := "open (loopback only)"
	if len(sv.Ingest.Tokens) > 0 || sv.Ingest.HMACSecret != "" {
		auth = "authenticated"
	}
	fmt.Fprintf(env.Stdout, "serve: listen %s, ingest %s, %s, %s, inbox %s, data %s\n",
		cmp.Or(sv.Listen, defaultListen), auth, plural(len(sv.SNS.Topics), "SNS topic"), plural(len(sv.SQS), "SQS queue"),
		cmp.Or(sv.Inbox.Dir, "inbox"), cmp.Or(sv.DataDir, defaultDataDir))
	return nil
}
