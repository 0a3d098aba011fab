package rulefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
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
	return compileDocs(file, specs, nodes, opts, false)
}

// ParseFileUntested compiles one rule file of the built-in catalogue for
// running, without reading its tests when opts.SkipTests is set (see
// StripTests). A file the stripped text does not parse for is read whole.
func ParseFileUntested(file string, src []byte, opts Options) (*File, error) {
	if opts.SkipTests {
		if specs, nodes, err := readDocs(file, StripTests(src)); err == nil {
			return compileDocs(file, specs, nodes, opts, true)
		}
	}
	return ParseFile(file, src, opts)
}

// StripTests blanks the top-level tests: blocks of a rule file's
// documents, line for line, so that what remains has the same line
// numbers: a block runs from a line that starts with "tests:" to the next
// line that starts with anything but a space, a tab, a comment, a line end
// or a sequence entry ("- "): the next key, or a document marker.
func StripTests(src []byte) []byte {
	out := make([]byte, 0, len(src)/2)
	in := false
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line = src[:i+1]
		}
		src = src[len(line):]
		switch {
		case line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '\r' || line[0] == '\n':
		case line[0] == '-' && (len(line) == 1 || strings.IndexByte(" \t\r\n", line[1]) >= 0):
			// An entry of a block sequence at the key's indentation:
			// the block goes on.
		default:
			in = bytes.HasPrefix(line, []byte("tests:"))
		}
		if !in {
			out = append(out, line...)
		} else if line[len(line)-1] == '\n' {
			out = append(out, '\n')
		}
	}
	return out
}

// compileDocs compiles a file's documents; untested leaves out its test
// suites, whose tests have been stripped.
func compileDocs(file string, specs []Spec, nodes []*yaml.Node, opts Options, untested bool) (*File, error) {
	if opts.Origin == "" {
		opts.Origin = file
	}
	var out File
	var errs []error
	for i, sp := range specs {
		if sp.TestsFor != "" && untested {
			continue
		}
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
	if len(out.Rules) == 0 && len(out.Suites) == 0 && !untested {
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
