package rulefile

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to the rule file compiler: it must
// return rules or an error, never panic, and a rule it accepts must run its
// tests without panicking.
func FuzzParseFile(f *testing.F) {
	for _, dir := range []string{"testdata", "../../rules/catalog"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("id: x\ntitle: t\nseverity: low\nmatch: {eventName: [{prefix: Get}]}\ncondition: 'event.action.startsWith(\"G\")'\n"))
	f.Add([]byte("tests_for: x\ntests: [{expect: alert, event: 'not json'}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := ParseFile("fuzz.yaml", src, Options{})
		if err != nil {
			return
		}
		for _, r := range file.Rules {
			r.RunTests(Options{})
		}
	})
}
