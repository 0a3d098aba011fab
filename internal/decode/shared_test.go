package decode

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData is the workspace's folder of real AWS data (see its
// SOURCES.md). Some of its files are under the Elastic License and must not
// be copied into this repository, so this test reads them in place when the
// folder is there (it is on the development machines) and is skipped
// otherwise; testdata/aws holds the freely licensed ones, which TestGolden
// covers everywhere.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VIGIL_SHARED_DATA")
	if dir == "" {
		dir = "../../../shared/data"
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("shared AWS data not found at %s (set VIGIL_SHARED_DATA)", dir)
	}
	return dir
}

// TestSharedDataDecodes decodes every native-format file of the shared data
// folder, including the Elastic-licensed samples, and checks what each must
// give. Documentation example files are unwrapped by TestGolden's logic.
func TestSharedDataDecodes(t *testing.T) {
	root := sharedData(t)
	type want struct{ events, bad, unsupported int }
	expect := map[string]want{
		"cloudtrail/elastic-integrations/test-console-login-json.log":      {3, 0, 0},
		"guardduty/elastic-integrations/test-guardduty.log":                {5, 0, 0}, // and one empty {"findings":[]}
		"vpcflow/elastic-integrations/test-v5-all-fields.log":              {1, 0, 0},
		"vpcflow/elastic-integrations/test-extra-samples.log":              {7, 0, 0},
		"vpcflow/elastic-integrations/test-v8-samples.log":                 {1, 0, 0},
		"vpcflow/elastic-beats/custom-nat-gateway.log":                     {2, 0, 0},
		"vpcflow/otel-contrib/valid_vpc_flow_log.log":                      {1, 0, 0},
		"vpcflow/otel-contrib/valid_vpc_flow_log_ecs.log":                  {1, 0, 0},
		"s3-event-notifications/s3-event.json":                             {1, 0, 0},
		"access-analyzer/access-analyzer-finding-active.json":              {1, 0, 0},
		"access-analyzer/access-analyzer-finding-error.json":               {1, 0, 0},
		"access-analyzer/access-preview-state-change-completed.json":       {0, 0, 1},
		"cloudwatch-subscription/aws-lambda-go/cloudwatch-logs-event.json": {0, 0, 2}, // plain-text log lines
		"cloudwatch-subscription/otel-contrib/valid_cloudwatch_log.json":   {0, 3, 0}, // messages are truncated CloudTrail records
	}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		native := strings.HasPrefix(rel, "cloudtrail/") || strings.HasPrefix(rel, "vpcflow/") || strings.HasPrefix(rel, "guardduty/") ||
			strings.HasPrefix(rel, "cloudwatch-subscription/") || strings.HasPrefix(rel, "access-analyzer/") || strings.HasPrefix(rel, "s3-event-notifications/")
		if !native || strings.HasSuffix(rel, ".examples.json") || strings.HasSuffix(rel, "cribl-sample.json") || strings.HasPrefix(rel, "vpcflow/awsdocs/") {
			return nil
		}
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			o := run(t, bytes.NewReader(data), Limits{})
			if o.err != nil {
				t.Fatalf("payload error: %v", o.err)
			}
			w, ok := expect[rel]
			if !ok {
				// Real CloudTrail log files and Stratus detonations: every
				// record must decode.
				if len(o.events) == 0 || len(o.bad) != 0 || len(o.unsup) != 0 {
					t.Errorf("%v", o)
				}
				return
			}
			if len(o.events) != w.events || len(o.bad) != w.bad || len(o.unsup) != w.unsupported {
				t.Errorf("got %v; want %d events, %d bad, %d unsupported", o, w.events, w.bad, w.unsupported)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSharedDocExamplesDecode unwraps the AWS documentation examples of the
// shared folder (the GuardDuty ones are EventBridge rule patterns, not
// events) and decodes every CloudTrail example.
func TestSharedDocExamplesDecode(t *testing.T) {
	root := sharedData(t)
	paths, _ := filepath.Glob(filepath.Join(root, "cloudtrail/awsdocs/*.examples.json"))
	if len(paths) == 0 {
		t.Fatal("no examples")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var examples []struct {
			Title   string          `json:"title"`
			Example json.RawMessage `json:"example"`
		}
		if err := json.Unmarshal(data, &examples); err != nil {
			t.Fatal(err)
		}
		for _, ex := range examples {
			o := run(t, bytes.NewReader(ex.Example), Limits{})
			if o.err != nil || len(o.events) == 0 || len(o.bad) != 0 || len(o.unsup) != 0 {
				t.Errorf("%s: %q: %v", filepath.Base(p), ex.Title, o)
			}
		}
	}
}
