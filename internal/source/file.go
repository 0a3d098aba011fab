package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Stdin is the path that stands for standard input.
const Stdin = "-"

// Files expands paths into pipeline inputs: a file stands for itself, a
// directory for every regular file below it (sorted, skipping hidden files
// and directories such as .git, and Markdown documentation, which is never a
// log), and "-" for stdin. It returns the inputs it
// could find and an error for each path that could not be read; a bad path
// does not stop the others.
func Files(paths []string, stdin io.Reader) ([]Input, []error) {
	var inputs []Input
	var errs []error
	usedStdin := false
	for _, p := range paths {
		if p == Stdin {
			if usedStdin {
				errs = append(errs, errors.New(`"-" (stdin) given more than once`))
				continue
			}
			usedStdin = true
			inputs = append(inputs, Input{Name: "(stdin)", Open: func() (io.ReadCloser, error) {
				return io.NopCloser(stdin), nil
			}})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !fi.IsDir() {
			inputs = append(inputs, fileInput(p))
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err)
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if strings.EqualFold(filepath.Ext(d.Name()), ".md") {
				return nil
			}
			if d.Type().IsRegular() {
				found = append(found, path)
			} else if d.Type()&fs.ModeSymlink != 0 {
				// Follow links to files, never to directories (no cycles).
				if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
					found = append(found, path)
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("walk %s: %w", p, err))
		}
		sort.Strings(found)
		for _, f := range found {
			inputs = append(inputs, fileInput(f))
		}
	}
	return inputs, errs
}

func fileInput(path string) Input {
	return Input{Name: path, Open: func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return f, nil
	}}
}
