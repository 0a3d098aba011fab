package testsrv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// S3Server is a running versitygw, an S3 gateway that serves a directory as
// S3 (its POSIX backend: each bucket a directory, each object a file, the
// metadata in extended attributes), with SigV4 authentication of one root
// account. It is stopped when the test ends.
//
// versitygw was checked here with aws-sdk-go-v2: CreateBucket, PutObject,
// ListObjectsV2 with a prefix, MaxKeys and continuation tokens, GetObject,
// keys with spaces, "+" and non-ASCII characters, and wrong credentials
// refused. What it does not do, or does differently from AWS:
//
//   - ListObjectsV2 lists keys in the order of a walk of the directory tree,
//     not in S3's byte order: "a/b" comes before "a-b". Callers that need
//     S3's order sort.
//   - A key ending in "/" is a directory: it can be created only empty (a
//     "folder" marker), and keys cannot contain empty or "." or ".."
//     segments.
//   - No bucket notifications, versioning unless configured, or object
//     lock; one region, us-east-1.
//   - The directory's file system must support user extended attributes
//     (ext4 and tmpfs do).
type S3Server struct {
	awsEndpoint
	// Dir is the gateway's root directory: each bucket is a directory in
	// it.
	Dir string

	proc *process
}

// VersityGW starts versitygw on 127.0.0.1 over a fresh directory in
// t.TempDir(), with a random root access key and secret, and waits until it
// answers. It stops the gateway when the test ends and prints its log if
// the test failed.
func VersityGW(t testing.TB) *S3Server {
	t.Helper()
	bin := Binary(t, "versitygw")
	dir := t.TempDir()
	s := &S3Server{Dir: filepath.Join(dir, "root")}
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatalf("testsrv: %v", err)
	}
	var key, secret [12]byte
	rand.Read(key[:])
	rand.Read(secret[:])
	s.Region = "us-east-1"
	s.AccessKey, s.SecretKey = "AKIA"+hex.EncodeToString(key[:]), hex.EncodeToString(secret[:])
	s.proc = &process{name: "versitygw", path: bin, dir: dir, logPath: filepath.Join(dir, "versitygw.log")}
	s.proc.manage(t)
	for attempt := 1; ; attempt++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
		s.URL = "http://" + addr
		s.proc.args = []string{
			"--port", addr,
			"--access", s.AccessKey, "--secret", s.SecretKey,
			"--region", s.Region,
			"posix", s.Dir,
		}
		if err := s.proc.start(); err != nil {
			t.Fatalf("testsrv: %v", err)
		}
		err := poll(startTimeout, 50*time.Millisecond, func() error { return httpReady(s.URL + "/") }, s.proc)
		if err == nil {
			return s
		}
		s.proc.stop(true)
		if attempt < 3 && s.proc.addrInUse() {
			t.Logf("testsrv: versitygw: the port was taken, retrying with another")
			continue
		}
		t.Fatalf("testsrv: versitygw did not start: %v\n%s", err, s.proc.logReport())
	}
}
