package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-sec/vigil/internal/awsip"
)

const ipRangesUsage = `Usage: vigil ip-ranges update [--url URL] [--out PATH]

Downloads AWS's published IP ranges (ip-ranges.json), checks that they
parse, and replaces PATH with them atomically: a reader of PATH sees the
old file or the new one, never a part. Vigil reads the file at start to say
which addresses are AWS's (service, region); it never downloads at run
time, so run this from cron or CI.

Flags:
`

// defaultIPRangesURL is where AWS publishes its ranges.
const defaultIPRangesURL = "https://ip-ranges.amazonaws.com/ip-ranges.json"

// defaultIPRangesPath is where Vigil keeps them unless told otherwise.
const defaultIPRangesPath = "vigil-data/ip-ranges.json"

// maxIPRangesBytes bounds the download: AWS's file is 2.6 MB in 2026.
const maxIPRangesBytes = 64 << 20

func ipRangesCommand(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "update" {
		fmt.Fprint(env.Stderr, ipRangesUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return usagef("ip-ranges: the command is update")
	}
	fs := flag.NewFlagSet("vigil ip-ranges update", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	url := fs.String("url", defaultIPRangesURL, "where to download ip-ranges.json from")
	out := fs.String("out", defaultIPRangesPath, "the file to replace")
	timeout := fs.Duration("timeout", time.Minute, "give up the download after this long")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, ipRangesUsage)
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("ip-ranges update: unexpected argument %q", pos[0])
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	data, err := download(ctx, *url)
	if err != nil {
		return fmt.Errorf("ip-ranges update: %w", err)
	}
	ranges, err := awsip.Parse(data)
	if err != nil {
		return fmt.Errorf("ip-ranges update: %s: %w", *url, err)
	}
	if old, err := awsip.Load(*out); err == nil && old.SyncToken == ranges.SyncToken {
		fmt.Fprintf(env.Stdout, "%s is current: syncToken %s (created %s), %d prefixes\n", *out, ranges.SyncToken, ranges.CreateDate.Format(time.DateTime), ranges.Len())
		return nil
	}
	if err := writeAtomic(*out, data); err != nil {
		return fmt.Errorf("ip-ranges update: %w", err)
	}
	fmt.Fprintf(env.Stdout, "updated %s: syncToken %s (created %s), %d prefixes\n", *out, ranges.SyncToken, ranges.CreateDate.Format(time.DateTime), ranges.Len())
	return nil
}

// download fetches url, refusing anything but a 200 and bodies over the
// limit.
func download(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "vigil/"+Version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIPRangesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if len(data) > maxIPRangesBytes {
		return nil, fmt.Errorf("%s: more than %d bytes", url, maxIPRangesBytes)
	}
	return data, nil
}

// writeAtomic replaces path with data: written to a temporary file beside
// it, synced, then renamed over it, and the directory synced.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
