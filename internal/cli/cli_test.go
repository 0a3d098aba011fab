package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCLI runs the command line in-process.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), append([]string{"vigil"}, args...), Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// unstable matches the parts of the summary that change from run to run.
var (
	durations = regexp.MustCompile(`in [0-9.]+(ns|µs|ms|s)`)
	rates     = regexp.MustCompile(`\([0-9,]+ events/s\)`)
)

func normalise(s string) string {
	return rates.ReplaceAllString(durations.ReplaceAllString(s, "in T"), "(R events/s)")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestScanSamplesGolden(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "scan", "--format", "json", "../../samples")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	golden(t, "scan-samples.jsonl", stdout)
	golden(t, "scan-samples.stderr", normalise(stderr))

	code, stdout, _ = runCLI(t, "", "scan", "--format", "text", "../../samples")
	if code != ExitOK {
		t.Fatalf("text: exit %d", code)
	}
	golden(t, "scan-samples.txt", stdout)
}

// TestScanAlertFields checks the JSON contract of an alert: every field the
// issue names, with who, what, when, where and how filled in.
func TestScanAlertFields(t *testing.T) {
	_, stdout, _ := runCLI(t, "", "scan", "--format", "json", "../../samples/cloudtrail")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 6 {
		t.Fatalf("%d alerts, want at least 6", len(lines))
	}
	for _, l := range lines {
		var a map[string]any
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		for _, k := range []string{"rule", "severity", "title", "event_id", "event_time", "account", "region", "actor", "source_ip", "resource", "details", "origin"} {
			v, ok := a[k]
			if !ok || v == "" || v == nil {
				t.Errorf("alert %s: field %q missing or empty", a["rule"], k)
			}
		}
		actor, _ := a["actor"].(map[string]any)
		if actor["name"] == "" || actor["access_key_id"] == "" || actor["arn"] == "" {
			t.Errorf("alert %s: actor lacks name, access key or ARN: %v", a["rule"], actor)
		}
		origin, _ := a["origin"].(map[string]any)
		if !strings.HasSuffix(origin["source"].(string), ".json.gz") {
			t.Errorf("origin = %v", origin)
		}
		switch a["severity"] {
		case "info", "low", "medium", "high", "critical":
		default:
			t.Errorf("severity %v", a["severity"])
		}
	}
}

func TestExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "truncated.json.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"Records":[` + strings.Repeat(`{"eventVersion":"1.0","eventName":"X","eventTime":"2026-01-01T00:00:00Z"},`, 3000)))
	zw.Close()
	if err := os.WriteFile(bad, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string // substring
	}{
		{"no command", nil, "", ExitError, "no command given"},
		{"unknown command", []string{"frobnicate"}, "", ExitError, `unknown command "frobnicate"`},
		{"scan without path", []string{"scan"}, "", ExitError, "no PATH given"},
		{"bad format", []string{"scan", "--format", "xml", "../../samples"}, "", ExitError, "--format must be text or json"},
		{"bad severity", []string{"scan", "--fail-on", "severe", "../../samples"}, "", ExitError, `unknown severity "severe"`},
		{"unknown rule", []string{"scan", "--rules-only", "aws-s3-nope", "../../samples"}, "", ExitError, "unknown rule id aws-s3-nope"},
		{"unknown flag", []string{"scan", "--frobnicate", "../../samples"}, "", ExitError, "flag provided but not defined"},
		{"help", []string{"scan", "-h"}, "", ExitOK, "Usage: vigil scan"},
		{"clean scan", []string{"scan", "../../samples"}, "", ExitOK, "alerts:       14 (critical 3, high 6, medium 3, low 2)"},
		{"fail-on reached", []string{"scan", "--fail-on", "high", "../../samples"}, "", ExitFindings, ""},
		{"fail-on critical reached", []string{"scan", "--fail-on", "CRITICAL", "../../samples"}, "", ExitFindings, ""},
		{"fail-on not reached", []string{"scan", "--fail-on", "critical", "../../samples/vpcflow", "../../samples/eventbridge/guardduty-finding.json"}, "", ExitOK, "alerts:       2 (low 2)"},
		{"nothing to alert on", []string{"scan", "../../samples/access-analyzer/access-analyzer-finding-active.json", "--rules-only", "aws-s3-bucket-acl-public"}, "", ExitOK, "alerts:       none"},
		{"flags after paths", []string{"scan", "../../samples/eventbridge", "--fail-on", "high"}, "", ExitFindings, ""},
		{"missing path still scans the rest", []string{"scan", "no/such/dir", "../../samples"}, "", ExitError, "no such file or directory"},
		{"truncated gzip", []string{"scan", bad}, "", ExitError, "unexpected EOF"},
		{"stdin", []string{"scan", "-"}, `{"Records":[]}`, ExitOK, "Scanned 1 file"},
		{"stdin twice", []string{"scan", "-", "-"}, "", ExitError, "given more than once"},
		{"unknown format is a note", []string{"scan", "../../testdata/aws/SOURCES.md"}, "", ExitOK, "note: skipped"},
		{"version", []string{"version"}, "", ExitOK, ""},
		{"rules list", []string{"rules", "list"}, "", ExitOK, ""},
		{"rules without subcommand", []string{"rules"}, "", ExitError, "rules: no command given"},
		{"rules unknown subcommand", []string{"rules", "frob"}, "", ExitError, `rules: unknown command "frob"`},
		{"user rules with mistakes", []string{"scan", "--rules", "testdata/rules-bad", "../../samples"}, "", ExitError, "condtion: unknown key"},
		{"missing rules path", []string{"scan", "--rules", "no/such/rules", "../../samples"}, "", ExitError, "no/such/rules"},
		{"missing config", []string{"scan", "--config", "no/such.yaml", "../../samples"}, "", ExitError, "no/such.yaml"},
		{"rules-only names a user rule", []string{"scan", "--rules", "testdata/rules", "--rules-only", "acme-bucket-changes", "../../samples"}, "", ExitOK, "acme-bucket-changes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}

func TestRulesOnly(t *testing.T) {
	_, stdout, _ := runCLI(t, "", "scan", "--format", "json", "--rules-only", "aws-s3-bucket-policy-public, aws-s3-object-acl-public", "../../samples")
	rules := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var a struct{ Rule string }
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		rules[a.Rule]++
	}
	if len(rules) != 2 || rules["aws-s3-bucket-policy-public"] != 2 || rules["aws-s3-object-acl-public"] != 1 {
		t.Errorf("alerts by rule = %v", rules)
	}
}

func TestBadRecordsReported(t *testing.T) {
	dir := t.TempDir()
	body := `{"Records":[{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","requestParameters":{"bucketName":"x","x-amz-acl":"public-read"},"eventID":"good-1"},` +
		`{"eventVersion":"1.09","eventName":"PutBucketAcl","eventTime":"yesterday"},` +
		`{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:01Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","requestParameters":{"bucketName":"y","x-amz-acl":"public-read"},"eventID":"good-2"}]}`
	path := filepath.Join(dir, "mixed.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "", "scan", "--format", "json", path)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(stdout, "\n"); n != 2 {
		t.Errorf("%d alerts, want 2 (the neighbours of the bad record)", n)
	}
	if !strings.Contains(stderr, "bad record: "+path+" record 1 (byte 215): field eventTime: not an RFC 3339 time: \"yesterday\"") || !strings.Contains(stderr, "bad records:  1") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestRulesList(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "rules", "list", "--format", "json", "testdata/rules")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rules []ruleInfo
	if err := json.Unmarshal([]byte(stdout), &rules); err != nil {
		t.Fatal(err)
	}
	byID := map[string]ruleInfo{}
	for _, r := range rules {
		byID[r.ID] = r
		if r.Origin == "built-in" && (r.Tests < 2 || r.Description == "" || len(r.Tags) == 0) {
			t.Errorf("built-in rule %s: %d tests, description %q, tags %v", r.ID, r.Tests, r.Description, r.Tags)
		}
	}
	if len(rules) < 60 {
		t.Errorf("%d rules", len(rules))
	}
	for id, want := range map[string]ruleInfo{
		"aws-s3-bucket-acl-public":                   {Severity: "high", Origin: "built-in", Index: "call"},
		"aws-signin-impossible-travel":               {Severity: "high", Origin: "built-in", Stateful: true, Index: "call"},
		"aws-signin-brute-force-user":                {Severity: "medium", Origin: "built-in", Stateful: true, Index: "call"},
		"aws-root-api-call":                          {Severity: "high", Origin: "built-in", Stateful: true, Index: "kind"},
		"aws-guardduty-finding":                      {Severity: "medium", Origin: "built-in", Stateful: true, Index: "kind"},
		"acme-bucket-acl-from-abroad":                {Severity: "medium", Origin: "testdata/rules/acme.yaml", Index: "call"},
		"acme-bucket-changes":                        {Severity: "low", Origin: "testdata/rules/acme.yaml", Stateful: true, Index: "source"},
		"sigma-6f1c1c2e-8d3a-4b7e-9a65-2f7a3f0b5c11": {Severity: "medium", Origin: "sigma:testdata/rules/sigma-s3-acl.yml", Index: "source"},
	} {
		got, ok := byID[id]
		if !ok || got.Severity != want.Severity || got.Origin != want.Origin || got.Stateful != want.Stateful || got.Index != want.Index {
			t.Errorf("%s: %+v, want %+v", id, got, want)
		}
	}
	_, text, _ := runCLI(t, "", "rules", "list")
	if !strings.HasPrefix(text, "ID ") || !strings.Contains(text, "aws-root-access-key-created") {
		t.Errorf("text list:\n%s", text)
	}
}

// TestRulesTest runs every built-in rule's tests through the command a
// user runs, and shows a failing user test with its file and line.
func TestRulesTest(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "rules", "test")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "ok  aws-s3-bucket-acl-public") || strings.Contains(stdout, "without tests") {
		t.Errorf("output:\n%s", stdout)
	}
	m := regexp.MustCompile(`(\d+) tests of (\d+) rules: (\d+) passed, 0 failed`).FindStringSubmatch(stdout)
	if m == nil || m[1] != m[3] || len(strings.Split(strings.TrimSpace(stdout), "\n")) < 300 {
		t.Errorf("summary: %v\n%s", m, stdout[max(0, len(stdout)-300):])
	}

	code, stdout, _ = runCLI(t, "", "rules", "test", "-q", "--run", "^acme-", "testdata/rules", "testdata/rules-failing")
	if code != ExitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	want := "FAIL  acme-wrong-expectation  this expectation is wrong on purpose  testdata/rules-failing/failing.yaml:13: expected an alert, got none"
	if !strings.Contains(stdout, want) || strings.Contains(stdout, "ok ") || !strings.Contains(stdout, "6 tests of 3 rules: 5 passed, 1 failed") {
		t.Errorf("output:\n%s\nwant %q", stdout, want)
	}
}

// TestRulesLint reports every mistake with its file and line, says which
// Sigma rules do not load and why, and fails only on mistakes.
func TestRulesLint(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "rules", "lint", "testdata/rules-bad", "testdata/rules")
	if code != ExitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"error: testdata/rules-bad/typo.yaml:5: condtion: unknown key (did you mean condition?)",
		"error: testdata/rules-bad/bad-cel.yaml:5: condition: ERROR: <input>:1:20: Syntax error",
		"skipped: testdata/rules-bad/sigma-other-logsource.yml:5:5: unsupported: logsource product \"windows\"",
		"5 files read: 3 rules loaded (1 Sigma), 2 errors, 1 Sigma rule skipped",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("lint output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, "", "rules", "lint", "-v", "testdata/rules")
	if code != ExitOK || !strings.Contains(stdout, "ok: testdata/rules/acme.yaml: acme-bucket-changes") ||
		!strings.Contains(stdout, "note: testdata/rules/acme.yaml: rule acme-bucket-changes does not pin eventName to exact values") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

// TestScanWithUserRulesConfigAndState: user rules (Vigil and Sigma) run
// beside the built-ins, GeoIP from the configuration enriches events, and
// what stateful rules learn survives a restart, so a second run over the
// same logs does not repeat the alerts the first raised.
func TestScanWithUserRulesConfigAndState(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.db")
	args := []string{"scan", "--format", "json", "--config", "testdata/geo.yaml", "--state", statePath, "--rules", "testdata/rules", "../../samples"}
	code, stdout, stderr := runCLI(t, "", args...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	count := func(out, rule string) int { return strings.Count(out, `"rule":"`+rule+`"`) }
	if n := count(stdout, "acme-bucket-acl-from-abroad"); n != 2 || !strings.Contains(stdout, "Bucket ACL changed from GB by") {
		t.Errorf("GeoIP rule raised %d alerts:\n%s", n, stdout)
	}
	if count(stdout, "sigma-6f1c1c2e-8d3a-4b7e-9a65-2f7a3f0b5c11") != 3 || count(stdout, "acme-bucket-changes") != 1 || count(stdout, "aws-s3-bucket-acl-public") != 3 {
		t.Errorf("alerts:\n%s", stdout)
	}
	_, again, _ := runCLI(t, "", args...)
	if n := count(again, "acme-bucket-changes"); n != 0 {
		t.Errorf("after a restart the dedup rule raised %d alerts, want 0 (it remembers the last hour)", n)
	}
	if count(again, "aws-s3-bucket-acl-public") != 3 {
		t.Errorf("stateless rules must still raise their alerts:\n%s", again)
	}
	// Two scans cannot share one state file at once.
	lock, err := state.Open(statePath)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if code, _, stderr := runCLI(t, "", args...); code != ExitError || !strings.Contains(stderr, "state") {
		t.Errorf("a locked state file: exit %d, %s", code, stderr)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

func TestWriteFailureIsAnError(t *testing.T) {
	var errb bytes.Buffer
	code := Run(context.Background(), []string{"vigil", "scan", "--format", "json", "../../samples"}, Env{Stdin: strings.NewReader(""), Stdout: failingWriter{}, Stderr: &errb})
	if code != ExitError || strings.Count(errb.String(), "no space left") != 1 {
		t.Errorf("exit %d; stderr:\n%s\nwant exit 2, the error reported once and as the result", code, errb.String())
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"café ✓":                  "café ✓",
		"a\x1b[2Jb":               `a\x1b[2Jb`,
		"line\nbreak\ttab":        `line\nbreak\ttab`,
		"bad \xff byte":           `bad \xff byte`,
		"c1 \u009b control":       `c1 \u009b control`,
		"key\r\x1b[1A\x1b[2Kfake": `key\r\x1b[1A\x1b[2Kfake`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRulesOnlyEdgeCases(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "scan", "--format", "json", "--rules-only", "aws-s3-object-acl-public,aws-s3-object-acl-public", "../../samples")
	if code != ExitOK || strings.Count(stdout, "\n") != 1 {
		t.Errorf("duplicate id: exit %d, %d alerts", code, strings.Count(stdout, "\n"))
	}
	if code, _, stderr := runCLI(t, "", "scan", "--rules-only", " , ", "../../samples"); code != ExitError || !strings.Contains(stderr, "names no rule") {
		t.Errorf("empty list: exit %d, %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "", "scan", "--workers", "100000", "../../samples"); code != ExitError {
		t.Errorf("huge --workers: exit %d", code)
	}
}

// TestTextOutputEscapesInput checks that an object key with terminal escape
// sequences cannot rewrite the screen.
func TestTextOutputEscapesInput(t *testing.T) {
	rec := `{"Records":[{"eventVersion":"1.09","eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","eventType":"AwsApiCall",` +
		`"awsRegion":"eu-west-1","eventID":"e","requestParameters":{"bucketName":"b","key":"a\u001b[1A\u001b[2K\rOK","x-amz-acl":"public-read"}}]}`
	path := filepath.Join(t.TempDir(), "esc.json")
	if err := os.WriteFile(path, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stdout, _ := runCLI(t, "", "scan", "--format", "text", path)
	if strings.ContainsAny(stdout, "\x1b\r") || !strings.Contains(stdout, `a\x1b[1A\x1b[2K\rOK`) {
		t.Errorf("table not escaped:\n%q", stdout)
	}
}
