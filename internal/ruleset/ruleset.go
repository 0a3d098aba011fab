// Package ruleset assembles the rules a run evaluates: the built-in
// catalogue, and the user's Vigil rule files and Sigma rules from the paths
// they name. It says where each rule came from and why a file did not load.
package ruleset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/detect/sigma"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/rules"
)

// Set is the rules of a run.
type Set struct {
	Rules []detect.Rule
	// Origin maps each rule id to where it came from: "built-in", a file
	// path, or "sigma:<path>".
	Origin map[string]string
	// Suites are test suites for rules defined elsewhere (tests_for).
	Suites []*rulefile.Suite
	// Files is how many user rule files were read.
	Files int
	// Problems are the files or rules that did not load, each error naming
	// its file (and line where known): mistakes to fix.
	Problems []error
	// Skipped are the Sigma rules Vigil does not run, and why: another
	// log source, or a feature it does not support (see sigma.ErrUnsupported).
	Skipped []error
}

// Load returns the built-in rules and the rules found under paths (files,
// or directories walked for .yaml and .yml files). A user rule may not
// reuse a built-in rule's id.
func Load(paths []string, opts rulefile.Options) (*Set, error) {
	builtin, suites, err := rules.BuiltIn(opts)
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	s := &Set{Origin: map[string]string{}, Suites: suites}
	for _, r := range builtin {
		s.add(r, "built-in")
	}
	files, err := ruleFiles(paths)
	if err != nil {
		return nil, err
	}
	s.Files = len(files)
	// Compiling is most of loading: read the files in parallel, then add
	// their rules in file order, so ids and problems come out the same
	// every time.
	loaded := make([]loadedFile, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			loaded[i] = loadFile(f, opts)
		})
	}
	wg.Wait()
	for _, l := range loaded {
		for _, r := range l.rules {
			s.add(r, l.origin)
		}
		s.Suites = append(s.Suites, l.suites...)
		s.Problems = append(s.Problems, l.problems...)
		s.Skipped = append(s.Skipped, l.skipped...)
	}
	for _, su := range s.Suites {
		if _, ok := s.Origin[su.For]; !ok {
			file, line := su.File()
			s.Problems = append(s.Problems, fmt.Errorf("%s:%d: tests_for: no rule %q", file, line, su.For))
		}
	}
	return s, nil
}

// Errors returns the problems as one error, or nil.
func (s *Set) Errors() error { return errors.Join(s.Problems...) }

// Select keeps only the rules named by ids; it returns the ids no rule
// has.
func (s *Set) Select(ids []string) (unknown []string) {
	want := map[string]bool{}
	for _, id := range ids {
		if _, ok := s.Origin[id]; !ok {
			unknown = append(unknown, id)
		}
		want[id] = true
	}
	s.Rules = slices.DeleteFunc(s.Rules, func(r detect.Rule) bool { return !want[r.Meta().ID] })
	return unknown
}

// RunTests runs the tests of every rule and suite, each against a fresh
// copy of its rule with opts's configuration and memory-only state.
func (s *Set) RunTests(opts rulefile.Options) []rulefile.TestResult {
	var out []rulefile.TestResult
	for _, r := range s.Rules {
		if t, ok := r.(interface {
			RunTests(rulefile.Options) []rulefile.TestResult
		}); ok {
			out = append(out, t.RunTests(opts)...)
		}
	}
	for _, su := range s.Suites {
		if _, ok := s.Origin[su.For]; !ok {
			continue // a problem already
		}
		out = append(out, su.RunTests(opts, s.fresh(su.For))...)
	}
	return out
}

// fresh makes new instances of the rule id for its test suites.
func (s *Set) fresh(id string) func(rulefile.Options) (detect.Rule, error) {
	return func(opts rulefile.Options) (detect.Rule, error) {
		for _, r := range s.Rules {
			if r.Meta().ID != id {
				continue
			}
			switch r := r.(type) {
			case *rulefile.Rule:
				return r.Recompile(opts)
			case *SigmaRule:
				return r, nil // stateless
			}
		}
		r, ok, err := rules.Fresh(id, opts)
		if err == nil && !ok {
			err = fmt.Errorf("no rule %s", id)
		}
		return r, err
	}
}

// Tested reports how many tests a rule carries, in itself or in suites.
func (s *Set) Tested(id string) int {
	n := 0
	for _, r := range s.Rules {
		if r.Meta().ID == id {
			if t, ok := r.(interface{ Tests() (int, int, int) }); ok {
				n, _, _ = t.Tests()
			}
		}
	}
	for _, su := range s.Suites {
		if su.For == id {
			t, _, _ := su.Tests()
			n += t
		}
	}
	return n
}

func (s *Set) add(r detect.Rule, origin string) bool {
	id := r.Meta().ID
	if prev, ok := s.Origin[id]; ok {
		s.Problems = append(s.Problems, fmt.Errorf("%s: rule id %q is already used by %s", origin, id, prev))
		return false
	}
	s.Origin[id] = origin
	s.Rules = append(s.Rules, r)
	return true
}

// loadedFile is what one rule file gave.
type loadedFile struct {
	origin            string
	rules             []detect.Rule
	suites            []*rulefile.Suite
	problems, skipped []error
}

// loadFile loads one file as Sigma or as Vigil rules, by its content.
func loadFile(path string, opts rulefile.Options) (l loadedFile) {
	l.origin = path
	src, err := os.ReadFile(path)
	if err != nil {
		l.problems = append(l.problems, err)
		return l
	}
	if IsSigma(src) {
		sr, err := sigma.Parse(path, src)
		if err == nil {
			var r *SigmaRule
			if r, err = NewSigmaRule(sr); err == nil {
				l.origin = "sigma:" + path
				l.rules = append(l.rules, r)
				return l
			}
			err = fmt.Errorf("%s: %w", path, err)
		}
		if errors.Is(err, sigma.ErrUnsupported) {
			l.skipped = append(l.skipped, err)
		} else {
			l.problems = append(l.problems, err)
		}
		return l
	}
	opts.Origin = path
	f, err := rulefile.ParseFile(path, src, opts)
	if err != nil {
		l.problems = append(l.problems, err)
		return l
	}
	for _, r := range f.Rules {
		l.rules = append(l.rules, r)
	}
	l.suites = f.Suites
	return l
}

// IsSigma reports whether a YAML file is a Sigma rule: it has top-level
// logsource and detection keys.
func IsSigma(src []byte) bool {
	has := func(k string) bool {
		return bytes.HasPrefix(src, []byte(k+":")) || bytes.Contains(src, []byte("\n"+k+":"))
	}
	return has("logsource") && has("detection")
}

// ruleFiles expands paths to rule files, sorted within each directory.
func ruleFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			ext := strings.ToLower(filepath.Ext(path))
			if !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// SigmaRule adapts a compiled Sigma rule to the engine.
type SigmaRule struct {
	r    *sigma.Rule
	meta detect.Meta
	keys []detect.Key
}

// NewSigmaRule wraps a Sigma rule for the CloudTrail events it reads,
// indexed by the eventSource and eventName it requires.
func NewSigmaRule(r *sigma.Rule) (*SigmaRule, error) {
	ls := r.Logsource
	if !strings.EqualFold(ls.Product, "aws") || !strings.EqualFold(ls.Service, "cloudtrail") {
		return nil, fmt.Errorf("%w: logsource %s/%s is not aws/cloudtrail", sigma.ErrUnsupported, ls.Product, ls.Service)
	}
	id := strings.ToLower(r.ID)
	if id == "" {
		return nil, errors.New("sigma rule without an id")
	}
	sev := map[string]detect.Severity{"informational": detect.Info, "low": detect.Low, "medium": detect.Medium, "high": detect.High, "critical": detect.Critical}
	level, ok := sev[strings.ToLower(r.Level)]
	if !ok {
		level = detect.Medium
	}
	desc := strings.TrimSpace(r.Description)
	if len(r.FalsePositives) > 0 {
		desc += "\n\nFalse positives: " + strings.Join(r.FalsePositives, "; ")
	}
	s := &SigmaRule{r: r, meta: detect.Meta{
		ID: "sigma-" + id, Title: r.Title, Description: desc, Severity: level,
		Tags: slices.Clone(r.Tags), Version: 1, Runbook: strings.Join(r.References, "\n"),
	}}
	// Sigma compares without regard to case, the engine's index with it.
	// CloudTrail writes event sources in lower case; an event name written
	// all in lower case in a rule cannot be trusted to have CloudTrail's
	// case, so such a rule is indexed by source only.
	services, sok := r.Required("eventSource")
	for i, v := range services {
		services[i] = strings.ToLower(v)
	}
	actions, aok := r.Required("eventName")
	for _, a := range actions {
		if strings.ToLower(a) == a {
			aok = false
		}
	}
	for _, k := range []event.Kind{event.KindCloudTrail, event.KindSignIn} {
		switch {
		case sok && aok:
			for _, sv := range services {
				for _, a := range actions {
					s.keys = append(s.keys, detect.Key{Kind: k, Service: sv, Action: a})
				}
			}
		case sok:
			for _, sv := range services {
				s.keys = append(s.keys, detect.Key{Kind: k, Service: sv})
			}
		default:
			s.keys = append(s.keys, detect.Key{Kind: k})
		}
	}
	return s, nil
}

// Meta implements detect.Rule.
func (s *SigmaRule) Meta() detect.Meta {
	m := s.meta
	m.Tags = slices.Clone(m.Tags)
	return m
}

// Keys implements detect.Rule.
func (s *SigmaRule) Keys() []detect.Key { return s.keys }

// Eval implements detect.Rule.
func (s *SigmaRule) Eval(_ context.Context, ev *event.Event) ([]detect.Finding, error) {
	if !s.r.Match(ev) {
		return nil, nil
	}
	f := detect.Finding{Severity: s.meta.Severity, Title: fmt.Sprintf("%s (%s by %s)", s.meta.Title, ev.Action, ev.Actor.Name())}
	if len(ev.Resources) > 0 {
		f.Resource = ev.Resources[0].ARN
	}
	f.Details = map[string]any{"sigma_id": s.r.ID}
	return []detect.Finding{f}, nil
}
