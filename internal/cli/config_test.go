package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "config", "check", "../../examples/vigil.yaml")
	if code != ExitOK || !strings.Contains(stdout, "ok: 3 accounts") || !strings.Contains(stdout, "5 receivers (7 destinations)") {
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
`)
	code, stdout, stderr = runCLI(t, "", "config", "check", bad)
	if code != ExitError || stdout != "" {
		t.Fatalf("bad config: exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"missing.mmdb", "hook"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr)
		}
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
