package rules

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sync"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
)

// catalogFS holds the built-in rules written in Vigil's rule format.
//
//go:embed catalog/*.yaml
var catalogFS embed.FS

// catalogChecked is the catalogue's CEL expressions, type-checked ahead of
// time so that start-up skips parsing and checking them (most of its
// cost). TestCheckedIsCurrent fails when a catalogue edit leaves it
// behind; regenerate it with
//
//	go test ./internal/rules -run TestCheckedIsCurrent -update
//
//go:embed catalog.checked
var catalogChecked []byte

// checked is catalogChecked read, or nil when it is stale (the rules then
// compile from their text: slower, the same rules).
var checked = sync.OnceValue(func() *rulefile.Checked {
	c, err := rulefile.UnmarshalChecked(catalogChecked)
	if err != nil {
		return nil
	}
	return c
})

// BuiltIn returns every built-in rule, the rules written in Go and the YAML
// catalogue, compiled with opts (their configuration and state), and the
// test suites of the rules written in Go.
func BuiltIn(opts rulefile.Options) ([]detect.Rule, []*rulefile.Suite, error) {
	out := All()
	travel, err := impossibleTravel(opts.State)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, travel)
	cat, suites, err := Catalog(opts)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range cat {
		out = append(out, r)
	}
	return out, suites, nil
}

// Catalog compiles the YAML catalogue: its rules, and the test suites of
// the built-in rules written in Go.
func Catalog(opts rulefile.Options) ([]*rulefile.Rule, []*rulefile.Suite, error) {
	opts.Origin = "built-in"
	if opts.Checked == nil && opts.Collect == nil {
		opts.Checked = checked()
	}
	names, err := fs.Glob(catalogFS, "catalog/*.yaml")
	if err != nil {
		return nil, nil, err
	}
	// Compiling CEL is most of a start-up: compile the files in parallel.
	files := make([]*rulefile.File, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			src, err := catalogFS.ReadFile(n)
			if err == nil {
				files[i], err = rulefile.ParseFileUntested(path.Join("internal/rules", n), src, opts)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var rules []*rulefile.Rule
	var suites []*rulefile.Suite
	for _, f := range files {
		if f != nil {
			rules = append(rules, f.Rules...)
			suites = append(suites, f.Suites...)
		}
	}
	errs = slices.DeleteFunc(errs, func(err error) bool { return err == nil })
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("catalogue: %w", errors.Join(errs...))
	}
	return rules, suites, nil
}

// Fresh returns a new instance of the built-in rule id, with opts's
// configuration and state: what test suites run against. ok is false when
// id is not a built-in rule.
func Fresh(id string, opts rulefile.Options) (r detect.Rule, ok bool, err error) {
	if id == "aws-signin-impossible-travel" {
		t, err := impossibleTravel(opts.State)
		return t, true, err
	}
	for _, r := range All() {
		if r.Meta().ID == id {
			return r, true, nil
		}
	}
	rules, _, err := Catalog(opts)
	if err != nil {
		return nil, false, err
	}
	for _, r := range rules {
		if r.Meta().ID == id {
			return r, true, nil
		}
	}
	return nil, false, nil
}
