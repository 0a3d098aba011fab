package rules

import (
	"context"
	goflag "flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/event"
)

// TestCatalogRuleTests runs every test of every catalogue rule, as
// `vigil rules test` does, and holds the catalogue to its invariants.
func TestCatalogRuleTests(t *testing.T) {
	cat, suites := catalogUnderTest(t)
	if len(cat) < 40 && os.Getenv("VIGIL_CATALOG_FILES") == "" {
		t.Errorf("the catalogue has %d rules", len(cat))
	}
	for _, r := range cat {
		m := r.Meta()
		t.Run(m.ID, func(t *testing.T) {
			if !strings.HasPrefix(m.ID, "aws-") || m.Description == "" || m.Runbook == "" || len(m.Tags) == 0 {
				t.Errorf("incomplete catalogue entry: %+v", m)
			}
			if _, pos, neg := r.Tests(); pos == 0 || neg == 0 {
				t.Errorf("needs at least one test that alerts and one that does not (%d, %d)", pos, neg)
			}
			for _, res := range r.RunTests(rulefile.Options{}) {
				if res.Err != nil {
					t.Errorf("%s:%d: %s: %v", res.File, res.Line, res.Name, res.Err)
				}
			}
		})
	}
	// The rules written in Go carry their tests in suites.
	suiteOf := map[string]bool{}
	for _, s := range suites {
		suiteOf[s.For] = true
		t.Run(s.For, func(t *testing.T) {
			if _, pos, neg := s.Tests(); pos == 0 || neg == 0 {
				t.Errorf("needs at least one test that alerts and one that does not (%d, %d)", pos, neg)
			}
			fresh := func(opts rulefile.Options) (detect.Rule, error) {
				r, ok, err := Fresh(s.For, opts)
				if err == nil && !ok {
					err = fmt.Errorf("no built-in rule %s", s.For)
				}
				return r, err
			}
			for _, res := range s.RunTests(rulefile.Options{}, fresh) {
				if res.Err != nil {
					t.Errorf("%s:%d: %s: %v", res.File, res.Line, res.Name, res.Err)
				}
			}
		})
	}
	if os.Getenv("VIGIL_CATALOG_FILES") == "" {
		goRules := append(All(), must(impossibleTravel(nil)))
		for _, r := range goRules {
			if id := r.Meta().ID; !suiteOf[id] {
				t.Errorf("built-in rule %s has no tests in the catalogue (tests_for: %s)", id, id)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBuiltInIDsAreUnique(t *testing.T) {
	all, _, err := BuiltIn(rulefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := detect.New(all); err != nil {
		t.Fatal(err)
	}
}

// stratusCovered maps each Stratus Red Team technique whose detonation the
// catalogue covers to the rules that must fire on its records.
var stratusCovered = map[string][]string{
	"aws.credential-access.ec2-get-password-data":                 {"aws-ec2-get-password-data"},
	"aws.credential-access.secretsmanager-batch-retrieve-secrets": {"aws-secretsmanager-batch-retrieval"},
	"aws.credential-access.secretsmanager-retrieve-secrets":       {"aws-secretsmanager-mass-retrieval"},
	"aws.credential-access.ssm-retrieve-securestring-parameters":  {"aws-ssm-parameters-mass-retrieval"},
	"aws.defense-evasion.cloudtrail-delete":                       {"aws-cloudtrail-deleted"},
	"aws.defense-evasion.cloudtrail-event-selectors":              {"aws-cloudtrail-coverage-reduced"},
	"aws.defense-evasion.cloudtrail-stop":                         {"aws-cloudtrail-stopped"},
	"aws.defense-evasion.dns-delete-logs":                         {"aws-route53-resolver-query-logging-deleted"},
	"aws.defense-evasion.organizations-leave":                     {"aws-organizations-leave"},
	"aws.defense-evasion.vpc-remove-flow-logs":                    {"aws-vpc-flow-logs-deleted"},
	"aws.discovery.ec2-download-user-data":                        {"aws-ec2-user-data-read"},
	"aws.execution.ec2-launch-unusual-instances":                  {"aws-ec2-unusual-instance-type"},
	"aws.execution.ec2-user-data":                                 {"aws-ec2-user-data-modified"},
	"aws.execution.ssm-send-command":                              {"aws-ssm-send-command"},
	"aws.execution.ssm-start-session":                             {"aws-ssm-start-session"},
	"aws.exfiltration.ec2-security-group-open-port-22-ingress":    {"aws-ec2-security-group-open-to-internet"},
	"aws.exfiltration.ec2-share-ami":                              {"aws-ec2-ami-shared"},
	"aws.exfiltration.ec2-share-ebs-snapshot":                     {"aws-ec2-snapshot-shared"},
	"aws.exfiltration.rds-share-snapshot":                         {"aws-rds-snapshot-shared"},
	"aws.impact.bedrock-invoke-model":                             {"aws-bedrock-model-invoked"},
	"aws.initial-access.console-login-without-mfa":                {"aws-signin-console-login-without-mfa"},
	"aws.lateral-movement.ec2-instance-connect":                   {"aws-ec2-instance-connect-key-sent"},
	"aws.lateral-movement.ec2-serial-console-send-ssh-public-key": {"aws-ec2-serial-console-key-sent"},
	"aws.persistence.iam-backdoor-role":                           {"aws-iam-role-trust-opened"},
	"aws.persistence.iam-backdoor-user":                           {"aws-iam-access-key-for-other-user"},
	"aws.persistence.iam-create-admin-user":                       {"aws-iam-admin-policy-attached"},
	"aws.persistence.iam-create-backdoor-role":                    {"aws-iam-role-trust-opened", "aws-iam-admin-policy-attached"},
	"aws.persistence.iam-create-user-login-profile":               {"aws-iam-console-access-created"},
	"aws.persistence.lambda-backdoor-function":                    {"aws-lambda-permission-opened"},
	"aws.persistence.lambda-layer-extension":                      {"aws-lambda-external-layer"},
	"aws.persistence.lambda-overwrite-code":                       {"aws-lambda-code-updated"},
	"aws.persistence.rolesanywhere-create-trust-anchor":           {"aws-rolesanywhere-trust-anchor-created"},
	"aws.persistence.sts-federation-token":                        {"aws-sts-federation-token"},
	"aws.privilege-escalation.iam-update-user-login-profile":      {"aws-iam-login-profile-updated-for-other-user"},
}

// stratusNotCovered says why the catalogue does not cover a technique.
var stratusNotCovered = map[string]string{
	"aws.credential-access.ec2-steal-instance-credentials": "an instance role's credentials used from outside the instance; telling the instance's own address from another needs the instance inventory (GuardDuty's InstanceCredentialExfiltration finding covers it, and is forwarded)",
}

// records decodes every record of one file, as a scan would.
func records(t *testing.T, path string) []*event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	d := decode.NewDecoder(decode.Limits{})
	var evs []*event.Event
	_, err = decode.Split(context.Background(), r, path, decode.Limits{}, func(batch []decode.Frame) error {
		for i := range batch {
			d.Decode(&batch[i], func(ev *event.Event, err error) bool {
				if err != nil {
					t.Errorf("%v", err)
					return true
				}
				evs = append(evs, ev)
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// alertsOn runs every built-in rule over events in order, settling
// stateful candidates as the pipeline does, with fresh state.
func alertsOn(t *testing.T, evs []*event.Event) []detect.Finding {
	t.Helper()
	all := builtInUnderTest(t)
	engine, err := detect.New(all)
	if err != nil {
		t.Fatal(err)
	}
	var out []detect.Finding
	for _, ev := range evs {
		fs, errs := engine.Eval(context.Background(), ev, nil)
		for _, e := range errs {
			t.Errorf("%v", e)
		}
		for _, f := range fs {
			if f.Pending == nil {
				out = append(out, f)
				continue
			}
			settled, err := engine.Settle(context.Background(), f)
			if err != nil {
				t.Errorf("%v", err)
			}
			out = append(out, settled...)
		}
	}
	return out
}

// TestStratusDetonations checks that every Stratus Red Team technique the
// catalogue covers raises its rules on the technique's real detonation
// log, and lists what fires, for review.
func TestStratusDetonations(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatal("no Stratus logs")
	}
	loaded := loadedIDs(t)
	for _, p := range paths {
		technique := strings.TrimSuffix(filepath.Base(p), ".json")
		want, covered := stratusCovered[technique]
		if os.Getenv("VIGIL_CATALOG_FILES") != "" {
			// Developing part of the catalogue: check only its rules.
			want = slices.DeleteFunc(slices.Clone(want), func(id string) bool { return !loaded[id] })
			if len(want) == 0 {
				continue
			}
		}
		if _, excused := stratusNotCovered[technique]; !covered && !excused {
			t.Errorf("%s: neither covered nor explained", technique)
			continue
		}
		fired := map[string]bool{}
		for _, f := range alertsOn(t, records(t, p)) {
			fired[f.Rule] = true
		}
		for _, id := range want {
			if !fired[id] {
				t.Errorf("%s: rule %s did not fire (fired: %v)", technique, id, sortedSet(fired))
			}
		}
	}
	for tech := range stratusCovered {
		if _, err := os.Stat("../../testdata/aws/cloudtrail/stratus-red-team-detonations/" + tech + ".json"); err != nil {
			t.Errorf("covered technique %s has no detonation log", tech)
		}
	}
}

// TestControlTowerIsQuiet checks that a day of real, benign Control Tower
// activity raises nothing above low.
func TestControlTowerIsQuiet(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/aws/cloudtrail/cribl-controltower/*.json.gz")
	if err != nil || len(paths) == 0 {
		t.Fatal("no Control Tower logs")
	}
	var evs []*event.Event
	for _, p := range paths {
		evs = append(evs, records(t, p)...)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	for _, f := range alertsOn(t, evs) {
		if f.Severity > detect.Low {
			t.Errorf("%s (%s) on benign %s %s: %s", f.Rule, f.Severity, f.Event.Action, f.Event.Origin, f.Title)
		}
	}
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// catalogUnderTest is the embedded catalogue or, while rules are being
// written, the files VIGIL_CATALOG_FILES names (comma-separated, relative to
// the repository root), so one part can be tested while another is broken:
//
//	VIGIL_CATALOG_FILES=internal/rules/catalog/iam.yaml go test ./internal/rules
func catalogUnderTest(t *testing.T) ([]*rulefile.Rule, []*rulefile.Suite) {
	t.Helper()
	files := os.Getenv("VIGIL_CATALOG_FILES")
	if files == "" {
		cat, suites, err := Catalog(rulefile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return cat, suites
	}
	var rules []*rulefile.Rule
	var suites []*rulefile.Suite
	for _, f := range strings.Split(files, ",") {
		if !filepath.IsAbs(f) {
			f = filepath.Join("../..", f)
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := rulefile.ParseFile(f, src, rulefile.Options{Origin: "built-in"})
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, pf.Rules...)
		suites = append(suites, pf.Suites...)
	}
	return rules, suites
}

func builtInUnderTest(t *testing.T) []detect.Rule {
	t.Helper()
	out := All()
	travel, err := impossibleTravel(nil)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, travel)
	cat, _ := catalogUnderTest(t)
	for _, r := range cat {
		out = append(out, r)
	}
	return out
}

func loadedIDs(t *testing.T) map[string]bool {
	ids := map[string]bool{}
	for _, r := range builtInUnderTest(t) {
		ids[r.Meta().ID] = true
	}
	return ids
}

// TestCatalogCompilesWithoutTests holds the catalogue files to the layout
// StripTests relies on: compiled for running, without their tests, every
// file gives the same rules, at the same lines, as compiled whole.
func TestCatalogCompilesWithoutTests(t *testing.T) {
	names, err := fs.Glob(catalogFS, "catalog/*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	for _, n := range names {
		src, err := catalogFS.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := rulefile.ParseFile(n, src, rulefile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rulefile.ParseFile(n, rulefile.StripTests(src), rulefile.Options{}); err != nil && len(whole.Suites) == 0 {
			t.Errorf("%s: does not parse without its tests: %v", n, err)
		}
		untested, err := rulefile.ParseFileUntested(n, src, rulefile.Options{SkipTests: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(untested.Suites) != 0 || len(untested.Rules) != len(whole.Rules) {
			t.Fatalf("%s: %d rules and %d suites without tests, %d rules whole", n, len(untested.Rules), len(untested.Suites), len(whole.Rules))
		}
		for i, r := range untested.Rules {
			w := whole.Rules[i]
			if total, _, _ := r.Tests(); total != 0 {
				t.Errorf("%s: %s kept %d tests", n, r.Meta().ID, total)
			}
			f1, l1 := r.File()
			f2, l2 := w.File()
			if !reflect.DeepEqual(r.Meta(), w.Meta()) || !slices.Equal(r.Keys(), w.Keys()) || f1 != f2 || l1 != l2 {
				t.Errorf("%s: rule %d differs without its tests: %+v at %s:%d, whole %+v at %s:%d", n, i, r.Meta(), f1, l1, w.Meta(), f2, l2)
			}
		}
	}
}

var update = goflag.Bool("update", false, "rewrite catalog.checked")

// TestCheckedIsCurrent holds catalog.checked to the catalogue: it holds
// every expression the catalogue compiles, nothing else, each checked as
// the current rule environment checks it; and the catalogue compiles from
// it to the same rules as from the expressions' text.
func TestCheckedIsCurrent(t *testing.T) {
	col := rulefile.NewChecked()
	if _, _, err := Catalog(rulefile.Options{Collect: col}); err != nil {
		t.Fatal(err)
	}
	if *update {
		b, err := col.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("catalog.checked", b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d expressions, %d bytes", col.Len(), len(b))
		return
	}
	const fix = "regenerate it: go test ./internal/rules -run TestCheckedIsCurrent -update"
	held, err := rulefile.UnmarshalChecked(catalogChecked)
	if err != nil {
		t.Fatalf("catalog.checked: %v; %s", err, fix)
	}
	if got, want := held.Exprs(), col.Exprs(); !slices.Equal(got, want) {
		t.Errorf("catalog.checked holds %d expressions, the catalogue compiles %d; %s", len(got), len(want), fix)
	}
	if err := held.Verify(); err != nil {
		t.Errorf("catalog.checked: %v; %s", err, fix)
	}
	if checked() == nil {
		t.Error("the catalogue does not use catalog.checked")
	}
	// The same rules, compiled either way.
	fromText, _, err := Catalog(rulefile.Options{Checked: rulefile.NewChecked()})
	if err != nil {
		t.Fatal(err)
	}
	fromChecked, _, err := Catalog(rulefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fromText) != len(fromChecked) {
		t.Fatalf("%d rules from text, %d from checked", len(fromText), len(fromChecked))
	}
	for i := range fromText {
		if !reflect.DeepEqual(fromText[i].Meta(), fromChecked[i].Meta()) {
			t.Errorf("rule %d differs: %+v, %+v", i, fromText[i].Meta(), fromChecked[i].Meta())
		}
	}
}
