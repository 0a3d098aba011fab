package lambda_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the Lambda adapter small, as it is built for Lambda
// (docs/lambda.md): it must not pull in the HTTP server and UI or the CLI,
// and with lambda.norpc aws-lambda-go must leave out its net/rpc mode.
func TestDeps(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/vigil-sec/vigil/internal/server",
		"github.com/vigil-sec/vigil/internal/cli",
		"net/rpc",
		"net/http/pprof",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("internal/lambda depends on %s", dep)
			}
		}
	}
}
