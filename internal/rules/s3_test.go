package rules

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/detect"
)

// s3Case is one CloudTrail record and the alerts it must raise. The records
// in testdata/s3_cases.json follow the shapes of real CloudTrail S3 records
// (AWS documentation and published detection-rule fixtures; see
// testdata/SOURCES.md), in both the older (arrays, "host") and newer
// (strings, "Host") styles.
type s3Case struct {
	Name string `json:"name"`
	Want []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Title    string `json:"title"` // substring of the finding's title
	} `json:"want"`
	Record json.RawMessage `json:"record"`
}

func loadS3Cases(t *testing.T) []s3Case {
	t.Helper()
	b, err := os.ReadFile("testdata/s3_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []s3Case
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func newEngine(t *testing.T) *detect.Engine {
	t.Helper()
	e, err := detect.New(All())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestS3Rules(t *testing.T) {
	engine := newEngine(t)
	for _, tc := range loadS3Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			ev, err := cloudtrail.Parse(tc.Record)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, errs := engine.Eval(context.Background(), ev, nil)
			if len(errs) > 0 {
				t.Fatalf("rule errors: %v", errs)
			}
			if len(got) != len(tc.Want) {
				var ids []string
				for _, f := range got {
					ids = append(ids, f.Rule+": "+f.Title)
				}
				t.Fatalf("got %d findings %q, want %d", len(got), ids, len(tc.Want))
			}
			for _, w := range tc.Want {
				i := slices.IndexFunc(got, func(f detect.Finding) bool { return f.Rule == w.Rule })
				if i < 0 {
					t.Errorf("no finding of rule %s", w.Rule)
					continue
				}
				f := got[i]
				if f.Severity.String() != w.Severity {
					t.Errorf("%s severity = %s, want %s (title %q)", w.Rule, f.Severity, w.Severity, f.Title)
				}
				if !strings.Contains(f.Title, w.Title) {
					t.Errorf("%s title = %q, want it to contain %q", w.Rule, f.Title, w.Title)
				}
				if !strings.HasPrefix(f.Resource, "arn:aws:") {
					t.Errorf("%s resource = %q, want an ARN", w.Rule, f.Resource)
				}
				if len(f.Details) == 0 {
					t.Errorf("%s has no details", w.Rule)
				}
				if _, err := json.Marshal(f.Details); err != nil {
					t.Errorf("%s details do not marshal: %v", w.Rule, err)
				}
			}
		})
	}
}

// TestS3RulesCoverEveryRule keeps the case file honest: every S3 rule has a
// case that fires and a case that must not.
func TestS3RulesCoverEveryRule(t *testing.T) {
	fires := map[string]bool{}
	for _, tc := range loadS3Cases(t) {
		for _, w := range tc.Want {
			fires[w.Rule] = true
		}
	}
	for _, r := range All() {
		if id := r.Meta().ID; strings.HasPrefix(id, "aws-s3-") && !fires[id] {
			t.Errorf("rule %s has no positive case in testdata/s3_cases.json", id)
		}
	}
}

// TestS3RulesOnAWSDocExample checks a real record from the S3 User Guide: a
// PutBucketAcl that grants FULL_CONTROL to the owner only, which is not
// public.
func TestS3RulesOnAWSDocExample(t *testing.T) {
	b, err := os.ReadFile("testdata/awsdocs-put-bucket-acl.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := cloudtrail.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "PutBucketAcl" {
		t.Fatalf("eventName = %q", ev.Action)
	}
	got, errs := newEngine(t).Eval(context.Background(), ev, nil)
	if len(got) != 0 || len(errs) != 0 {
		t.Errorf("findings %v, errors %v; want none", got, errs)
	}
}

func TestCatalogueInvariants(t *testing.T) {
	want := []string{
		"aws-s3-bucket-acl-public", "aws-s3-bucket-policy-public", "aws-s3-bucket-public-access-block-removed",
		"aws-s3-account-public-access-block-removed", "aws-s3-object-acl-public", "aws-s3-bucket-acls-enabled",
		"aws-s3-access-point-policy-public",
	}
	var ids []string
	for _, r := range All() {
		m := r.Meta()
		ids = append(ids, m.ID)
		if m.Title == "" || m.Description == "" || m.Runbook == "" || m.Version < 1 || len(m.Tags) == 0 {
			t.Errorf("rule %s: incomplete catalogue entry %+v", m.ID, m)
		}
		if len(r.Keys()) == 0 {
			t.Errorf("rule %s matches every event; S3 rules must be keyed", m.ID)
		}
	}
	for _, id := range want {
		if !slices.Contains(ids, id) {
			t.Errorf("built-in rule %s is missing", id)
		}
	}
}
