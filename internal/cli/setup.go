package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/vigil-sec/vigil/internal/awsip"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/enrich"
	"github.com/vigil-sec/vigil/internal/pipeline"
	"github.com/vigil-sec/vigil/internal/ruleset"
	"github.com/vigil-sec/vigil/internal/state"
)

// ruleFlags are the flags that say which rules run and with what: the
// configuration file, user rules and the state file.
type ruleFlags struct {
	config string
	rules  []string
	state  string
	// noEnrich skips enrichment (scan --enrich=false).
	noEnrich bool
}

func (f *ruleFlags) register(fs *flag.FlagSet, withState bool) {
	fs.StringVar(&f.config, "config", "", "configuration `file` (accounts, networks, GeoIP databases, rules, state)")
	fs.Func("rules", "load user rules from this `path` (a file or directory of Vigil or Sigma rules; repeatable, or comma-separated)", func(s string) error {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.rules = append(f.rules, p)
			}
		}
		return nil
	})
	if withState {
		fs.StringVar(&f.state, "state", "", "keep what stateful rules learn in this `file`, across runs (default: the configuration's state, else memory only)")
	}
}

// setup is what a run needs besides its inputs: configuration, rules,
// state and enrichment. Close releases it.
type setup struct {
	cfg    *config.Config
	store  *state.Store
	rules  *ruleset.Set
	enrich pipeline.Enricher
	geo    *enrich.GeoIP
	// statePath is the state file in use ("" in memory).
	statePath string
}

// newSetup loads the configuration, opens the state and the GeoIP
// databases, and loads the built-in and user rules (paths beside the
// configuration's). Rule files with mistakes are an error; Sigma rules
// Vigil cannot run are not (they are in rules.Skipped).
//
// run is true for a command that evaluates events (scan): its state
// persists on disk, and the built-in rules are compiled without their
// tests, which only the rules commands use.
func newSetup(f ruleFlags, paths []string, run bool) (*setup, error) {
	cfg := &config.Config{}
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			return nil, err
		}
	}
	return newSetupFrom(cfg, f, paths, run)
}

// newSetupFrom is newSetup with the configuration already loaded.
func newSetupFrom(cfg *config.Config, f ruleFlags, paths []string, run bool) (*setup, error) {
	s := &setup{cfg: cfg}
	statePath := s.cfg.State
	if f.state != "" {
		statePath = f.state
	}
	if !run {
		statePath = ""
	}
	var err error
	s.statePath = statePath
	if s.store, err = state.Open(statePath); err != nil {
		return nil, err
	}
	// AWS's ranges are parsed (tens of milliseconds) while the rules
	// compile; a file that does not parse is still an error at start.
	enrich := func() (pipeline.Enricher, error) { return nil, nil }
	if run && !f.noEnrich {
		enrich = s.openEnrichment()
	}
	all := append(append(append([]string(nil), s.cfg.Rules...), f.rules...), paths...)
	s.rules, err = ruleset.Load(all, rulefile.Options{Config: s.cfg, State: s.store, SkipTests: run})
	e, eerr := enrich()
	if err == nil {
		err = eerr
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.enrich = e
	return s, nil
}

// openEnrichment starts opening what enriches events: the configured
// GeoIP databases, AWS's ranges (the configured file, else the one `vigil
// ip-ranges update` keeps, else the bundled one) and the account names,
// while the caller goes on (compiling rules). The returned function waits
// for it.
func (s *setup) openEnrichment() func() (pipeline.Enricher, error) {
	type result struct {
		ranges *awsip.Ranges
		geo    *enrich.GeoIP
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		if g := s.cfg.GeoIP; g.City != "" || g.Country != "" || g.ASN != "" {
			// Verifying a database reads all of it: about 13 ms per MB.
			if r.geo, r.err = enrich.OpenGeoIP(cmp.Or(g.City, g.Country), g.ASN); r.err != nil {
				done <- r
				return
			}
		}
		path := s.cfg.IPRanges
		if path == "" {
			if _, err := os.Stat(defaultIPRangesPath); err == nil {
				path = defaultIPRangesPath
			}
		}
		if path != "" {
			r.ranges, r.err = awsip.Load(path)
		} else {
			r.ranges, r.err = awsip.Bundled()
		}
		done <- r
	}()
	return func() (pipeline.Enricher, error) {
		r := <-done
		s.geo = r.geo // closed by Close, even after an error
		if r.err != nil {
			return nil, r.err
		}
		chain := enrich.Chain{enrich.NewAddresses(s.geo, r.ranges)}
		if len(s.cfg.Accounts) > 0 {
			chain = append(chain, enrich.NewAccounts(s.cfg.Accounts))
		}
		return chain, nil
	}
}

// Close saves the state and closes the databases.
func (s *setup) Close() error {
	var errs []error
	if s.geo != nil {
		errs = append(errs, s.geo.Close())
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("save state: %w", err))
		}
	}
	return errors.Join(errs...)
}
