package rulefile

import (
	"errors"
	"fmt"
	"os"
)

// File is what one rule file holds: rules, and test suites for rules
// defined elsewhere.
type File struct {
	Rules  []*Rule
	Suites []*Suite
}

// ParseFile compiles one rule file. file names the file in errors, which
// carry its line numbers; every problem found is reported.
func ParseFile(file string, src []byte, opts Options) (*File, error) {
	specs, nodes, err := readDocs(file, src)
	if err != nil {
		return nil, err
	}
	if opts.Origin == "" {
		opts.Origin = file
	}
	var out File
	var errs []error
	for i, sp := range specs {
		if sp.TestsFor != "" {
			s, err := newSuite(sp, file, nodes[i])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out.Suites = append(out.Suites, s)
			continue
		}
		r, err := compile(sp, file, nodes[i], opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Rules = append(out.Rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out.Rules) == 0 && len(out.Suites) == 0 {
		return nil, fmt.Errorf("%s: no rule in the file", file)
	}
	return &out, nil
}

// Parse compiles the rules in one rule file, which must hold rules only.
func Parse(file string, src []byte, opts Options) ([]*Rule, error) {
	f, err := ParseFile(file, src, opts)
	if err != nil {
		return nil, err
	}
	if len(f.Suites) > 0 {
		return nil, fmt.Errorf("%s:%d: tests_for: a test suite where only rules are expected", file, f.Suites[0].line)
	}
	return f.Rules, nil
}

// Load reads and compiles a rule file that holds rules only.
func Load(path string, opts Options) ([]*Rule, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src, opts)
}
