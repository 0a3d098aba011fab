package rulefile

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/internal/detect"
)

// Suite is a rule file document that holds tests for a rule defined
// elsewhere, named by tests_for: a built-in rule written in Go (the S3
// policy rules) carries its tests in the same format as every other rule.
type Suite struct {
	For   string
	file  string
	line  int
	tests []TestSpec
	lines []int
}

func newSuite(sp Spec, file string, node *yaml.Node) (*Suite, error) {
	// Only tests_for, description and tests belong in a suite.
	rest := sp
	rest.TestsFor, rest.Description, rest.Tests = "", "", nil
	if !reflect.ValueOf(rest).IsZero() {
		return nil, fmt.Errorf("%s:%d: tests_for: a test suite holds only tests_for, description and tests", file, node.Line)
	}
	if len(sp.Tests) == 0 {
		return nil, fmt.Errorf("%s:%d: tests_for: the suite for %s has no tests", file, lineOfKey(node, "tests_for"), sp.TestsFor)
	}
	return &Suite{For: sp.TestsFor, file: file, line: lineOfKey(node, "tests_for"), tests: sp.Tests, lines: itemLines(node, "tests")}, nil
}

// File returns where the suite is.
func (s *Suite) File() (string, int) { return s.file, s.line }

// Tests counts the suite's tests as Rule.Tests does.
func (s *Suite) Tests() (total, positive, negative int) { return countTests(s.tests) }

// RunTests runs the suite's tests, each against a fresh rule from fresh
// (which receives the test's configuration and no persistent state).
func (s *Suite) RunTests(base Options, fresh func(Options) (detect.Rule, error)) []TestResult {
	out := make([]TestResult, 0, len(s.tests))
	for i, tc := range s.tests {
		res := TestResult{Rule: s.For, Name: testName(tc, i), File: s.file, Line: s.line}
		if i < len(s.lines) {
			res.Line = s.lines[i]
		}
		res.Err = runTest(tc, base, func(opts Options) (detect.Rule, error) {
			r, err := fresh(opts)
			if err == nil && r.Meta().ID != s.For {
				err = fmt.Errorf("the rule made for %s is %s", s.For, r.Meta().ID)
			}
			return r, err
		})
		out = append(out, res)
	}
	return out
}
