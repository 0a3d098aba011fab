package testsrv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fakeTB records what Binary does with a missing binary.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "srv"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "noexec"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, bin, require, ci string
		want                   string // "path", "skip" or "fatal"
	}{
		{"present", "srv", "", "", "path"},
		{"present in CI", "srv", "1", "true", "path"},
		{"missing", "nope", "", "", "skip"},
		{"missing, CI=false", "nope", "", "false", "skip"},
		{"not executable", "noexec", "", "", "skip"},
		{"missing, required", "nope", "1", "", "fatal"},
		{"missing, CI", "nope", "", "true", "fatal"},
		{"not executable, CI", "noexec", "", "1", "fatal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VIGIL_TOOLS", dir)
			t.Setenv("VIGIL_REQUIRE_SERVERS", tc.require)
			t.Setenv("CI", tc.ci)
			f := &fakeTB{TB: t}
			var path string
			done := make(chan struct{})
			go func() {
				defer close(done)
				path = Binary(f, tc.bin)
			}()
			<-done
			var got string
			switch {
			case f.fatal != "":
				got = "fatal"
			case f.skip != "":
				got = "skip"
			case path == filepath.Join(dir, tc.bin):
				got = "path"
			}
			if got != tc.want {
				t.Fatalf("Binary(%q) = %q, fatal %q, skip %q; want %s", tc.bin, path, f.fatal, f.skip, tc.want)
			}
			if msg := f.fatal + f.skip; got != "path" && !strings.Contains(msg, "scripts/tools.sh") {
				t.Errorf("message %q does not say how to build the servers", msg)
			}
		})
	}
}

func TestToolsDirDefault(t *testing.T) {
	t.Setenv("VIGIL_TOOLS", "")
	dir, err := toolsDir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(dir)))
	if goModModule(filepath.Join(root, "go.mod")) != modulePath || dir != filepath.Join(root, ".cache", "tools", "bin") {
		t.Errorf("toolsDir() = %q, want .cache/tools/bin under the root of module %s", dir, modulePath)
	}
}

func TestGoModModule(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"module github.com/vigil-sec/vigil\n\ngo 1.26.0\n":         "github.com/vigil-sec/vigil",
		"// c\nmodule \"github.com/vigil-sec/vigil/tools\" // x\n": "github.com/vigil-sec/vigil/tools",
		"modulex foo\n": "",
	} {
		p := filepath.Join(dir, "go.mod")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := goModModule(p); got != want {
			t.Errorf("goModModule(%q) = %q, want %q", content, got, want)
		}
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort() returned %d twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d from FreePort is not free: %v", p, err)
		}
		l.Close()
	}
}
