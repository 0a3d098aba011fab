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
		{"clean scan", []string{"scan", "../../samples"}, "", ExitOK, "alerts:       9"},
		{"fail-on reached", []string{"scan", "--fail-on", "high", "../../samples"}, "", ExitFindings, ""},
		{"fail-on critical reached", []string{"scan", "--fail-on", "CRITICAL", "../../samples"}, "", ExitFindings, ""},
		{"fail-on not reached", []string{"scan", "--fail-on", "critical", "../../samples/vpcflow", "../../samples/eventbridge/guardduty-finding.json"}, "", ExitOK, "alerts:       none"},
		{"flags after paths", []string{"scan", "../../samples/eventbridge", "--fail-on", "high"}, "", ExitFindings, ""},
		{"missing path still scans the rest", []string{"scan", "no/such/dir", "../../samples"}, "", ExitError, "no such file or directory"},
		{"truncated gzip", []string{"scan", bad}, "", ExitError, "unexpected EOF"},
		{"stdin", []string{"scan", "-"}, `{"Records":[]}`, ExitOK, "Scanned 1 file"},
		{"stdin twice", []string{"scan", "-", "-"}, "", ExitError, "given more than once"},
		{"unknown format is a note", []string{"scan", "../../testdata/aws/SOURCES.md"}, "", ExitOK, "note: skipped"},
		{"version", []string{"version"}, "", ExitOK, ""},
		{"rules list", []string{"rules", "list"}, "", ExitOK, ""},
		{"rules without subcommand", []string{"rules"}, "", ExitError, "no subcommand"},
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
	_, stdout, _ := runCLI(t, "", "rules", "list", "--format", "json")
	var metas []struct {
		ID, Severity string
	}
	if err := json.Unmarshal([]byte(stdout), &metas); err != nil {
		t.Fatal(err)
	}
	if len(metas) != 7 || metas[0].ID != "aws-s3-bucket-acl-public" || metas[0].Severity != "high" {
		t.Errorf("rules list = %+v", metas)
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
