package flowlog

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/event"
)

// fuzzHeader is a custom format with fields of every version, a transit
// gateway field and an unknown one, in an order unlike any documented one.
const fuzzHeader = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status ecs-cluster-name reject-reason tgw-id future-field"

func FuzzParseLine(f *testing.F) {
	custom, err := ParseHeader([]byte(fuzzHeader))
	if err != nil {
		f.Fatal(err)
	}
	paths, _ := filepath.Glob(vpcflow + "*/*.log")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if i > 10 {
				break // a few lines of each file are enough
			}
			f.Add([]byte(l))
		}
	}
	f.Add([]byte("2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"))
	f.Add([]byte("2 123456789010 eni-1 ::ffff:10.0.0.1 10.0.0.2 65535 0 255 0 0 0 0 REJECT SKIPDATA"))
	f.Add([]byte("5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK c1 BPA tgw-1 x"))
	f.Add([]byte("\t2  1\teni-1 - - - - - - - 1 2 - NODATA "))

	formats := []*Format{Default, custom}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, fm := range formats {
			ev, err := fm.Parse(line, Hint{Region: "eu-west-1"})
			if err != nil {
				if ev != nil {
					t.Fatalf("%s: Parse returned an event and error %v", fm, err)
				}
				var fe *event.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: error %v (%T) is not a *event.FieldError", fm, err, err)
				}
				if fe.Field != "record" && !slices.Contains(fm.Names(), fe.Field) {
					t.Fatalf("%s: error names field %q, not in the format", fm, fe.Field)
				}
				continue
			}
			if ev == nil || ev.Flow == nil {
				t.Fatalf("%s: Parse = %v, nil", fm, ev)
			}
			if ev.Kind != event.KindFlowLog || ev.Service != Service {
				t.Fatalf("%s: Kind, Service = %v, %q", fm, ev.Kind, ev.Service)
			}
			if len(ev.Raw) != len(line) || (len(line) > 0 && &ev.Raw[0] != &line[0]) {
				t.Fatalf("%s: Raw is not the input", fm)
			}
			if n := len(strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })); n != fm.Len() {
				t.Fatalf("%s: accepted %d fields, format has %d", fm, n, fm.Len())
			}
			fl := ev.Flow
			if fl.SrcPort < -1 || fl.SrcPort > 65535 || fl.DstPort < -1 || fl.DstPort > 65535 || fl.Protocol < -1 || fl.Protocol > 255 {
				t.Fatalf("%s: ports, protocol out of range: %d %d %d", fm, fl.SrcPort, fl.DstPort, fl.Protocol)
			}
			if fl.Packets < -1 || fl.Bytes < -1 || fl.Start < 0 || fl.End < 0 || fl.TCPFlags < -1 || fl.TrafficPath < -1 {
				t.Fatalf("%s: negative counter: %+v", fm, *fl)
			}
			if ev.Action != fl.Action {
				t.Fatalf("%s: Action %q != Flow.Action %q", fm, ev.Action, fl.Action)
			}
			if ev.SourceIP != fl.SrcAddr || (fl.SrcAddr.IsValid() && (fl.SrcAddr.Is4In6() || ev.SourceAddress != fl.SrcAddr.String())) {
				t.Fatalf("%s: SourceIP %v, SourceAddress %q, SrcAddr %v", fm, ev.SourceIP, ev.SourceAddress, fl.SrcAddr)
			}
			if ev.Time.IsZero() != (fl.Start == 0) || (!ev.Time.IsZero() && ev.Time.Unix() != fl.Start) {
				t.Fatalf("%s: Time %v, Start %d", fm, ev.Time, fl.Start)
			}
			if ev.Region == "" || (fl.Region != "" && ev.Region != fl.Region) {
				t.Fatalf("%s: Region %q, Flow.Region %q, hint eu-west-1", fm, ev.Region, fl.Region)
			}
			if (fl.InterfaceID != "") != (len(ev.Resources) == 1) {
				t.Fatalf("%s: InterfaceID %q, Resources %+v", fm, fl.InterfaceID, ev.Resources)
			}
			for k, v := range fl.Extra {
				if v == "-" || !slices.Contains(fm.Names(), k) {
					t.Fatalf("%s: Extra[%q] = %q", fm, k, v)
				}
			}
		}
	})
}
