package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/internal/rules"
)

const rulesUsage = `Usage: vigil rules list [--format text|json]

List the built-in detection rules.
`

func rulesCommand(args []string, env Env) error {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprint(env.Stderr, rulesUsage)
		if len(args) == 0 {
			return usagef("rules: no subcommand given")
		}
		return usagef("rules: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("vigil rules list", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	format := fs.String("format", "text", "output `format`: text or json")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, rulesUsage)
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("rules list: unexpected argument %q", rest[0])
	}
	var metas []any
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	if *format == "text" {
		fmt.Fprintln(tw, "ID\tSEVERITY\tSOURCE\tTAGS\tTITLE")
	}
	for _, r := range rules.All() {
		m := r.Meta()
		switch *format {
		case "json":
			metas = append(metas, m)
		case "text":
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Severity, "built-in", strings.Join(m.Tags, ","), m.Title)
		default:
			return usagef("rules list: --format must be text or json, not %q", *format)
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(metas)
	}
	return tw.Flush()
}
