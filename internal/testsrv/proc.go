package testsrv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a server has to exit after SIGTERM before it is
// killed.
const stopGrace = 15 * time.Second

// process is one run of a server binary at a time, restartable with the same
// arguments. Its stdout and stderr are appended to logPath.
type process struct {
	name    string // for messages, e.g. "alertmanager[1]"
	path    string
	args    []string
	dir     string // working directory
	logPath string

	mu       sync.Mutex
	reported bool // the log's tail has been put in a failure message
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited; nil before the first start
	err      error         // cmd.Wait's result, set before done is closed
}

// start starts the process; it must not be running.
func (p *process) start() error {
	if p.running() {
		return fmt.Errorf("%s is already running", p.name)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "### testsrv %s: %s %s\n", time.Now().Format(time.RFC3339Nano), filepath.Base(p.path), strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the process has been started and not yet exited.
func (p *process) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// waitErr returns how the last run ended (nil while it runs).
func (p *process) waitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// stop sends SIGTERM (or SIGKILL if kill is set), waits for the process to
// exit, and kills it if it has not exited after stopGrace. It does nothing if
// the process is not running.
func (p *process) stop(kill bool) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := cmd.Process.Signal(sig); err != nil {
		<-done // it exited meanwhile
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(stopGrace):
	}
	cmd.Process.Kill()
	<-done
	return fmt.Errorf("%s did not exit within %v of SIGTERM and was killed", p.name, stopGrace)
}

// tail returns the last n lines of the log.
func (p *process) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// logReport is the tail of the log, headed with its name and path, for a
// failure message.
func (p *process) logReport() string {
	p.mu.Lock()
	p.reported = true
	p.mu.Unlock()
	return fmt.Sprintf("--- last lines of %s's log (%s) ---\n%s\n--- end of %s's log ---", p.name, p.logPath, p.tail(40), p.name)
}

// addrInUse reports whether the last run failed because a port was taken.
func (p *process) addrInUse() bool {
	return strings.Contains(p.tail(20), "address already in use")
}

// manage registers cleanups that stop p and, if the test failed and no
// failure message has shown the tail of p's log yet, print it.
func (p *process) manage(t testing.TB) {
	t.Cleanup(func() {
		p.mu.Lock()
		reported := p.reported
		p.mu.Unlock()
		if t.Failed() && !reported {
			t.Logf("testsrv: %s", p.logReport())
		}
	})
	t.Cleanup(func() {
		if err := p.stop(false); err != nil {
			t.Errorf("testsrv: %v", err)
		}
	})
}

// childEnv is the environment of a server: the test's, without proxies
// (every server talks to loopback only) and without Mailpit's MP_* settings,
// which would override its flags.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "MP_"):
		case strings.HasSuffix(strings.ToLower(k), "_proxy"):
		default:
			env = append(env, kv)
		}
	}
	return env
}
