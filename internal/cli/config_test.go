package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "config", "check", "../../examples/vigil.yaml")
	if code != ExitOK || !strings.Contains(stdout, "ok: 3 accounts") || !strings.Contains(stdout, "5 receivers (7 destinations)") ||
		!strings.Contains(stdout, "serve: listen 127.0.0.1:8080, ingest authenticated, 1 SNS topic, 1 SQS queue") {
		t.Fatalf("example: exit %d\n%s%s", code, stdout, stderr)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	// Several mistakes at once: each is reported, with what names it.
	writeFile(t, bad, `geoip:
  city: `+filepath.Join(dir, "missing.mmdb")+`
notify:
  receivers:
    - name: hook
      webhook: {url: "ftp://example.com/x"}
  route:
    receiver: nobody
serve:
  listen: 0.0.0.0:8080
  sns:
    topics: ["arn:aws:sns:*:*:vigil"]
`)
	code, stdout, stderr = runCLI(t, "", "config", "check", bad)
	if code != ExitError || stdout != "" {
		t.Fatalf("bad config: exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"missing.mmdb", "hook", "beyond loopback", "serve.sns.topics"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr)
		}
	}

	queue := filepath.Join(dir, "queue.yaml")
	writeFile(t, queue, "serve:\n  sqs:\n    - queue_url: ftp://nowhere\n      workers: 100\n")
	if code, _, stderr := runCLI(t, "", "config", "check", queue); code != ExitError || !strings.Contains(stderr, "queue.yaml:3: serve.sqs[0].queue_url") || !strings.Contains(stderr, "queue.yaml:4: serve.sqs[0].workers") {
		t.Errorf("bad queue: exit %d: %s", code, stderr)
	}

	unknown := filepath.Join(dir, "unknown.yaml")
	writeFile(t, unknown, "notify:\n  recievers: []\n")
	if code, _, stderr := runCLI(t, "", "config", "check", unknown); code != ExitError || !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, "recievers") {
		t.Errorf("unknown key: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "", "config", "check"); code != ExitError {
		t.Errorf("no file: exit %d", code)
	}
}
