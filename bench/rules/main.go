// Command rules generates user rules for the rule-scaling benchmark: -n
// Vigil YAML rules, written as a user would write them: exact calls with
// CEL conditions, anything-but, cidr and prefix matchers, allow lists,
// thresholds and deduplication; one rule in ten is indexed by its event
// source only. The output depends only on the flags.
//
// -calls chooses what the rules are about:
//
//   - mixed (the default): the calls security teams write rules for, those
//     the built-in catalogue and the SigmaHQ CloudTrail rules name, and the
//     calls in the real records the corpus replays;
//
//   - corpus: only the calls in the corpus, so that every rule meets
//     events: the worst case, about 20 user rules per event.
//
//     go run ./bench/rules -out bench/out/rules -n 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/ruleset"
)

type call struct{ service, action string }

func main() {
	out := flag.String("out", "bench/out/rules", "output `directory`")
	src := flag.String("src", "testdata/aws/cloudtrail", "`directory` of real CloudTrail data whose calls the rules are about")
	n := flag.Int("n", 1000, "number of `rules`")
	perFile := flag.Int("per-file", 50, "`rules` per file")
	seed := flag.Uint64("seed", 1, "random `seed`")
	which := flag.String("calls", "mixed", "what the rules are about: `mixed` or corpus")
	sigmaDir := flag.String("sigma", "internal/detect/sigma/testdata/sigmahq", "`directory` of Sigma rules whose calls join the mixed set")
	flag.Parse()

	calls, err := loadCalls(*src)
	if err != nil {
		log.Fatal(err)
	}
	switch *which {
	case "corpus":
	case "mixed":
		named, err := namedCalls(*sigmaDir)
		if err != nil {
			log.Fatal(err)
		}
		calls = union(calls, named)
	default:
		log.Fatalf("-calls must be mixed or corpus, not %q", *which)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(*seed, *seed^0x5851f42d4c957f2d))
	var b strings.Builder
	files := 0
	flush := func() {
		if b.Len() == 0 {
			return
		}
		name := filepath.Join(*out, fmt.Sprintf("user-rules-%03d.yaml", files))
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			log.Fatal(err)
		}
		files++
		b.Reset()
	}
	for i := range *n {
		if i > 0 && i%*perFile == 0 {
			flush()
		}
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		writeRule(&b, i, calls[rng.IntN(len(calls))], rng)
	}
	flush()
	fmt.Printf("wrote %d rules in %d files about %d distinct calls to %s\n", *n, files, len(calls), *out)
}

// writeRule writes one rule as organisations write them: about one API
// call, with a condition that narrows it to what matters to them (a
// principal, a bucket, an address range) and so rarely holds. The
// conditions do the work real ones do (fields of the event and of the
// record, address functions, thresholds and dedup state) on every event
// of their call.
func writeRule(b *strings.Builder, i int, c call, rng *rand.Rand) {
	sev := []string{"low", "medium", "high"}[rng.IntN(3)]
	who := fmt.Sprintf("user-%04d", rng.IntN(10000))
	fmt.Fprintf(b, "id: user-%04d-%s\n", i, strings.ToLower(c.action))
	fmt.Fprintf(b, "title: '%s by {{ .event.actor.name }} in {{ .event.account }}'\n", c.action)
	fmt.Fprintf(b, "description: Generated rule %d about %s %s.\n", i, c.service, c.action)
	fmt.Fprintf(b, "severity: %s\ntags: [bench]\n", sev)
	fmt.Fprintf(b, "match:\n  eventSource: [%s]\n", c.service)
	switch i % 10 {
	case 0, 1, 2:
		fmt.Fprintf(b, "  eventName: [%s]\n", c.action)
		fmt.Fprintf(b, "condition: '!has(event.error_code) && event.actor.type != \"AWSService\" && event.actor.name == \"%s\"'\n", who)
	case 3, 4:
		fmt.Fprintf(b, "  eventName: [%s]\n", c.action)
		b.WriteString("  userIdentity:\n    type: [{anything-but: [AWSService]}]\n")
		fmt.Fprintf(b, "  sourceIPAddress: [{cidr: \"198.51.%d.0/24\"}]\n", rng.IntN(256))
		fmt.Fprintf(b, "allow:\n  actors: ['arn:aws:iam::*:role/Automation%d*']\n  ips: [192.0.2.0/24]\n", i)
	case 5:
		// Indexed by event source only: a prefix of the event name.
		fmt.Fprintf(b, "  eventName: [{prefix: %q}]\n", c.action[:min(3, len(c.action))])
		b.WriteString("condition: 'event.region in [\"us-east-1\", \"eu-west-1\", \"ap-southeast-2\"] && event.actor.type == \"Root\"'\n")
	case 6:
		fmt.Fprintf(b, "  eventName: [%s]\n", c.action)
		fmt.Fprintf(b, "threshold:\n  group_by: 'event.account + \"/\" + event.actor.name'\n  count: %d\n  window: 5m\n", 500+rng.IntN(500))
	case 7:
		fmt.Fprintf(b, "  eventName: [%s]\n", c.action)
		fmt.Fprintf(b, "condition: 'event.actor.name.startsWith(\"%s\")'\n", who)
		b.WriteString("dedup:\n  key: 'event.account + \"/\" + event.actor.name'\n  window: 1h\n")
	case 8:
		fmt.Fprintf(b, "  eventName: [%s]\n", c.action)
		b.WriteString("  errorCode: [{exists: false}]\n")
		fmt.Fprintf(b, "condition: 'has(record.requestParameters) && record.requestParameters != null && \"acme-%d\" in record.requestParameters'\n", rng.IntN(1000))
	case 9:
		fmt.Fprintf(b, "  eventName: [%s]\n", c.action)
		b.WriteString("  awsRegion: [{wildcard: \"*-*-*\"}]\n")
		fmt.Fprintf(b, "condition: 'has(event.source_ip) && !is_private_ip(event.source_ip) && in_cidr(event.source_ip, [\"203.0.%d.0/24\", \"2001:db8:%x::/48\"])'\n", rng.IntN(256), rng.IntN(65536))
		b.WriteString("details:\n  ip: 'event.source_ip'\n")
	}
}

// namedCalls returns the calls the built-in rules and the Sigma rules in
// dir pin by exact eventSource and eventName.
func namedCalls(dir string) ([]call, error) {
	set, err := ruleset.Load([]string{dir}, rulefile.Options{})
	if err != nil {
		return nil, err
	}
	var out []call
	for _, r := range set.Rules {
		for _, k := range r.Keys() {
			if k.Service != "" && k.Action != "" {
				out = append(out, call{k.Service, k.Action})
			}
		}
	}
	return out, nil
}

// union returns the distinct calls of a and b, sorted.
func union(a, b []call) []call {
	seen := map[call]bool{}
	var out []call
	for _, c := range append(a, b...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sortCalls(out)
	return out
}

func sortCalls(calls []call) {
	sort.Slice(calls, func(i, j int) bool {
		if calls[i].service != calls[j].service {
			return calls[i].service < calls[j].service
		}
		return calls[i].action < calls[j].action
	})
}

// loadCalls returns the distinct API calls in the CloudTrail data under dir.
func loadCalls(dir string) ([]call, error) {
	seen := map[call]bool{}
	d := decode.NewDecoder(decode.Limits{})
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.HasSuffix(path, ".md") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = decode.Split(context.Background(), f, path, decode.Limits{}, func(batch []decode.Frame) error {
			for i := range batch {
				d.Decode(&batch[i], func(ev *event.Event, err error) bool {
					if err == nil && ev.Kind == event.KindCloudTrail && ev.Service != "" && ev.Action != "" {
						seen[call{ev.Service, ev.Action}] = true
					}
					return true
				})
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	calls := make([]call, 0, len(seen))
	for c := range seen {
		calls = append(calls, c)
	}
	sortCalls(calls)
	return calls, nil
}
