package inbox

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// found is a file a walk found.
type found struct {
	rel string
	fp  fingerprint
}

// skipName reports whether a file or directory named name is never taken:
// hidden, temporary, partial or documentation.
func skipName(name string, dir bool) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	if dir {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tmp", ".part", ".partial", ".crdownload", ".md":
		return true
	}
	return false
}

func fpOf(fi fs.FileInfo) fingerprint {
	return fingerprint{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// walk lists the files to consider, in lexical order, and the directories
// it could not read (relative, "." for the root).
func (w *Watcher) walk() (files []found, unreadable []string) {
	// A trailing separator, so that an inbox that is itself a link is followed.
	root := w.o.Dir
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, path)
		if rerr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if d == nil || d.IsDir() {
				unreadable = append(unreadable, rel)
				w.skip(rel, "inbox: cannot read a directory; its files are left alone", path, err)
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		}
		if path == root {
			return nil
		}
		if skipName(d.Name(), d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			w.skip(rel, "inbox: symbolic links are not followed; move or copy the file in", path, nil)
			return nil
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			w.skip(rel, "inbox: not a regular file; ignored", path, nil)
			return nil
		}
		if abs, err := filepath.Abs(path); err == nil && abs == w.ledger {
			return nil
		}
		fi, err := d.Info()
		if err != nil { // gone since the directory was read
			return nil
		}
		files = append(files, found{rel: rel, fp: fpOf(fi)})
		return nil
	})
	return files, unreadable
}

// skip logs, once per path, why it is not taken.
func (w *Watcher) skip(rel, msg, path string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.skipped[rel] {
		return
	}
	w.skipped[rel] = true
	if err != nil {
		w.log.Warn(msg, "path", path, "err", err)
	} else {
		w.log.Warn(msg, "path", path)
	}
}

// scan polls the directory: it notes which files have settled, which are
// due, which are gone, and which are forgotten.
func (w *Watcher) scan(now time.Time) {
	files, unreadable := w.walk()

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	obs := make(map[string]*observation, len(files))
	changes := map[string]*entry{}
	var ready []string
	for _, f := range files {
		ob := w.obs[f.rel]
		if ob == nil || ob.fingerprint != f.fp {
			ob = &observation{fingerprint: f.fp, since: now}
		}
		obs[f.rel] = ob
		e := w.files[f.rel]
		if e != nil && !e.Gone.IsZero() {
			c := *e
			c.Gone = time.Time{}
			changes[f.rel] = &c
			e = &c
		}
		if w.active[f.rel] || !w.due(f.rel, e, ob, now, changes) {
			continue
		}
		// Settled: unchanged for Settle, or last written longer ago than that.
		if now.Sub(ob.since) >= w.o.Settle || (ob.mtime <= now.Add(-w.o.Settle).UnixNano()) {
			ready = append(ready, f.rel)
		}
	}
	for rel, e := range w.files {
		if obs[rel] != nil || w.active[rel] || under(rel, unreadable) {
			continue
		}
		switch {
		case e.Gone.IsZero():
			c := *e
			c.Gone = now.UTC()
			changes[rel] = &c
		case now.Sub(e.Gone) >= w.o.Forget:
			changes[rel] = nil
		}
	}
	for rel := range w.skipped {
		if _, err := os.Lstat(w.path(rel)); err != nil {
			delete(w.skipped, rel) // log again if it comes back
		}
	}
	w.obs, w.ready = obs, ready
	if err := write(w.db, changes); err != nil {
		w.log.Error("inbox: cannot update the ledger", "dir", w.o.Dir, "err", err)
		return
	}
	for rel, e := range changes {
		if e == nil {
			delete(w.files, rel)
		} else {
			w.files[rel] = e
		}
	}
}

// due reports whether the file at rel, with ledger entry e (nil if new)
// and observed as ob, is to be taken. An entry left in flight by a
// previous run that has used all its attempts is given up, in changes.
func (w *Watcher) due(rel string, e *entry, ob *observation, now time.Time, changes map[string]*entry) bool {
	switch {
	case e == nil || !e.same(ob.fingerprint):
		return true
	case e.State == done:
		return false
	case e.State == failed:
		return !e.Retry.IsZero() && !now.Before(e.Retry)
	case e.Attempts >= w.o.MaxAttempts: // in flight when Vigil stopped, again
		c := *e
		c.State, c.Retry, c.Updated = failed, time.Time{}, now.UTC()
		c.Error = "Vigil stopped while processing the file, every attempt"
		changes[rel] = &c
		w.log.Error("inbox: giving up on a file; it is taken again only if it changes", "file", w.path(rel), "attempts", c.Attempts, "err", c.Error)
		return false
	}
	return true // in flight when Vigil stopped
}

// under reports whether rel is in one of dirs ("." is the root).
func under(rel string, dirs []string) bool {
	for _, d := range dirs {
		if d == "." || rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}
