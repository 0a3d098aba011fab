// Package cli implements Vigil's command line. Run is the whole program
// behind main, so commands are tested in-process with their exit codes and
// output.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Exit statuses. Run maps errors to them in one place, exitCode.
const (
	ExitOK       = 0 // success
	ExitFindings = 1 // an alert at or above --fail-on was raised
	ExitError    = 2 // usage, configuration or I/O error
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Env is what a command may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// usageError is a mistake in how the command was invoked.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errFindings reports alerts at or above --fail-on.
var errFindings = errors.New("alerts at or above the --fail-on severity")

// errIncomplete reports a run that finished but could not read everything.
var errIncomplete = errors.New("some inputs could not be read")

const mainUsage = `Vigil watches AWS for security events: public S3 buckets and more.

Usage:
  vigil scan [flags] PATH... | -   scan CloudTrail, GuardDuty, Access Analyzer
                                   and VPC Flow Logs files for alerts
  vigil rules list [PATH...]       list the built-in rules and user rules
  vigil rules test [PATH...]       run the rules' tests
  vigil rules lint [PATH...]       check user rule files (Vigil and Sigma)
  vigil ip-ranges update           download AWS's IP ranges (ip-ranges.json)
  vigil notify test                send a test alert to every receiver
  vigil alerts queue|dead|retry    notifications waiting, dead letters, re-sending
  vigil serve                      run as a service: HTTP/SNS ingest, SQS, a watched folder, API
  vigil lambda                     run as an AWS Lambda function (detected in Lambda too)
  vigil config check FILE          check a configuration file
  vigil version                    print the version

Run "vigil COMMAND -h" for a command's flags.
`

// Run runs the vigil command line and returns the exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) > 0 {
		args = args[1:] // program name
	}
	err := run(ctx, args, env)
	return exitCode(err, env.Stderr)
}

func run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 && inLambda() {
		// Lambda starts the bootstrap without arguments.
		return lambdaCommand(ctx, nil, env)
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, mainUsage)
		return usagef("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "scan":
		return scanCommand(ctx, rest, env)
	case "rules":
		return rulesCommand(rest, env)
	case "ip-ranges":
		return ipRangesCommand(ctx, rest, env)
	case "notify":
		return notifyCommand(ctx, rest, env)
	case "alerts":
		return alertsCommand(ctx, rest, env)
	case "config":
		return configCommand(rest, env)
	case "serve":
		return serveCommand(ctx, rest, env)
	case "lambda":
		return lambdaCommand(ctx, rest, env)
	case "version", "--version":
		fmt.Fprintf(env.Stdout, "vigil %s\n", Version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, mainUsage)
		return nil
	default:
		fmt.Fprint(env.Stderr, mainUsage)
		return usagef("unknown command %q", cmd)
	}
}

// exitCode maps an error to an exit status, reporting it on stderr.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errFindings):
		return ExitFindings
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return ExitError
	case errors.Is(err, errIncomplete):
		return ExitError // the reasons were reported as they happened
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "vigil: interrupted")
		return ExitError
	default:
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return ExitError
	}
}

// parseFlags parses flags that may come before, between or after the
// positional arguments ("vigil scan logs/ --format json"), as users type
// them. "--" ends flag parsing.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
