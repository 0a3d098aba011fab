package guardduty

import (
	"errors"
	"math"
	"testing"

	"github.com/vigil-sec/vigil/internal/event"
)

func FuzzParse(f *testing.F) {
	for _, l := range exportLines(f) {
		f.Add(l)
	}
	f.Add(cliFinding(f))
	f.Add(eventBridgeDetail(f))
	f.Add(mkFinding())
	f.Add(mkFinding("severity", `"5.5"`, "createdAt", `1.636625755218E9`, "updatedAt", ""))
	f.Add(mkFinding("service", `{"archived":true,"count":3,"additionalInfo":{"sample":"true"},"action":{"portProbeAction":{"portProbeDetails":[{"remoteIpDetails":{"ipAddressV4":"198.51.100.1"}},{"remoteIpDetails":{"ipAddressV6":"2001:db8::1"}}]}}}`))
	f.Add(mkFinding("resource", `{"resourceType":"S3Bucket","s3BucketDetails":[{"name":"b"}],"eksClusterDetails":{"name":"c"}}`))
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
		if ev.ID == "" || ev.ID != fd.ID || ev.Action == "" || ev.Action != fd.Type {
			t.Fatalf("ID %q, Finding.ID %q, Action %q, Finding.Type %q", ev.ID, fd.ID, ev.Action, fd.Type)
		}
		if ev.Kind != event.KindGuardDuty || ev.Service != Service {
			t.Fatalf("Kind, Service = %v, %q", ev.Kind, ev.Service)
		}
		if len(ev.Raw) != len(raw) || &ev.Raw[0] != &raw[0] {
			t.Fatal("Raw is not the input")
		}
		if math.IsNaN(fd.Severity) || fd.Severity < 0 || fd.Severity > 10 {
			t.Fatalf("Severity %v outside 0-10", fd.Severity)
		}
		switch BandOf(fd.Severity) {
		case Low, Medium, High, Critical:
		default:
			t.Fatalf("BandOf(%v) = %q", fd.Severity, BandOf(fd.Severity))
		}
		if ev.Time.IsZero() {
			t.Fatal("Time is zero on success")
		}
		seen := map[string]bool{}
		for _, a := range fd.RemoteIPs {
			if !a.IsValid() || a.Is4In6() || seen[a.String()] {
				t.Fatalf("RemoteIPs %v: invalid, mapped or repeated %v", fd.RemoteIPs, a)
			}
			seen[a.String()] = true
		}
		if len(fd.RemoteIPs) > 0 && ev.SourceIP != fd.RemoteIPs[0] {
			t.Fatalf("SourceIP %v, RemoteIPs %v", ev.SourceIP, fd.RemoteIPs)
		}
		if len(fd.RemoteIPs) == 0 && ev.SourceIP.IsValid() {
			t.Fatalf("SourceIP %v without RemoteIPs", ev.SourceIP)
		}
	})
}
