//go:build !linux

package testsrv

import "os/exec"

// setProcAttr does nothing here: only Linux can kill a server when the test
// process dies, so elsewhere a test binary killed by its timeout may leave a
// server running.
func setProcAttr(cmd *exec.Cmd) {}
