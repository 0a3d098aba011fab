package source

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b/2.json.gz", "a.json", "b/1.log", ".git/config", "b/.hidden", "README.md", "c/notes.MD"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "a.json"), filepath.Join(dir, "link-to-file")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "b", "loop")); err != nil {
		t.Fatal(err)
	}
	inputs, errs := Files([]string{dir, filepath.Join(dir, "README.md"), "-", filepath.Join(dir, "missing")}, strings.NewReader("from stdin"))
	var names []string
	for _, in := range inputs {
		names = append(names, strings.TrimPrefix(in.Name, dir+"/"))
	}
	want := []string{"a.json", "b/1.log", "b/2.json.gz", "link-to-file", "README.md", "(stdin)"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("inputs = %v, want %v", names, want)
	}
	if len(errs) != 1 || !os.IsNotExist(errs[0]) {
		t.Errorf("errors = %v, want one not-exist error", errs)
	}
	rc, err := inputs[len(inputs)-1].Open()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "from stdin" {
		t.Errorf("stdin input read %q", b)
	}
	rc, err = inputs[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "a.json" {
		t.Errorf("file input read %q", b)
	}
	if _, errs := Files([]string{"-", "-"}, strings.NewReader("")); len(errs) != 1 {
		t.Errorf("stdin twice: errors %v", errs)
	}
}
