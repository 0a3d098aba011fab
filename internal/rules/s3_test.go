package rules

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/detect"
)

// s3Case is one CloudTrail record and the alerts it must raise, gathered
// from the S3 rules' test suites in catalog/s3.yaml: a record that must
// raise two rules is in both suites under one name. The records follow the
// shapes of real CloudTrail S3 records (AWS documentation and published
// detection-rule fixtures; see testdata/SOURCES.md), in both the older
// (arrays, "host") and newer (strings, "Host") styles.
type s3Case struct {
	Name string
	Want []s3Want
	// Record is the CloudTrail record as JSON.
	Record json.RawMessage
}

type s3Want struct {
	Rule     string
	Severity string
	Title    string // substring of the finding's title
}

func loadS3Cases(t *testing.T) []s3Case {
	t.Helper()
	f, err := os.Open("catalog/s3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []s3Case
	index := map[string]int{}
	dec := yaml.NewDecoder(f)
	for {
		var suite struct {
			TestsFor string `yaml:"tests_for"`
			Tests    []struct {
				Name, Expect, Severity, Title string
				Event                         any
			}
		}
		if err := dec.Decode(&suite); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, tc := range suite.Tests {
			rec, err := json.Marshal(tc.Event)
			if err != nil {
				t.Fatal(err)
			}
			i, ok := index[tc.Name]
			if !ok {
				i = len(cases)
				index[tc.Name] = i
				cases = append(cases, s3Case{Name: tc.Name, Record: rec})
			} else if string(cases[i].Record) != string(rec) {
				t.Fatalf("two records named %s", tc.Name)
			}
			if tc.Expect == "alert" {
				cases[i].Want = append(cases[i].Want, s3Want{suite.TestsFor, tc.Severity, tc.Title})
			}
		}
	}
	if len(cases) < 40 {
		t.Fatalf("only %d S3 cases", len(cases))
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
			t.Errorf("rule %s has no positive case in catalog/s3.yaml", id)
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

// TestS3RulesIgnore lists records that look like exposures to a careless
// rule but are not: descriptions of calls, calls that were denied, and
// request text that merely spells a group's URI.
func TestS3RulesIgnore(t *testing.T) {
	base := func(name, extra string) string {
		return `{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"` + name + `","awsRegion":"eu-west-1","recipientAccountId":"111122223333","eventID":"e"` + extra + `}`
	}
	tests := []struct{ name, record string }{
		{"insight about an API", `{"eventVersion":"1.07","eventTime":"2026-11-20T09:00:00Z","awsRegion":"eu-west-1","eventID":"i","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333",` +
			`"insightDetails":{"state":"Start","eventSource":"s3.amazonaws.com","eventName":"DeleteAccountPublicAccessBlock","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}`},
		{"network activity event", base("DeleteBucketPublicAccessBlock", `,"eventType":"AwsVpceEvent","requestParameters":{"bucketName":"b"},"eventCategory":"NetworkActivity"`)},
		{"key spelling the AllUsers URI", base("PutObjectAcl", `,"eventType":"AwsApiCall","requestParameters":{"bucketName":"b","key":"docs/acs.amazonaws.com/groups/global/AllUsers.txt","x-amz-acl":"private"}`)},
		{"plain PutObject whose key names AuthenticatedUsers", base("PutObject", `,"eventType":"AwsApiCall","requestParameters":{"bucketName":"b","key":"http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}`)},
	}
	engine := newEngine(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := cloudtrail.Parse([]byte(tc.record))
			if err != nil {
				t.Fatal(err)
			}
			fs, errs := engine.Eval(context.Background(), ev, nil)
			if len(fs) != 0 || len(errs) != 0 {
				t.Errorf("findings %v, errors %v; want none", fs, errs)
			}
		})
	}
}

// TestUnparsablePolicyIsAnError checks that the policy rules fail loudly,
// not open, on a policy they cannot read.
func TestUnparsablePolicyIsAnError(t *testing.T) {
	rec := `{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","eventType":"AwsApiCall",` +
		`"awsRegion":"eu-west-1","eventID":"e","requestParameters":{"bucketName":"b","bucketPolicy":{"Statement":"not a statement"}}}`
	ev, err := cloudtrail.Parse([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	fs, errs := newEngine(t).Eval(context.Background(), ev, nil)
	if len(fs) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "aws-s3-bucket-policy-public") {
		t.Errorf("findings %v, errors %v; want one rule error", fs, errs)
	}
}

// TestGrantOrderIsStable checks that titles and details do not depend on
// map iteration order.
func TestGrantOrderIsStable(t *testing.T) {
	rec := `{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","eventType":"AwsApiCall","awsRegion":"eu-west-1","eventID":"e",` +
		`"requestParameters":{"bucketName":"b","x-amz-grant-write":"uri=http://acs.amazonaws.com/groups/global/AllUsers","x-amz-grant-read":"uri=http://acs.amazonaws.com/groups/global/AllUsers",` +
		`"x-amz-grant-read-acp":"uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers","x-amz-grant-full-control":"uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}}`
	engine := newEngine(t)
	var first string
	for range 30 {
		ev, _ := cloudtrail.Parse([]byte(rec))
		fs, _ := engine.Eval(context.Background(), ev, nil)
		if len(fs) != 1 {
			t.Fatalf("findings %v", fs)
		}
		got := fs[0].Title + fs[0].DetailsJSON()
		if first == "" {
			first = got
		} else if got != first {
			t.Fatalf("output changed between runs:\n%s\n%s", first, got)
		}
	}
}
