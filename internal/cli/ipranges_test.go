package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestIPRangesUpdate runs the command against a local HTTP server standing
// in for ip-ranges.amazonaws.com (no network here): it serves AWS's
// published file, then errors and a file that is not ip-ranges.json.
func TestIPRangesUpdate(t *testing.T) {
	f, err := os.Open("../../testdata/aws/ip-ranges/ip-ranges.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(f)
	published, err := io.ReadAll(zr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Int32
	var body atomic.Value
	status.Store(http.StatusOK)
	body.Store(published)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "data", "ip-ranges.json")
	update := func() (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"vigil", "ip-ranges", "update", "--url", srv.URL, "--out", out}, Env{Stdout: &stdout, Stderr: &stderr})
		return code, stdout.String(), stderr.String()
	}

	code, stdout, stderr := update()
	if code != ExitOK || !strings.Contains(stdout, "updated "+out+": syncToken 1787433425") {
		t.Fatalf("first update: %d %q %q", code, stdout, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, published) {
		t.Fatal("the file written is not the one served")
	}
	if code, stdout, _ := update(); code != ExitOK || !strings.Contains(stdout, "is current") {
		t.Errorf("second update: %d %q", code, stdout)
	}

	// Failures leave the file as it was, and say what went wrong.
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{http.StatusServiceUnavailable, "busy", "503"},
		{http.StatusOK, `{"syncToken":"2","prefixes":[{"ip_prefix":"3.4.300.0/24"}]}`, "prefixes[0]"},
		{http.StatusOK, `<html>`, "not an ip-ranges.json"},
	} {
		status.Store(int32(tc.status))
		body.Store([]byte(tc.body))
		code, _, stderr := update()
		if code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%d %q: exit %d, stderr %q; want an error with %q", tc.status, tc.body, code, stderr, tc.want)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, published) {
			t.Fatalf("%d %q: the file changed", tc.status, tc.body)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("%d files beside the ranges, want none (temporary files left?)", len(entries)-1)
	}
}

func TestIPRangesUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"vigil", "ip-ranges"}, Env{Stdout: &stdout, Stderr: &stderr}); code != ExitError {
		t.Errorf("no subcommand: exit %d", code)
	}
	if code := Run(context.Background(), []string{"vigil", "ip-ranges", "update", "extra"}, Env{Stdout: &stdout, Stderr: &stderr}); code != ExitError {
		t.Errorf("extra argument: exit %d", code)
	}
}
