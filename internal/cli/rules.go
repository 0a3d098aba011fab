package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/event"
)

const rulesUsage = `Usage: vigil rules COMMAND [flags] [PATH...]

Work with detection rules: the built-in ones, and user rules (Vigil YAML
rules and Sigma rules) in the files and directories PATH names.

Commands:
  list   list rules: id, severity, where it comes from, tags, title
  test   run every rule's tests; exit 1 if any fails
  lint   check rule files: schema errors with file:line, unknown keys,
         which Sigma rules load and why the others do not

Run "vigil rules COMMAND -h" for a command's flags.
`

func rulesCommand(args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, rulesUsage)
		return usagef("rules: no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "list":
		return rulesList(rest, env)
	case "test":
		return rulesTest(rest, env)
	case "lint":
		return rulesLint(rest, env)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, rulesUsage)
		return nil
	default:
		fmt.Fprint(env.Stderr, rulesUsage)
		return usagef("rules: unknown command %q", cmd)
	}
}

func rulesFlagSet(name, usage string, env Env, rf *ruleFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil rules "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	rf.register(fs, false)
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

const rulesListUsage = `Usage: vigil rules list [--format text|json] [--config FILE] [PATH...]

List the built-in rules and the user rules under PATH.

Flags:
`

// ruleInfo is a rule as `vigil rules list --format json` shows it.
type ruleInfo struct {
	ID          string   `json:"id"`
	Severity    string   `json:"severity"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Runbook     string   `json:"runbook,omitempty"`
	Tags        []string `json:"tags"`
	Origin      string   `json:"origin"`
	Tests       int      `json:"tests"`
	Stateful    bool     `json:"stateful,omitempty"`
	// Index says which events the engine shows the rule: "call" (its
	// event sources and names), "source" (its event sources), "kind" (its
	// kinds of event: findings, flow records) or "all".
	Index string `json:"index"`
}

func rulesList(args []string, env Env) error {
	var rf ruleFlags
	fs := rulesFlagSet("list", rulesListUsage, env, &rf)
	format := fs.String("format", "text", "output `format`: text or json")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("rules list: --format must be text or json, not %q", *format)
	}
	s, err := newSetup(rf, paths, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.rules.Errors(); err != nil {
		return err
	}
	var infos []ruleInfo
	for _, r := range s.rules.Rules {
		m := r.Meta()
		infos = append(infos, ruleInfo{
			ID: m.ID, Severity: m.Severity.String(), Title: m.Title, Description: m.Description, Runbook: m.Runbook,
			Tags: nonNil(m.Tags), Origin: s.rules.Origin[m.ID], Tests: s.rules.Tested(m.ID), Stateful: stateful(r), Index: indexOf(r),
		})
	}
	slices.SortStableFunc(infos, func(a, b ruleInfo) int { return strings.Compare(a.ID, b.ID) })
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tORIGIN\tTESTS\tTAGS\tTITLE")
	for _, i := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", printable(i.ID), i.Severity, printable(i.Origin), i.Tests, printable(strings.Join(i.Tags, ",")), printable(i.Title))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "%s\n", plural(len(infos), "rule"))
	return nil
}

// findingRule reports a rule about findings or flow records, which have
// no event names to index by.
func findingRule(r detect.Rule) bool {
	keys := r.Keys()
	for _, k := range keys {
		if k.Kind == event.KindCloudTrail || k.Kind == event.KindSignIn {
			return false
		}
	}
	return len(keys) > 0
}

// stateful reports whether a rule remembers events (thresholds, first
// seen values, deduplication).
func stateful(r detect.Rule) bool {
	if s, ok := r.(interface{ Stateful() bool }); ok {
		return s.Stateful()
	}
	_, ok := r.(detect.Stateful)
	return ok
}

// indexOf says how narrowly the engine's index routes events to a rule.
func indexOf(r detect.Rule) string {
	keys := r.Keys()
	if len(keys) == 0 {
		return "all"
	}
	index := "call"
	for _, k := range keys {
		api := k.Kind == event.KindCloudTrail || k.Kind == event.KindSignIn
		switch {
		case api && k.Service == "":
			return "kind"
		case api && k.Action == "":
			index = "source"
		case !api && index == "call":
			index = "kind"
		}
	}
	return index
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

const rulesTestUsage = `Usage: vigil rules test [--run REGEXP] [--config FILE] [PATH...]

Run the tests of the built-in rules and of the user rules under PATH, and
print a line per test. Exit status 1 if a test fails or a rule file does
not load.

Flags:
`

func rulesTest(args []string, env Env) error {
	var rf ruleFlags
	fs := rulesFlagSet("test", rulesTestUsage, env, &rf)
	run := fs.String("run", "", "run only the tests of rules whose id matches this `regexp`")
	quiet := fs.Bool("q", false, "print only failures and the summary")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	var only *regexp.Regexp
	if *run != "" {
		if only, err = regexp.Compile(*run); err != nil {
			return usagef("rules test: --run: %v", err)
		}
	}
	s, err := newSetup(rf, paths, false)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, p := range s.rules.Problems {
		fmt.Fprintf(env.Stderr, "vigil: %s\n", printable(p.Error()))
	}
	if only != nil {
		var ids []string
		for _, r := range s.rules.Rules {
			if id := r.Meta().ID; only.MatchString(id) {
				ids = append(ids, id)
			}
		}
		s.rules.Select(ids)
		s.rules.Suites = slices.DeleteFunc(s.rules.Suites, func(su *rulefile.Suite) bool { return !only.MatchString(su.For) })
	}
	results := s.rules.RunTests(rulefile.Options{Config: s.cfg})
	failed := 0
	tested := map[string]bool{}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	for _, res := range results {
		tested[res.Rule] = true
		if res.Err != nil {
			failed++
			fmt.Fprintf(tw, "FAIL\t%s\t%s\t%s:%d: %s\n", printable(res.Rule), printable(res.Name), printable(res.File), res.Line, printable(res.Err.Error()))
		} else if !*quiet {
			fmt.Fprintf(tw, "ok\t%s\t%s\t\n", printable(res.Rule), printable(res.Name))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var untested []string
	for _, r := range s.rules.Rules {
		if id := r.Meta().ID; !tested[id] {
			untested = append(untested, id)
		}
	}
	fmt.Fprintf(env.Stdout, "\n%s of %s: %d passed, %d failed", plural(len(results), "test"), plural(len(tested), "rule"), len(results)-failed, failed)
	if len(untested) > 0 {
		fmt.Fprintf(env.Stdout, "; %s without tests", plural(len(untested), "rule"))
		if len(untested) <= 5 {
			fmt.Fprintf(env.Stdout, " (%s)", printable(strings.Join(untested, ", ")))
		}
	}
	fmt.Fprintln(env.Stdout)
	switch {
	case failed > 0:
		return errFindings
	case len(s.rules.Problems) > 0:
		return fmt.Errorf("%w: %s did not load", errFindings, plural(len(s.rules.Problems), "rule file"))
	}
	return nil
}

const rulesLintUsage = `Usage: vigil rules lint [--config FILE] [PATH...]

Check the rule files under PATH (and the configuration's): report every
schema error with its file and line, unknown keys, duplicate ids, rules the
engine cannot index, and which Sigma rules load and why the others do not.
Exit status 1 if a rule file has an error.

Flags:
`

func rulesLint(args []string, env Env) error {
	var rf ruleFlags
	fs := rulesFlagSet("lint", rulesLintUsage, env, &rf)
	verbose := fs.Bool("v", false, "also list the rules that load")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	s, err := newSetup(rf, paths, false)
	if err != nil {
		return err
	}
	defer s.Close()
	w := env.Stdout
	for _, p := range s.rules.Problems {
		// One problem per "error:" line; a problem of several lines (a
		// CEL syntax error with its caret) continues indented.
		for _, perr := range unjoin(p) {
			for i, line := range strings.Split(perr.Error(), "\n") {
				prefix := "error: "
				if i > 0 {
					prefix = "         "
				}
				fmt.Fprintf(w, "%s%s\n", prefix, printable(line))
			}
		}
	}
	for _, p := range s.rules.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", printable(p.Error()))
	}
	user, sigmas := 0, 0
	for _, r := range s.rules.Rules {
		origin := s.rules.Origin[r.Meta().ID]
		if origin == "built-in" {
			continue
		}
		user++
		if strings.HasPrefix(origin, "sigma:") {
			sigmas++
		}
		switch indexOf(r) {
		case "source":
			fmt.Fprintf(w, "note: %s: rule %s does not pin eventName to exact values, so every call to its event sources is shown to it\n", printable(strings.TrimPrefix(origin, "sigma:")), printable(r.Meta().ID))
		case "kind", "all":
			if !findingRule(r) {
				fmt.Fprintf(w, "note: %s: rule %s does not pin eventSource and eventName to exact values, so every event is shown to it\n", printable(strings.TrimPrefix(origin, "sigma:")), printable(r.Meta().ID))
			}
		}
		if *verbose {
			fmt.Fprintf(w, "ok: %s: %s\n", printable(strings.TrimPrefix(origin, "sigma:")), printable(r.Meta().ID))
		}
	}
	fmt.Fprintf(w, "%s read: %s loaded (%d Sigma), %s, %s skipped\n",
		plural(s.rules.Files, "file"), plural(user, "rule"), sigmas, plural(len(s.rules.Problems), "error"), plural(len(s.rules.Skipped), "Sigma rule"))
	if len(s.rules.Problems) > 0 {
		return errFindings
	}
	return nil
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
