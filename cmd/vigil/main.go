// Command vigil is a real-time AWS security monitor. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/vigil-sec/vigil/internal/cli"
)

func main() {
	// Vigil keeps little live data (batches in flight), so Go's default GC
	// target makes the collector run constantly; trade some memory for
	// speed unless the user set GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// ...but keep the heap near 128 MiB when the live data allows, so a
	// scan stays a good neighbour; GOMEMLIMIT overrides.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
	// The first interrupt cancels the work; once it has, signals take their
	// default action again, so a second ^C always ends the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
