package ruleset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/detect/sigma"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		paths    []string
		problems []string // substrings, one per problem
		skipped  int
		user     int
		dupes    int // problems that are ids used twice, checked by count
	}{
		{"built-ins only", nil, nil, 0, 0, 0},
		{"a user rule may not take a built-in id", []string{"testdata/dup.yaml"}, []string{`testdata/dup.yaml: rule id "aws-root-api-call" is already used by built-in`}, 0, 0, 0},
		{"a suite for a rule nobody defines", []string{"testdata/suite-unknown.yaml"}, []string{`testdata/suite-unknown.yaml:1: tests_for: no rule "acme-no-such-rule"`}, 0, 0, 0},
		{"the CLI's rules", []string{"../cli/testdata/rules"}, nil, 0, 3, 0},
		{"the CLI's mistakes", []string{"../cli/testdata/rules-bad"}, []string{"bad-cel.yaml:5: condition:", "typo.yaml:5: condtion: unknown key"}, 1, 0, 0},
		// The stored SigmaHQ set holds renamed rules' old copies beside
		// the new, under the same ids (see its SOURCES.md): 97 load, 12
		// of them repeat an id, 9 are unsupported.
		{"SigmaHQ's CloudTrail rules", []string{"../detect/sigma/testdata/sigmahq"}, nil, 9, 85, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(tc.paths, rulefile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.dupes > 0 {
				for _, p := range s.Problems {
					if !strings.Contains(p.Error(), "is already used by") {
						t.Errorf("problem %v", p)
					}
				}
				s.Problems = s.Problems[:max(0, len(s.Problems)-tc.dupes)]
			}
			if len(s.Problems) != len(tc.problems) {
				t.Fatalf("problems %v, want %d", s.Problems, len(tc.problems))
			}
			for i, want := range tc.problems {
				if !strings.Contains(s.Problems[i].Error(), want) {
					t.Errorf("problem %d = %v, want %q", i, s.Problems[i], want)
				}
			}
			for _, sk := range s.Skipped {
				if !errors.Is(sk, sigma.ErrUnsupported) {
					t.Errorf("skipped for another reason: %v", sk)
				}
			}
			user := 0
			for _, origin := range s.Origin {
				if origin != "built-in" {
					user++
				}
			}
			if len(s.Skipped) != tc.skipped || user != tc.user {
				t.Errorf("skipped %d (want %d), user rules %d (want %d): %v", len(s.Skipped), tc.skipped, user, tc.user, s.Skipped)
			}
		})
	}
}

// TestUserSuiteForBuiltIn: a user may test a built-in rule against their
// own configuration, as they test their rules.
func TestUserSuiteForBuiltIn(t *testing.T) {
	s, err := Load([]string{"testdata/suite-builtin.yaml"}, rulefile.Options{})
	if err != nil || len(s.Problems) > 0 {
		t.Fatal(err, s.Problems)
	}
	var ran int
	for _, res := range s.RunTests(rulefile.Options{}) {
		if strings.HasSuffix(res.File, "suite-builtin.yaml") {
			ran++
		}
		if res.Err != nil {
			t.Errorf("%s:%d: %s: %v", res.File, res.Line, res.Name, res.Err)
		}
	}
	if ran != 2 {
		t.Errorf("ran %d of the user's tests", ran)
	}
}

func TestIsSigma(t *testing.T) {
	for _, p := range []string{"../cli/testdata/rules/sigma-s3-acl.yml", "../cli/testdata/rules-bad/sigma-other-logsource.yml"} {
		b, _ := os.ReadFile(p)
		if !IsSigma(b) {
			t.Errorf("%s is Sigma", p)
		}
	}
	b, _ := os.ReadFile(filepath.Join("../cli/testdata/rules/acme.yaml"))
	if IsSigma(b) {
		t.Error("a Vigil rule file is not Sigma")
	}
}
