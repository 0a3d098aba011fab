//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package spool

import (
	"fmt"
	"os"
)

// lockDir opens the lock file at path. On this system it takes no lock:
// nothing stops two processes from sharing a spool, so do not.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// syncDir makes the directory entries of dir durable where the system
// can sync a directory, and ignores the errors of those that cannot
// (Windows).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	f.Sync()
	return nil
}
