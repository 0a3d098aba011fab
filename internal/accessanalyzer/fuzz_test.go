package accessanalyzer

import (
	"errors"
	"testing"

	"github.com/vigil-sec/vigil/internal/event"
)

func FuzzParse(f *testing.F) {
	f.Add(detail(f, "access-analyzer-finding-active.json"))
	f.Add(detail(f, "access-analyzer-finding-error.json"))
	f.Add(detail(f, "access-preview-state-change-completed.json"))
	for _, r := range listFindings(f) {
		f.Add([]byte(r))
	}
	f.Add(mkFinding())
	f.Add(mkFinding("status", `"ARCHIVED"`, "findingType", `"UnusedIAMRole"`, "isPublic", `true`))
	f.Add(mkFinding("accountId", "", "analyzedAt", "", "updatedAt", `"2024-05-01T11:00:00.5+01:00"`))
	f.Add(mkFinding("error", `"ACCESS_DENIED"`, "principal", `null`))
	f.Add([]byte(`{}`))

	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := Parse(raw)
		if err != nil {
			if ev != nil {
				t.Fatalf("Parse returned an event and error %v", err)
			}
			var fe *event.FieldError
			if errors.As(err, &fe) && fe.Field == "" {
				t.Fatalf("FieldError without a field: %v", err)
			}
			return
		}
		if ev == nil || ev.Finding == nil {
			t.Fatalf("Parse = %+v, nil; want an event with a finding", ev)
		}
		fd := ev.Finding
		if ev.ID == "" || ev.ID != fd.ID {
			t.Fatalf("ID %q, Finding.ID %q", ev.ID, fd.ID)
		}
		if fd.ResourceType == "" || fd.Type == "" || ev.Action != fd.Type || fd.Title == "" {
			t.Fatalf("ResourceType %q, Type %q, Action %q, Title %q", fd.ResourceType, fd.Type, ev.Action, fd.Title)
		}
		if ev.Kind != event.KindAccessAnalyzer || ev.Service != Service {
			t.Fatalf("Kind, Service = %v, %q", ev.Kind, ev.Service)
		}
		if len(ev.Raw) != len(raw) || &ev.Raw[0] != &raw[0] {
			t.Fatal("Raw is not the input")
		}
		if ev.Time.IsZero() {
			t.Fatal("Time is zero on success")
		}
		if fd.Archived != (fd.Status == "ARCHIVED") {
			t.Fatalf("Archived %v with Status %q", fd.Archived, fd.Status)
		}
		switch fd.Public {
		case event.Unknown, event.True, event.False:
		default:
			t.Fatalf("Public = %d", fd.Public)
		}
		for _, r := range ev.Resources {
			if r.ARN == "" || r.Type != fd.ResourceType {
				t.Fatalf("Resources %+v", ev.Resources)
			}
		}
	})
}
