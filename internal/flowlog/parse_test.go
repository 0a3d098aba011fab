package flowlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

const vpcflow = "../../testdata/aws/vpcflow/"

// absent is a Flow with every sentinel of an absent field set, to be
// completed by the test.
func absent() event.Flow {
	return event.Flow{SrcPort: -1, DstPort: -1, Protocol: -1, Packets: -1, Bytes: -1, TCPFlags: -1, TrafficPath: -1}
}

func mustHeader(t testing.TB, line string) *Format {
	t.Helper()
	f, err := ParseHeader([]byte(line))
	if err != nil {
		t.Fatalf("ParseHeader(%q): %v", line, err)
	}
	return f
}

func mustParse(t testing.TB, f *Format, line string, hint Hint) *event.Event {
	t.Helper()
	ev, err := f.Parse([]byte(line), hint)
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", line, err)
	}
	if ev == nil {
		t.Fatalf("Parse(%q) = nil, nil", line)
	}
	return ev
}

func TestParseDefault(t *testing.T) {
	line := []byte("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
	ev, err := Default.Parse(line, Hint{})
	if err != nil {
		t.Fatal(err)
	}
	want := absent()
	want.Version = 2
	want.InterfaceID = "eni-1235b8ca123456789"
	want.SrcAddr = netip.MustParseAddr("172.31.16.139")
	want.DstAddr = netip.MustParseAddr("172.31.16.21")
	want.SrcPort, want.DstPort, want.Protocol = 20641, 22, 6
	want.Packets, want.Bytes = 20, 4249
	want.Start, want.End = 1418530010, 1418530070
	want.Action, want.LogStatus = "ACCEPT", "OK"
	if !reflect.DeepEqual(*ev.Flow, want) {
		t.Errorf("Parse().Flow =\n\t%+v\nwant\n\t%+v", *ev.Flow, want)
	}
	wantTime := time.Date(2014, 12, 14, 4, 6, 50, 0, time.UTC)
	if !ev.Time.Equal(wantTime) || ev.Time.Location() != time.UTC {
		t.Errorf("Parse().Time = %v (%v), want %v UTC", ev.Time, ev.Time.Location(), wantTime)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Kind", ev.Kind, event.KindFlowLog},
		{"ID", ev.ID, ""},
		{"Service", ev.Service, "vpc-flow-logs"},
		{"Action", ev.Action, "ACCEPT"},
		{"Account", ev.Account, "123456789010"},
		{"Region", ev.Region, ""},
		{"SourceIP", ev.SourceIP, netip.MustParseAddr("172.31.16.139")},
		{"SourceAddress", ev.SourceAddress, "172.31.16.139"},
		{"EventType", ev.EventType, ""},
		{"Finding==nil", ev.Finding == nil, true},
		{"SignIn==nil", ev.SignIn == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("Parse().%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(ev.Raw) != len(line) || &ev.Raw[0] != &line[0] {
		t.Error("Parse().Raw is not the input line")
	}
	wantRes := []event.Resource{{Type: "AWS::EC2::NetworkInterface", Account: "123456789010"}}
	if !slices.Equal(ev.Resources, wantRes) {
		t.Errorf("Parse().Resources = %+v, want %+v (no ARN without a region)", ev.Resources, wantRes)
	}
	if ev.StableID() == "" || ev.StableID() != mustParse(t, Default, string(line), Hint{}).StableID() {
		t.Errorf("StableID() = %q is not stable", ev.StableID())
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name   string
		format *Format
		line   string
		hint   Hint
		check  func(t *testing.T, ev *event.Event)
	}{
		{
			name: "NODATA",
			line: "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
			check: func(t *testing.T, ev *event.Event) {
				want := absent()
				want.Version, want.InterfaceID, want.Start, want.End, want.LogStatus = 2, "eni-1235b8ca123456789", 1431280876, 1431280934, "NODATA"
				if !reflect.DeepEqual(*ev.Flow, want) {
					t.Errorf("Flow =\n\t%+v\nwant\n\t%+v", *ev.Flow, want)
				}
				if ev.SourceIP.IsValid() || ev.SourceAddress != "" || ev.Action != "" {
					t.Errorf("SourceIP, SourceAddress, Action = %v, %q, %q, want zero", ev.SourceIP, ev.SourceAddress, ev.Action)
				}
				if !ev.Time.Equal(time.Unix(1431280876, 0)) {
					t.Errorf("Time = %v", ev.Time)
				}
			},
		},
		{
			name: "SKIPDATA",
			line: "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
			check: func(t *testing.T, ev *event.Event) {
				f := ev.Flow
				if f.LogStatus != "SKIPDATA" || f.SrcPort != -1 || f.DstPort != -1 || f.Protocol != -1 || f.Packets != -1 || f.Bytes != -1 || f.SrcAddr.IsValid() || f.DstAddr.IsValid() {
					t.Errorf("Flow = %+v", *f)
				}
			},
		},
		{
			name: "every field dash",
			line: "- - - - - - - - - - - - - -",
			check: func(t *testing.T, ev *event.Event) {
				if !reflect.DeepEqual(*ev.Flow, absent()) {
					t.Errorf("Flow = %+v, want all absent", *ev.Flow)
				}
				if !ev.Time.IsZero() || ev.Account != "" || ev.Resources != nil {
					t.Errorf("Time, Account, Resources = %v, %q, %+v, want zero", ev.Time, ev.Account, ev.Resources)
				}
			},
		},
		{
			name: "IPv6",
			line: "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
			check: func(t *testing.T, ev *event.Event) {
				src, dst := netip.MustParseAddr("2001:db8:1234:a100:8d6e:3477:df66:f105"), netip.MustParseAddr("2001:db8:1234:a102:3304:8879:34cf:4071")
				if ev.Flow.SrcAddr != src || ev.Flow.DstAddr != dst || ev.SourceIP != src || ev.SourceAddress != src.String() {
					t.Errorf("SrcAddr, DstAddr, SourceIP, SourceAddress = %v, %v, %v, %q", ev.Flow.SrcAddr, ev.Flow.DstAddr, ev.SourceIP, ev.SourceAddress)
				}
			},
		},
		{
			name: "IPv4-mapped IPv6 is unmapped",
			line: "2 123456789010 eni-1 ::ffff:10.0.0.1 ::ffff:10.0.0.2 1 2 17 1 1 1 2 ACCEPT OK",
			check: func(t *testing.T, ev *event.Event) {
				if ev.Flow.SrcAddr != netip.MustParseAddr("10.0.0.1") || ev.Flow.DstAddr != netip.MustParseAddr("10.0.0.2") || ev.SourceAddress != "10.0.0.1" {
					t.Errorf("SrcAddr, DstAddr, SourceAddress = %v, %v, %q, want unmapped IPv4", ev.Flow.SrcAddr, ev.Flow.DstAddr, ev.SourceAddress)
				}
			},
		},
		{
			name: "port and protocol bounds, ICMP",
			line: "2 123456789010 eni-1 203.0.113.12 172.31.16.139 0 65535 255 0 0 1432917027 1432917142 ACCEPT OK",
			check: func(t *testing.T, ev *event.Event) {
				f := ev.Flow
				if f.SrcPort != 0 || f.DstPort != 65535 || f.Protocol != 255 || f.Packets != 0 || f.Bytes != 0 {
					t.Errorf("ports, protocol, packets, bytes = %d %d %d %d %d", f.SrcPort, f.DstPort, f.Protocol, f.Packets, f.Bytes)
				}
			},
		},
		{
			name: "large byte and packet counts",
			line: "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 9007199254740993 4611686018427387904 1 2 ACCEPT OK",
			check: func(t *testing.T, ev *event.Event) {
				if ev.Flow.Packets != 9007199254740993 || ev.Flow.Bytes != 1<<62 {
					t.Errorf("Packets, Bytes = %d, %d", ev.Flow.Packets, ev.Flow.Bytes)
				}
			},
		},
		{
			name: "start 0 leaves Time zero",
			line: "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 0 0 ACCEPT OK",
			check: func(t *testing.T, ev *event.Event) {
				if !ev.Time.IsZero() || ev.Flow.Start != 0 {
					t.Errorf("Time, Start = %v, %d, want zero", ev.Time, ev.Flow.Start)
				}
			},
		},
		{
			name: "repeated spaces, tabs, leading and trailing blanks",
			line: " \t2  123456789010\teni-1235b8ca123456789 \t 172.31.9.69   172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070\t\tREJECT OK  \t",
			check: func(t *testing.T, ev *event.Event) {
				f := ev.Flow
				if f.Version != 2 || ev.Account != "123456789010" || f.InterfaceID != "eni-1235b8ca123456789" || f.SrcAddr != netip.MustParseAddr("172.31.9.69") ||
					f.DstPort != 3389 || f.Action != "REJECT" || f.LogStatus != "OK" {
					t.Errorf("Flow = %+v, Account %q", *f, ev.Account)
				}
			},
		},
		{
			name: "hint region builds the network-interface ARN",
			line: "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
			hint: Hint{Region: "us-east-1"},
			check: func(t *testing.T, ev *event.Event) {
				want := []event.Resource{{ARN: "arn:aws:ec2:us-east-1:123456789010:network-interface/eni-1235b8ca123456789", Type: "AWS::EC2::NetworkInterface", Account: "123456789010"}}
				if ev.Region != "us-east-1" || ev.Flow.Region != "" || !slices.Equal(ev.Resources, want) {
					t.Errorf("Region, Flow.Region, Resources = %q, %q, %+v; want us-east-1, \"\", %+v", ev.Region, ev.Flow.Region, ev.Resources, want)
				}
			},
		},
		{
			name: "no account, no ARN",
			line: "2 - eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			hint: Hint{Region: "us-east-1"},
			check: func(t *testing.T, ev *event.Event) {
				want := []event.Resource{{Type: "AWS::EC2::NetworkInterface"}}
				if !slices.Equal(ev.Resources, want) {
					t.Errorf("Resources = %+v, want %+v", ev.Resources, want)
				}
			},
		},
		{
			name: "no interface, no resource",
			line: "2 123456789010 - 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			hint: Hint{Region: "us-east-1"},
			check: func(t *testing.T, ev *event.Event) {
				if ev.Resources != nil {
					t.Errorf("Resources = %+v, want nil", ev.Resources)
				}
			},
		},
		{
			name:   "v4 region field overrides the hint",
			format: mustHeader(t, "version account-id interface-id region az-id action"),
			line:   "4 123456789010 eni-1 eu-west-1 euw1-az2 ACCEPT",
			hint:   Hint{Region: "us-east-1"},
			check: func(t *testing.T, ev *event.Event) {
				want := []event.Resource{{ARN: "arn:aws:ec2:eu-west-1:123456789010:network-interface/eni-1", Type: "AWS::EC2::NetworkInterface", Account: "123456789010"}}
				if ev.Region != "eu-west-1" || ev.Flow.Region != "eu-west-1" || ev.Flow.AZID != "euw1-az2" || !slices.Equal(ev.Resources, want) {
					t.Errorf("Region, Flow.Region, AZID, Resources = %q, %q, %q, %+v", ev.Region, ev.Flow.Region, ev.Flow.AZID, ev.Resources)
				}
			},
		},
		{
			name:   "region field dash keeps the hint",
			format: mustHeader(t, "version account-id interface-id region action"),
			line:   "4 123456789010 eni-1 - ACCEPT",
			hint:   Hint{Region: "us-east-1"},
			check: func(t *testing.T, ev *event.Event) {
				if ev.Region != "us-east-1" || ev.Flow.Region != "" {
					t.Errorf("Region, Flow.Region = %q, %q, want us-east-1, \"\"", ev.Region, ev.Flow.Region)
				}
			},
		},
		{
			name:   "transit gateway and unknown fields land in Extra",
			format: mustHeader(t, "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service future-field"),
			line:   "6 TransitGateway 123456789010 tgw-0123 tgw-attach-1 111111111111 222222222222 vpc-1 vpc-2 subnet-1 subnet-2 eni-1 eni-2 use1-az1 use1-az2 tgw-attach-2 10.0.0.1 10.1.0.1 443 50000 6 3 300 1700000000 1700000060 OK IPv4 0 0 0 - 2 us-east-1 ingress - - fv",
			check: func(t *testing.T, ev *event.Event) {
				want := map[string]string{
					"resource-type": "TransitGateway", "tgw-id": "tgw-0123", "tgw-attachment-id": "tgw-attach-1",
					"tgw-src-vpc-account-id": "111111111111", "tgw-dst-vpc-account-id": "222222222222",
					"tgw-src-vpc-id": "vpc-1", "tgw-dst-vpc-id": "vpc-2", "tgw-src-subnet-id": "subnet-1", "tgw-dst-subnet-id": "subnet-2",
					"tgw-src-eni": "eni-1", "tgw-dst-eni": "eni-2", "tgw-src-az-id": "use1-az1", "tgw-dst-az-id": "use1-az2",
					"tgw-pair-attachment-id": "tgw-attach-2", "packets-lost-no-route": "0", "packets-lost-blackhole": "0",
					"packets-lost-mtu-exceeded": "0", "future-field": "fv",
				}
				if !maps.Equal(ev.Flow.Extra, want) {
					t.Errorf("Extra =\n\t%v\nwant\n\t%v", ev.Flow.Extra, want)
				}
				f := ev.Flow
				if f.Version != 6 || f.SrcPort != 443 || f.TCPFlags != 2 || f.Type != "IPv4" || f.FlowDirection != "ingress" || ev.Region != "us-east-1" || ev.Account != "123456789010" {
					t.Errorf("Flow = %+v", *f)
				}
				if ev.Resources != nil {
					t.Errorf("Resources = %+v, want nil (no interface-id)", ev.Resources)
				}
			},
		},
		{
			name: "no Extra without unknown fields",
			line: "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			check: func(t *testing.T, ev *event.Event) {
				if ev.Flow.Extra != nil {
					t.Errorf("Extra = %v, want nil", ev.Flow.Extra)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.format
			if f == nil {
				f = Default
			}
			ev := mustParse(t, f, tc.line, tc.hint)
			if ev.Kind != event.KindFlowLog || ev.Service != Service || ev.Flow == nil || string(ev.Raw) != tc.line {
				t.Fatalf("Kind, Service, Flow, Raw = %v, %q, %v, %q", ev.Kind, ev.Service, ev.Flow, ev.Raw)
			}
			tc.check(t, ev)
		})
	}
}

func TestParseEveryField(t *testing.T) {
	f := Positional(40)
	line := strings.Join([]string{
		"8", "123456789012", "eni-0123456789abcdef0", "10.0.0.5", "198.51.100.7", "443", "49152", "6", "10", "5000", "1700000000", "1700000060", "REJECT", "OK",
		"vpc-0a1b2c3d", "subnet-0a1b2c3d", "i-0123456789abcdef0", "19", "IPv6", "10.0.0.6", "198.51.100.8",
		"eu-west-1", "euw1-az1", "outpost", "op-0123456789abcdef0",
		"S3", "EC2", "egress", "8",
		"arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "c1", "arn:aws:ecs:eu-west-1:123456789012:container-instance/c1/ci1", "ci1", "cid1", "cid2", "svc1",
		"arn:aws:ecs:eu-west-1:123456789012:task-definition/td:1", "arn:aws:ecs:eu-west-1:123456789012:task/c1/t1", "t1",
		"BPA",
	}, " ")
	ev := mustParse(t, f, line, Hint{Region: "us-east-1"})
	want := event.Flow{
		Version: 8, InterfaceID: "eni-0123456789abcdef0",
		SrcAddr: netip.MustParseAddr("10.0.0.5"), DstAddr: netip.MustParseAddr("198.51.100.7"),
		SrcPort: 443, DstPort: 49152, Protocol: 6, Packets: 10, Bytes: 5000, Start: 1700000000, End: 1700000060,
		Action: "REJECT", LogStatus: "OK",
		VPCID: "vpc-0a1b2c3d", SubnetID: "subnet-0a1b2c3d", InstanceID: "i-0123456789abcdef0", TCPFlags: 19, Type: "IPv6",
		PktSrcAddr: netip.MustParseAddr("10.0.0.6"), PktDstAddr: netip.MustParseAddr("198.51.100.8"),
		Region: "eu-west-1", AZID: "euw1-az1", SublocationType: "outpost", SublocationID: "op-0123456789abcdef0",
		PktSrcAWSService: "S3", PktDstAWSService: "EC2", FlowDirection: "egress", TrafficPath: 8,
		ECSClusterARN: "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", ECSClusterName: "c1",
		ECSContainerInstanceARN: "arn:aws:ecs:eu-west-1:123456789012:container-instance/c1/ci1", ECSContainerInstanceID: "ci1",
		ECSContainerID: "cid1", ECSSecondContainerID: "cid2", ECSServiceName: "svc1",
		ECSTaskDefinitionARN: "arn:aws:ecs:eu-west-1:123456789012:task-definition/td:1", ECSTaskARN: "arn:aws:ecs:eu-west-1:123456789012:task/c1/t1", ECSTaskID: "t1",
		RejectReason: "BPA",
	}
	if !reflect.DeepEqual(*ev.Flow, want) {
		t.Errorf("Positional(40).Parse().Flow =\n\t%+v\nwant\n\t%+v", *ev.Flow, want)
	}
	if ev.Region != "eu-west-1" || ev.Account != "123456789012" || ev.Action != "REJECT" {
		t.Errorf("Region, Account, Action = %q, %q, %q", ev.Region, ev.Account, ev.Action)
	}

	// The same record with every field "-" gives only sentinels.
	dashes := strings.TrimSpace(strings.Repeat("- ", 40))
	ev = mustParse(t, f, dashes, Hint{})
	if !reflect.DeepEqual(*ev.Flow, absent()) {
		t.Errorf("Positional(40).Parse(all dashes).Flow = %+v, want all absent", *ev.Flow)
	}
}

func TestParseErrors(t *testing.T) {
	const good = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 49152 6 1 40 1418530010 1418530070 ACCEPT OK"
	// with replaces field i (0-based) of good.
	with := func(i int, v string) string {
		f := strings.Fields(good)
		f[i] = v
		return strings.Join(f, " ")
	}
	tests := []struct {
		name      string
		format    *Format
		line      string
		wantField string
	}{
		{name: "13 fields", line: "2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 49152 6 1 40 1418530010 1418530070 ACCEPT", wantField: "record"},
		{name: "15 fields", line: good + " extra", wantField: "record"},
		{name: "empty line", line: "", wantField: "record"},
		{name: "blank line", line: " \t ", wantField: "record"},
		{name: "header line", line: "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status x", wantField: "record"},
		{name: "more than 128 fields", line: strings.Repeat("x ", 200), wantField: "record"},
		{name: "v5 record with default format", line: "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK", wantField: "record"},
		{name: "srcport too large", line: with(5, "70000"), wantField: "srcport"},
		{name: "srcport 65536", line: with(5, "65536"), wantField: "srcport"},
		{name: "srcport not a number", line: with(5, "x"), wantField: "srcport"},
		{name: "srcport negative", line: with(5, "-1"), wantField: "srcport"},
		{name: "srcport hex", line: with(5, "0x50"), wantField: "srcport"},
		{name: "dstport too large", line: with(6, "70000"), wantField: "dstport"},
		{name: "dstport not a number", line: with(6, "x"), wantField: "dstport"},
		{name: "dstport fraction", line: with(6, "80.5"), wantField: "dstport"},
		{name: "srcaddr octet too large", line: with(3, "10.0.0.256"), wantField: "srcaddr"},
		{name: "srcaddr hostname", line: with(3, "example.com"), wantField: "srcaddr"},
		{name: "srcaddr CIDR", line: with(3, "10.0.0.0/8"), wantField: "srcaddr"},
		{name: "dstaddr garbage", line: with(4, "10.0.0"), wantField: "dstaddr"},
		{name: "protocol 256", line: with(7, "256"), wantField: "protocol"},
		{name: "protocol name", line: with(7, "tcp"), wantField: "protocol"},
		{name: "packets not a number", line: with(8, "many"), wantField: "packets"},
		{name: "packets negative", line: with(8, "-5"), wantField: "packets"},
		{name: "bytes overflow", line: with(9, "99999999999999999999"), wantField: "bytes"},
		{name: "start not a number", line: with(10, "2021-09-02T21:45:00Z"), wantField: "start"},
		{name: "start negative", line: with(10, "-1"), wantField: "start"},
		{name: "end not a number", line: with(11, "soon"), wantField: "end"},
		{name: "version 0", line: with(0, "0"), wantField: "version"},
		{name: "version word", line: with(0, "v2"), wantField: "version"},
		{name: "tcp-flags", format: mustHeader(t, "version tcp-flags"), line: "3 x", wantField: "tcp-flags"},
		{name: "pkt-srcaddr", format: mustHeader(t, "version pkt-srcaddr"), line: "3 nope", wantField: "pkt-srcaddr"},
		{name: "pkt-dstaddr", format: mustHeader(t, "version pkt-dstaddr"), line: "3 1.2.3", wantField: "pkt-dstaddr"},
		{name: "traffic-path", format: mustHeader(t, "version traffic-path"), line: "5 101", wantField: "traffic-path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.format
			if f == nil {
				f = Default
			}
			ev, err := f.Parse([]byte(tc.line), Hint{})
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tc.line, ev.Flow)
			}
			if ev != nil {
				t.Errorf("Parse(%q) returned an event with error %v", tc.line, err)
			}
			var fe *event.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) error = %v (%T), want *event.FieldError", tc.line, err, err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("Parse(%q) error field = %q, want %q (%v)", tc.line, fe.Field, tc.wantField, err)
			}
		})
	}
}

func TestHintFromName(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"216782312663_vpcflowlogs_us-east-1_fl-01b07217476488e53_20210902T2145Z_c2ed8707.log.gz", "us-east-1"},
		{"216782312663_vpcflowlogs_us-east-1_fl-01b07217476488e53_20210902T2145Z_c2ed8707.log", "us-east-1"},
		{"AWSLogs/123456789012/vpcflowlogs/ap-southeast-2/2024/05/01/123456789012_vpcflowlogs_ap-southeast-2_fl-1234abcd_20240501T0000Z_abcdef01.log.gz", "ap-southeast-2"},
		{"s3://logs-bucket/AWSLogs/123456789012/vpcflowlogs/eu-west-1/2024/05/01/123456789012_vpcflowlogs_eu-west-1_fl-1_20240501T0005Z_01.log.gz", "eu-west-1"},
		{"/var/tmp/123456789012_vpcflowlogs_us-gov-west-1_fl-1_20240501T0005Z_01.log.gz", "us-gov-west-1"},
		{"123456789012_vpcflowlogs_eu-central-2_fl-1_20240501T0005Z_01.log.gz", "eu-central-2"},
		{"123456789012_vpcflowlogs_ap-northeast-3_fl-1_20240501T0005Z_01.parquet", "ap-northeast-3"},
		{"650992545562_CloudTrail_us-east-1_20220103T2035Z_K2mtJUmRGzZWh9tR.json.gz", ""},
		{"AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/", ""},
		{"123456789012_vpcflowlogs_US-EAST-1_fl-1.log.gz", ""},
		{"123456789012_vpcflowlogs_notaregion_fl-1.log.gz", ""},
		{"123456789012_vpcflowlogs_us-east_fl-1.log.gz", ""},
		{"flow.log", ""},
		{"-", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := HintFromName(tc.name); got.Region != tc.want {
			t.Errorf("HintFromName(%q).Region = %q, want %q", tc.name, got.Region, tc.want)
		}
	}
}

// readLines returns the non-empty lines of a file.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			lines = append(lines, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestParseCriblFile(t *testing.T) {
	paths, err := filepath.Glob(vpcflow + "cribl/*.log")
	if err != nil || len(paths) != 1 {
		t.Fatalf("want one cribl flow log, got %q (%v)", paths, err)
	}
	lines := readLines(t, paths[0])
	hint := HintFromName(filepath.Base(paths[0]))
	if hint.Region != "us-east-1" {
		t.Fatalf("HintFromName(%q) = %+v, want us-east-1", filepath.Base(paths[0]), hint)
	}
	f, err := ParseHeader([]byte(lines[0]))
	if err != nil {
		t.Fatalf("ParseHeader(first line): %v", err)
	}
	if f.String() != Default.String() || !f.Header {
		t.Errorf("header = %q, want the default format %q", f, Default)
	}
	records := lines[1:]
	if len(records) != 99 {
		t.Fatalf("got %d records, want 99", len(records))
	}
	actions := map[string]int{}
	for i, line := range records {
		ev, err := f.Parse([]byte(line), hint)
		if err != nil {
			t.Errorf("record %d %q: %v", i+1, line, err)
			continue
		}
		if ev.Kind != event.KindFlowLog || ev.Account != "216782312663" || ev.Region != "us-east-1" || ev.Flow.Version != 2 || ev.Flow.LogStatus != "OK" {
			t.Errorf("record %d: Kind %v Account %q Region %q Version %d LogStatus %q", i+1, ev.Kind, ev.Account, ev.Region, ev.Flow.Version, ev.Flow.LogStatus)
		}
		if !ev.Flow.SrcAddr.IsValid() || !ev.Flow.DstAddr.IsValid() || ev.Flow.SrcPort < 0 || ev.Flow.DstPort < 0 || ev.Time.IsZero() {
			t.Errorf("record %d: Flow %+v, Time %v", i+1, *ev.Flow, ev.Time)
		}
		if len(ev.Resources) != 1 || !strings.HasPrefix(ev.Resources[0].ARN, "arn:aws:ec2:us-east-1:216782312663:network-interface/eni-") {
			t.Errorf("record %d: Resources = %+v", i+1, ev.Resources)
		}
		// The header names the default format, so Default reads it the same.
		dev, err := Default.Parse([]byte(line), hint)
		if err != nil || !reflect.DeepEqual(dev.Flow, ev.Flow) {
			t.Errorf("record %d: Default.Parse = %+v, %v; header format gave %+v", i+1, dev, err, ev.Flow)
		}
		actions[ev.Action]++
	}
	if actions["ACCEPT"] != 32 || actions["REJECT"] != 67 {
		t.Errorf("actions = %v, want 32 ACCEPT and 67 REJECT", actions)
	}

	first := mustParse(t, f, records[0], hint)
	want := absent()
	want.Version, want.InterfaceID = 2, "eni-0b2fc5457066bc156"
	want.SrcAddr, want.DstAddr = netip.MustParseAddr("89.248.165.164"), netip.MustParseAddr("10.0.0.164")
	want.SrcPort, want.DstPort, want.Protocol, want.Packets, want.Bytes = 39540, 1900, 17, 1, 118
	want.Start, want.End, want.Action, want.LogStatus = 1630619088, 1630619102, "REJECT", "OK"
	if !reflect.DeepEqual(*first.Flow, want) {
		t.Errorf("first record Flow =\n\t%+v\nwant\n\t%+v", *first.Flow, want)
	}
	if !first.Time.Equal(time.Date(2021, 9, 2, 21, 44, 48, 0, time.UTC)) {
		t.Errorf("first record Time = %v", first.Time)
	}
}

func TestParseOtelFiles(t *testing.T) {
	lines := readLines(t, vpcflow+"otel-contrib/valid_vpc_flow_log.log")
	if len(lines) != 2 {
		t.Fatalf("valid_vpc_flow_log.log: %d lines, want 2", len(lines))
	}
	f := mustHeader(t, lines[0])
	ev := mustParse(t, f, lines[1], Hint{})
	want := absent()
	want.Version, want.InterfaceID, want.Start, want.End, want.LogStatus = 2, "eni-0eb1e4178af74336c", 1742570089, 1742570142, "NODATA"
	if !reflect.DeepEqual(*ev.Flow, want) || ev.Account != "12345678910" {
		t.Errorf("NODATA Flow =\n\t%+v\nwant\n\t%+v (Account %q)", *ev.Flow, want, ev.Account)
	}

	lines = readLines(t, vpcflow+"otel-contrib/valid_vpc_flow_log_ecs.log")
	if len(lines) != 2 {
		t.Fatalf("valid_vpc_flow_log_ecs.log: %d lines, want 2", len(lines))
	}
	f = mustHeader(t, lines[0])
	if f.Len() != 24 {
		t.Errorf("ECS header has %d fields, want 24", f.Len())
	}
	ev = mustParse(t, f, lines[1], Hint{})
	fl := ev.Flow
	if fl.Version != 5 || fl.SrcAddr != netip.MustParseAddr("10.0.1.100") || fl.DstPort != 22 || fl.Bytes != 3500 || fl.Action != "ACCEPT" {
		t.Errorf("ECS record base fields = %+v", *fl)
	}
	ecs := []struct{ got, want string }{
		{fl.ECSClusterARN, "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster"},
		{fl.ECSClusterName, "my-cluster"},
		{fl.ECSContainerInstanceARN, "arn:aws:ecs:us-east-1:123456789012:container-instance/my-cluster/abcdef"},
		{fl.ECSContainerInstanceID, "abcdef1234567890"},
		{fl.ECSContainerID, "container-1"},
		{fl.ECSSecondContainerID, "container-2"},
		{fl.ECSServiceName, "my-service"},
		{fl.ECSTaskDefinitionARN, "arn:aws:ecs:us-east-1:123456789012:task-definition/my-task:1"},
		{fl.ECSTaskARN, "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/abcdef"},
		{fl.ECSTaskID, "abcdef1234567890"},
	}
	for i, c := range ecs {
		if c.got != c.want {
			t.Errorf("ECS field %d = %q, want %q", i, c.got, c.want)
		}
	}
	if fl.Extra != nil {
		t.Errorf("ECS record Extra = %v, want nil", fl.Extra)
	}
}

// TestParseUserGuideExamples parses every example of the VPC User Guide:
// header lines set the format of the records that follow them in the same
// section.
func TestParseUserGuideExamples(t *testing.T) {
	b, err := os.ReadFile(vpcflow + "awsdocs/flow-logs-records-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var examples []struct{ Title, Text string }
	if err := json.Unmarshal(b, &examples); err != nil {
		t.Fatal(err)
	}
	var (
		parsed  []*event.Event
		format  *Format
		section string
	)
	for _, ex := range examples {
		if ex.Title != section {
			section, format = ex.Title, nil
		}
		for _, line := range strings.Split(ex.Text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line == "..." {
				continue
			}
			if LooksLikeHeader([]byte(line)) {
				format = mustHeader(t, line)
				continue
			}
			f := format
			if f == nil {
				f = Positional(len(strings.Fields(line)))
			}
			if f == nil {
				t.Errorf("%s: no format for %q", ex.Title, line)
				continue
			}
			ev, err := f.Parse([]byte(line), Hint{})
			if strings.Contains(line, "#") {
				// Annotated lines in the guide carry a trailing comment.
				var fe *event.FieldError
				if !errors.As(err, &fe) || fe.Field != "record" {
					t.Errorf("%s: Parse(%q) = %v, want a record field-count error", ex.Title, line, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: Parse(%q): %v", ex.Title, line, err)
				continue
			}
			parsed = append(parsed, ev)
		}
	}
	if len(parsed) != 25 {
		t.Errorf("parsed %d example records, want 25", len(parsed))
	}

	// Spot checks.
	find := func(pred func(*event.Flow) bool) *event.Event {
		for _, ev := range parsed {
			if pred(ev.Flow) {
				return ev
			}
		}
		t.Fatal("example record not found")
		return nil
	}
	tcp := find(func(f *event.Flow) bool { return f.Version == 3 && f.Bytes == 23294588 })
	if tcp.Flow.Packets != 15774 || tcp.Flow.TCPFlags != 1 || tcp.Flow.VPCID != "vpc-abcdefab012345678" || tcp.Flow.Type != "IPv4" || tcp.Flow.PktSrcAddr != netip.MustParseAddr("52.213.180.42") {
		t.Errorf("TCP flag example = %+v", *tcp.Flow)
	}
	svc := find(func(f *event.Flow) bool { return f.Version == 5 && f.PktDstAWSService == "S3" })
	if svc.Flow.TrafficPath != 8 || svc.Flow.FlowDirection != "egress" || svc.Flow.Region != "ap-southeast-2" || svc.Region != "ap-southeast-2" ||
		svc.Flow.AZID != "apse2-az3" || svc.Flow.SublocationType != "" || svc.Flow.PktSrcAWSService != "" || svc.Flow.TCPFlags != 3 {
		t.Errorf("service name example = %+v", *svc.Flow)
	}
	wantARN := "arn:aws:ec2:ap-southeast-2:123456789012:network-interface/eni-1235b8ca123456789"
	if len(svc.Resources) != 1 || svc.Resources[0].ARN != wantARN {
		t.Errorf("service name example Resources = %+v, want ARN %s", svc.Resources, wantARN)
	}
	in := find(func(f *event.Flow) bool { return f.Version == 5 && f.PktSrcAWSService == "S3" })
	if in.Flow.TrafficPath != -1 || in.Flow.FlowDirection != "ingress" {
		t.Errorf("service name ingress example TrafficPath, FlowDirection = %d, %q", in.Flow.TrafficPath, in.Flow.FlowDirection)
	}
	nat := find(func(f *event.Flow) bool {
		return f.Version == 0 && f.PktDstAddr == netip.MustParseAddr("203.0.113.5") && f.DstAddr == netip.MustParseAddr("10.0.0.220")
	})
	if nat.Flow.InstanceID != "" || nat.Flow.SrcPort != -1 || nat.Account != "" || !nat.Time.IsZero() {
		t.Errorf("NAT example = %+v, Account %q, Time %v", *nat.Flow, nat.Account, nat.Time)
	}
}
