package decode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/flowlog"
)

var update = flag.Bool("update", false, "rewrite golden files")

// summary is the golden form of one decoded event: the fields later stages
// rely on, so a decoder change that alters them shows up in review.
type summary struct {
	Kind      string   `json:"kind"`
	ID        string   `json:"id,omitempty"`
	Time      string   `json:"time"`
	Account   string   `json:"account,omitempty"`
	Region    string   `json:"region,omitempty"`
	Service   string   `json:"service,omitempty"`
	Action    string   `json:"action,omitempty"`
	EventType string   `json:"event_type,omitempty"`
	Actor     string   `json:"actor,omitempty"`
	ActorType string   `json:"actor_type,omitempty"`
	Key       string   `json:"access_key,omitempty"`
	MFA       string   `json:"mfa,omitempty"`
	Source    string   `json:"source,omitempty"`
	Error     string   `json:"error_code,omitempty"`
	ReadOnly  string   `json:"read_only,omitempty"`
	Resources []string `json:"resources,omitempty"`
	Extra     any      `json:"extra,omitempty"`
	Origin    string   `json:"origin"`
	RawBytes  int      `json:"raw_bytes"`
}

func summarise(ev *event.Event) summary {
	s := summary{
		Kind: ev.Kind.String(), ID: ev.ID, Time: ev.Time.UTC().Format(time.RFC3339Nano), Account: ev.Account, Region: ev.Region,
		Service: ev.Service, Action: ev.Action, EventType: ev.EventType, Actor: ev.Actor.Name(), ActorType: ev.Actor.Type,
		Key: ev.Actor.AccessKeyID, Source: ev.SourceAddress, Error: ev.ErrorCode, Origin: ev.Origin.String(), RawBytes: len(ev.Raw),
	}
	if ev.Actor.MFA != event.Unknown {
		s.MFA = ev.Actor.MFA.String()
	}
	if ev.ReadOnly != event.Unknown {
		s.ReadOnly = ev.ReadOnly.String()
	}
	for _, r := range ev.Resources {
		s.Resources = append(s.Resources, r.Type+" "+r.ARN)
	}
	switch {
	case ev.SignIn != nil:
		s.Extra = ev.SignIn
	case ev.Finding != nil:
		s.Extra = ev.Finding
	case ev.Flow != nil:
		s.Extra = ev.Flow
	case ev.Object != nil:
		s.Extra = ev.Object
	}
	return s
}

// decodeAll runs Split and Decode over one payload and returns one golden
// line per result, then a line describing the payload.
func decodeAll(t *testing.T, name string, data []byte) []string {
	t.Helper()
	d := NewDecoder(Limits{})
	var lines []string
	info, err := Split(context.Background(), bytes.NewReader(data), name, Limits{}, func(batch []Frame) error {
		for i := range batch {
			d.Decode(&batch[i], func(ev *event.Event, err error) bool {
				var re *RecordError
				var un *Unsupported
				switch {
				case ev != nil:
					if ev.Origin.Source != name {
						t.Errorf("event origin %q, want source %q", ev.Origin, name)
					}
					if len(ev.Raw) == 0 {
						t.Errorf("%s: event without raw record", ev.Origin)
					}
					b, err := json.Marshal(summarise(ev))
					if err != nil {
						t.Fatal(err)
					}
					lines = append(lines, string(b))
				case errors.As(err, &re):
					lines = append(lines, "bad record: "+re.Error())
				case errors.As(err, &un):
					lines = append(lines, "unsupported: "+un.Error())
				default:
					t.Fatalf("unexpected result %v", err)
				}
				return true
			})
		}
		return nil
	})
	lines = append(lines, fmt.Sprintf("payload: format=%s records=%d err=%v", info.Format, info.Records, err))
	return lines
}

func checkGolden(t *testing.T, golden string, lines []string) {
	t.Helper()
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("decoded output differs from %s (go test -update rewrites it):\n%s", golden, diffLines(string(want), got))
	}
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, a, b)
		}
	}
	return "(no line differs)"
}

// goldenInputs lists the real AWS samples under testdata/aws and the
// constructed envelopes under testdata/envelopes.
func goldenInputs(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, root := range []string{"../../testdata/aws", "testdata/envelopes"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.HasSuffix(p, ".md") {
				return nil
			}
			paths = append(paths, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func goldenPath(p string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(p, "../../testdata/"), "testdata/")
	return filepath.Join("testdata", "golden", strings.ReplaceAll(rel, "/", "__")+".golden")
}

// TestGolden decodes every sample input and compares with its golden file.
// AWS documentation example files ({title, example|text} lists) are
// unwrapped: each example is decoded as a payload of its own.
func TestGolden(t *testing.T) {
	for _, p := range goldenInputs(t) {
		t.Run(strings.TrimPrefix(p, "../../"), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			if strings.Contains(p, "awsdocs/") {
				var examples []struct {
					Title   string          `json:"title"`
					Example json.RawMessage `json:"example"`
					Text    string          `json:"text"`
				}
				if err := json.Unmarshal(data, &examples); err != nil {
					t.Fatal(err)
				}
				// The VPC guide shows a custom format's header in one code
				// block and its records in the next ones; put them together.
				header, headerTitle := "", ""
				for i, ex := range examples {
					payload := []byte(ex.Text)
					if len(ex.Example) > 0 {
						payload = ex.Example
					} else {
						first, rest, _ := strings.Cut(ex.Text, "\n")
						if flowlog.LooksLikeHeader([]byte(first)) {
							header, headerTitle = first, ex.Title
							if strings.TrimSpace(rest) == "" {
								continue
							}
						} else if header != "" && ex.Title == headerTitle {
							payload = []byte(header + "\n" + ex.Text)
						} else {
							header = ""
						}
					}
					lines = append(lines, fmt.Sprintf("# example %d: %s", i, ex.Title))
					lines = append(lines, decodeAll(t, fmt.Sprintf("%s#%d", filepath.Base(p), i), payload)...)
				}
			} else {
				lines = decodeAll(t, filepath.Base(p), data)
			}
			checkGolden(t, goldenPath(p), lines)
		})
	}
}
