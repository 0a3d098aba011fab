package testsrv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/vigil-sec/vigil"

// Binary returns the path of the server binary called name (for example
// "alertmanager" or "mailpit") in $VIGIL_TOOLS, or in .cache/tools/bin at the
// repository root when VIGIL_TOOLS is unset. When the binary is missing it
// fails the test if VIGIL_REQUIRE_SERVERS=1 or CI is set (to anything but
// "", "0" or "false"), and skips it otherwise.
func Binary(t testing.TB, name string) string {
	t.Helper()
	dir, err := toolsDir()
	if err == nil {
		path := filepath.Join(dir, name)
		var fi os.FileInfo
		fi, err = os.Stat(path)
		switch {
		case err != nil:
		case !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0:
			err = fmt.Errorf("%s is not an executable file", path)
		default:
			return path
		}
	}
	msg := fmt.Sprintf("testsrv: server binary %q not found (%v); run scripts/tools.sh or make test", name, err)
	if serversRequired() {
		t.Fatalf("%s; VIGIL_REQUIRE_SERVERS=1 or CI is set, so the test may not skip", msg)
	}
	t.Skipf("%s", msg)
	return ""
}

// serversRequired reports whether a missing server binary fails the test
// rather than skipping it.
func serversRequired() bool {
	if os.Getenv("VIGIL_REQUIRE_SERVERS") == "1" {
		return true
	}
	switch os.Getenv("CI") {
	case "", "0", "false":
		return false
	}
	return true
}

// toolsDir returns the directory that holds the server binaries.
func toolsDir() (string, error) {
	if dir := os.Getenv("VIGIL_TOOLS"); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("VIGIL_TOOLS is unset and %w", err)
	}
	return filepath.Join(root, ".cache", "tools", "bin"), nil
}

// repoRoot walks up from the working directory to the directory whose go.mod
// declares modulePath.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if goModModule(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above %s", modulePath, wd)
		}
		dir = parent
	}
}

// goModModule returns the module path declared in the go.mod file at path,
// or "" if there is none.
func goModModule(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`+"`")
		}
	}
	return ""
}

// portsGiven holds the ports FreePort has returned in this process, so that
// two servers of one test binary never get the same port. It is the
// package's only mutable state.
var portsGiven struct {
	sync.Mutex
	m map[int]bool
}

// FreePort returns a port on 127.0.0.1 that is free for both TCP and UDP
// (Alertmanager's gossip uses both on one port) and that FreePort has not
// returned before in this process. Another process may still take it before
// the server binds it; the server constructors retry with new ports when that
// happens.
func FreePort(t testing.TB) int {
	t.Helper()
	portsGiven.Lock()
	defer portsGiven.Unlock()
	if portsGiven.m == nil {
		portsGiven.m = make(map[int]bool)
	}
	var lastErr error
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testsrv: FreePort: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err != nil {
			lastErr = err
			continue
		}
		u.Close()
		if portsGiven.m[port] {
			continue
		}
		portsGiven.m[port] = true
		return port
	}
	t.Fatalf("testsrv: FreePort: no free TCP+UDP port on 127.0.0.1 after 50 tries (last error: %v)", lastErr)
	return 0
}

// httpClient talks to the servers on loopback, never through a proxy.
var httpClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// errNotYet is what a poll condition returns while it is not yet met and has
// nothing better to say.
var errNotYet = errors.New("not yet")

// poll calls cond every interval until it returns nil, one of procs exits, or
// timeout passes; it returns nil or why it stopped, with cond's last error.
func poll(timeout, interval time.Duration, cond func() error, procs ...*process) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		for _, p := range procs {
			if !p.running() {
				return fmt.Errorf("%s exited (%v) while waiting: %w", p.name, p.waitErr(), err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		<-tick.C
	}
}
