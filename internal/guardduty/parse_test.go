package guardduty

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

const envelopes = "../decode/testdata/envelopes/"

// exportLines returns the findings of the S3 export sample, one per line.
func exportLines(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(envelopes + "guardduty-export.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, bytes.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("guardduty-export.jsonl.gz: %d findings, want 3", len(out))
	}
	return out
}

// cliFinding returns Findings[0] of the AWS CLI get-findings sample.
func cliFinding(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(envelopes + "guardduty-cli-get-findings.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Findings) != 1 {
		t.Fatalf("guardduty-cli-get-findings.json: %v, %d findings", err, len(doc.Findings))
	}
	return doc.Findings[0]
}

// eventBridgeDetail returns the detail of the EventBridge sample.
func eventBridgeDetail(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(envelopes + "eventbridge-guardduty.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Detail == nil {
		t.Fatalf("eventbridge-guardduty.json: %v", err)
	}
	return doc.Detail
}

func mustParse(t testing.TB, raw []byte) *event.Event {
	t.Helper()
	ev, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%.200s) error: %v", raw, err)
	}
	if ev == nil || ev.Finding == nil {
		t.Fatalf("Parse(%.200s) = %+v, want an event with a finding", raw, ev)
	}
	return ev
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// want is what the tests compare of an event.
type want struct {
	id, typ, account, region string
	severity                 float64
	archived, sample         bool
	count                    int64
	resourceType             string
	first, last, created     time.Time
	updated, at              time.Time
	remote                   []string
	actor                    event.Actor
	resources                []event.Resource
}

func check(t *testing.T, ev *event.Event, w want) {
	t.Helper()
	fd := ev.Finding
	if ev.Kind != event.KindGuardDuty || ev.Service != "guardduty.amazonaws.com" {
		t.Errorf("Kind, Service = %v, %q", ev.Kind, ev.Service)
	}
	if ev.ID != w.id || fd.ID != w.id || ev.Action != w.typ || fd.Type != w.typ {
		t.Errorf("ID, Finding.ID, Action, Finding.Type = %q, %q, %q, %q; want %q, %q", ev.ID, fd.ID, ev.Action, fd.Type, w.id, w.typ)
	}
	if ev.Account != w.account || ev.Region != w.region {
		t.Errorf("Account, Region = %q, %q; want %q, %q", ev.Account, ev.Region, w.account, w.region)
	}
	if fd.Severity != w.severity || fd.Archived != w.archived || fd.Sample != w.sample || fd.Count != w.count || fd.ResourceType != w.resourceType {
		t.Errorf("Severity %v Archived %v Sample %v Count %d ResourceType %q; want %v %v %v %d %q",
			fd.Severity, fd.Archived, fd.Sample, fd.Count, fd.ResourceType, w.severity, w.archived, w.sample, w.count, w.resourceType)
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"FirstSeen", fd.FirstSeen, w.first}, {"LastSeen", fd.LastSeen, w.last},
		{"CreatedAt", fd.CreatedAt, w.created}, {"UpdatedAt", fd.UpdatedAt, w.updated}, {"Event.Time", ev.Time, w.at},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	var remote []netip.Addr
	for _, s := range w.remote {
		remote = append(remote, netip.MustParseAddr(s))
	}
	if !slices.Equal(fd.RemoteIPs, remote) {
		t.Errorf("RemoteIPs = %v, want %v", fd.RemoteIPs, remote)
	}
	if len(remote) > 0 {
		if ev.SourceIP != remote[0] || ev.SourceAddress != remote[0].String() {
			t.Errorf("SourceIP, SourceAddress = %v, %q, want %v", ev.SourceIP, ev.SourceAddress, remote[0])
		}
	} else if ev.SourceIP.IsValid() || ev.SourceAddress != "" {
		t.Errorf("SourceIP, SourceAddress = %v, %q, want zero", ev.SourceIP, ev.SourceAddress)
	}
	if ev.Actor != w.actor {
		t.Errorf("Actor = %+v, want %+v", ev.Actor, w.actor)
	}
	if !slices.Equal(ev.Resources, w.resources) {
		t.Errorf("Resources = %+v, want %+v", ev.Resources, w.resources)
	}
}

var (
	wantSSH = want{
		id: "7ec8a1b8e3a44b0e92fd0e6bd8c8d1f2", typ: "UnauthorizedAccess:EC2/SSHBruteForce", account: "111122223333", region: "eu-west-1",
		severity: 2, count: 31, resourceType: "Instance",
		first: ts("2026-11-20T07:12:40Z"), last: ts("2026-11-20T08:44:02Z"), created: ts("2026-11-20T07:20:11.512Z"), updated: ts("2026-11-20T08:50:27.104Z"),
		at:     ts("2026-11-20T08:44:02Z"),
		remote: []string{"89.160.20.156"},
		resources: []event.Resource{{Type: "AWS::EC2::Instance", Account: "111122223333",
			ARN: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60718"}},
	}
	wantRecon = want{
		id: "b2f4e6a8c0d24e6f8a0b2c4d6e8f0a1b", typ: "Recon:IAMUser/MaliciousIPCaller.Custom", account: "111122223333", region: "eu-west-1",
		severity: 5, count: 1, sample: true, resourceType: "AccessKey",
		first: ts("2026-11-20T09:00:00Z"), last: ts("2026-11-20T09:00:00Z"), created: ts("2026-11-20T07:20:11.512Z"), updated: ts("2026-11-20T08:50:27.104Z"),
		at:        ts("2026-11-20T09:00:00Z"),
		remote:    []string{"175.16.199.3"},
		actor:     event.Actor{Type: "IAMUser", UserName: "ci-deployer", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", PrincipalID: "AIDACKCEVSQ6C2EXAMPLE", Account: "111122223333"},
		resources: []event.Resource{{Type: "AccessKey", Account: "111122223333"}},
	}
	wantBitcoin = want{
		id: "c3a5e7b9d1f34a5b7c9d1e3f5a7b9c1d", typ: "CryptoCurrency:EC2/BitcoinTool.B!DNS", account: "111122223333", region: "eu-west-1",
		severity: 8, count: 4, archived: true, resourceType: "Instance",
		first: ts("2026-11-18T01:00:00Z"), last: ts("2026-11-20T03:00:00Z"), created: ts("2026-11-20T07:20:11.512Z"), updated: ts("2026-11-20T08:50:27.104Z"),
		at: ts("2026-11-20T03:00:00Z"),
		resources: []event.Resource{{Type: "AWS::EC2::Instance", Account: "111122223333",
			ARN: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60718"}},
	}
)

func TestParseSamples(t *testing.T) {
	lines := exportLines(t)
	tests := []struct {
		name string
		raw  []byte
		want want
	}{
		{"export line 1 (SSH brute force)", lines[0], wantSSH},
		{"export line 2 (custom threat list, sample)", lines[1], wantRecon},
		{"export line 3 (bitcoin DNS, archived, no remote IP)", lines[2], wantBitcoin},
		{"EventBridge detail (camelCase)", eventBridgeDetail(t), wantSSH},
		{"AWS CLI get-findings (PascalCase)", cliFinding(t), wantRecon},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, tc.raw)
			check(t, ev, tc.want)
			if len(ev.Raw) != len(tc.raw) || &ev.Raw[0] != &tc.raw[0] {
				t.Error("Raw is not the input")
			}
		})
	}
}

// mkFinding returns a minimal valid camelCase finding with the top-level
// members in kv (key, raw JSON; "" removes) replaced or added.
func mkFinding(kv ...string) []byte {
	members := [][2]string{
		{"schemaVersion", `"2.0"`},
		{"accountId", `"111122223333"`},
		{"region", `"us-east-1"`},
		{"partition", `"aws"`},
		{"id", `"f-1"`},
		{"type", `"Recon:EC2/PortProbeUnprotectedPort"`},
		{"resource", `{"resourceType":"Instance","instanceDetails":{"instanceId":"i-99"}}`},
		{"service", `{"serviceName":"guardduty","archived":false,"count":1}`},
		{"severity", `2`},
		{"createdAt", `"2024-05-01T10:00:00Z"`},
		{"updatedAt", `"2024-05-01T11:00:00Z"`},
		{"title", `"Unprotected port on EC2 instance i-99 is being probed."`},
	}
outer:
	for i := 0; i < len(kv); i += 2 {
		for j := range members {
			if members[j][0] == kv[i] {
				members[j][1] = kv[i+1]
				continue outer
			}
		}
		members = append(members, [2]string{kv[i], kv[i+1]})
	}
	var parts []string
	for _, m := range members {
		if m[1] != "" {
			parts = append(parts, `"`+m[0]+`":`+m[1])
		}
	}
	return []byte("{" + strings.Join(parts, ",") + "}")
}

func TestParseRemoteIPs(t *testing.T) {
	tests := []struct {
		name   string
		action string
		want   []string
	}{
		{
			name:   "networkConnectionAction",
			action: `{"actionType":"NETWORK_CONNECTION","networkConnectionAction":{"connectionDirection":"INBOUND","remoteIpDetails":{"ipAddressV4":"198.51.100.7"},"localIpDetails":{"ipAddressV4":"10.0.0.5"}}}`,
			want:   []string{"198.51.100.7"},
		},
		{
			name:   "awsApiCallAction",
			action: `{"actionType":"AWS_API_CALL","awsApiCallAction":{"api":"ListBuckets","remoteIpDetails":{"ipAddressV4":"203.0.113.9","country":{"countryName":"X"}}}}`,
			want:   []string{"203.0.113.9"},
		},
		{
			name: "portProbeAction with several details, deduplicated, local addresses ignored",
			action: `{"actionType":"PORT_PROBE","portProbeAction":{"blocked":false,"portProbeDetails":[
				{"localPortDetails":{"port":22},"localIpDetails":{"ipAddressV4":"10.0.0.5"},"remoteIpDetails":{"ipAddressV4":"198.51.100.1"}},
				{"localPortDetails":{"port":80},"localIpDetails":{"ipAddressV4":"10.0.0.5"},"remoteIpDetails":{"ipAddressV4":"198.51.100.2"}},
				{"localPortDetails":{"port":443},"remoteIpDetails":{"ipAddressV4":"198.51.100.1"}},
				{"localPortDetails":{"port":3389},"remoteIpDetails":{"ipAddressV6":"2001:db8::7"}},
				{"localPortDetails":{"port":8080},"remoteIpDetails":{"ipAddressV4":"198.51.100.3"}}]}}`,
			want: []string{"198.51.100.1", "198.51.100.2", "2001:db8::7", "198.51.100.3"},
		},
		{
			name:   "IPv6 only",
			action: `{"networkConnectionAction":{"remoteIpDetails":{"ipAddressV6":"2001:db8:1234::1"}}}`,
			want:   []string{"2001:db8:1234::1"},
		},
		{
			name:   "kubernetesApiCallAction",
			action: `{"actionType":"KUBERNETES_API_CALL","kubernetesApiCallAction":{"requestUri":"/api","verb":"get","remoteIpDetails":{"ipAddressV4":"192.0.2.44"}}}`,
			want:   []string{"192.0.2.44"},
		},
		{
			name:   "PascalCase keys",
			action: `{"ActionType":"PORT_PROBE","PortProbeAction":{"PortProbeDetails":[{"RemoteIpDetails":{"IpAddressV4":"198.51.100.1"}},{"RemoteIpDetails":{"IpAddressV4":"198.51.100.2"}}]}}`,
			want:   []string{"198.51.100.1", "198.51.100.2"},
		},
		{
			name:   "invalid and non-string addresses ignored",
			action: `{"portProbeAction":{"portProbeDetails":[{"remoteIpDetails":{"ipAddressV4":"not-an-ip"}},{"remoteIpDetails":{"ipAddressV4":42}},{"remoteIpDetails":{"ipAddressV4":null}},{"remoteIpDetails":"198.51.100.9"},{"remoteIpDetails":{"ipAddressV4":"198.51.100.8"}}]}}`,
			want:   []string{"198.51.100.8"},
		},
		{
			name:   "dnsRequestAction has none",
			action: `{"actionType":"DNS_REQUEST","dnsRequestAction":{"domain":"pool.example-mining.net","protocol":"UDP","blocked":false}}`,
			want:   nil,
		},
		{name: "null action", action: `null`, want: nil},
		{name: "no action", action: ``, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := `{"archived":false,"count":1}`
			if tc.action != "" {
				svc = `{"archived":false,"count":1,"action":` + tc.action + `}`
			}
			ev := mustParse(t, mkFinding("service", svc))
			var want []netip.Addr
			for _, s := range tc.want {
				want = append(want, netip.MustParseAddr(s))
			}
			if !slices.Equal(ev.Finding.RemoteIPs, want) {
				t.Errorf("RemoteIPs = %v, want %v", ev.Finding.RemoteIPs, want)
			}
			if len(want) > 0 && (ev.SourceIP != want[0] || ev.SourceAddress != want[0].String()) {
				t.Errorf("SourceIP, SourceAddress = %v, %q, want %v", ev.SourceIP, ev.SourceAddress, want[0])
			}
			if len(want) == 0 && (ev.SourceIP.IsValid() || ev.SourceAddress != "") {
				t.Errorf("SourceIP, SourceAddress = %v, %q, want zero", ev.SourceIP, ev.SourceAddress)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name         string
		kv           []string
		wantSample   bool
		wantArchived bool
		wantCount    int64
	}{
		{"defaults", nil, false, false, 1},
		{"sample true", []string{"service", `{"count":1,"additionalInfo":{"sample":true}}`}, true, false, 1},
		{"sample string true", []string{"service", `{"count":1,"additionalInfo":{"sample":"true"}}`}, true, false, 1},
		{"sample string True", []string{"service", `{"count":1,"additionalInfo":{"sample":"True"}}`}, true, false, 1},
		{"sample false", []string{"service", `{"count":1,"additionalInfo":{"sample":false}}`}, false, false, 1},
		{"sample string false", []string{"service", `{"count":1,"additionalInfo":{"sample":"false"}}`}, false, false, 1},
		{"sample null", []string{"service", `{"count":1,"additionalInfo":{"sample":null}}`}, false, false, 1},
		{"additionalInfo without sample", []string{"service", `{"count":1,"additionalInfo":{"value":"{}","type":"default"}}`}, false, false, 1},
		{"[SAMPLE] title", []string{"title", `"[SAMPLE] Unprotected port on EC2 instance i-99 is being probed."`}, true, false, 1},
		{"[SAMPLE] in type", []string{"type", `"[SAMPLE] Recon:EC2/PortProbeUnprotectedPort"`}, true, false, 1},
		{"SAMPLE word not at title start", []string{"title", `"Not a [SAMPLE] finding"`}, false, false, 1},
		{"archived", []string{"service", `{"archived":true,"count":12}`}, false, true, 12},
		{"PascalCase archived and count", []string{"service", `{"Archived":true,"Count":7,"AdditionalInfo":{"Sample":"true"}}`}, true, true, 7},
		{"no count", []string{"service", `{}`}, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fd := mustParse(t, mkFinding(tc.kv...)).Finding
			if fd.Sample != tc.wantSample || fd.Archived != tc.wantArchived || fd.Count != tc.wantCount {
				t.Errorf("Sample, Archived, Count = %v, %v, %d; want %v, %v, %d", fd.Sample, fd.Archived, fd.Count, tc.wantSample, tc.wantArchived, tc.wantCount)
			}
		})
	}
}

func TestParseTimes(t *testing.T) {
	epoch := time.Date(2021, 11, 11, 10, 15, 55, 218e6, time.UTC)
	tests := []struct {
		name                string
		kv                  []string
		created, updated    time.Time
		firstSeen, lastSeen time.Time
		at                  time.Time
		tolerance           time.Duration
	}{
		{
			name:    "RFC 3339 with milliseconds, lastSeen wins",
			kv:      []string{"createdAt", `"2024-05-01T10:00:00.123Z"`, "updatedAt", `"2024-05-01T11:00:00.456Z"`, "service", `{"eventFirstSeen":"2024-05-01T09:00:00Z","eventLastSeen":"2024-05-01T09:30:00Z"}`},
			created: ts("2024-05-01T10:00:00.123Z"), updated: ts("2024-05-01T11:00:00.456Z"), firstSeen: ts("2024-05-01T09:00:00Z"), lastSeen: ts("2024-05-01T09:30:00Z"),
			at: ts("2024-05-01T09:30:00Z"),
		},
		{
			name:    "no lastSeen: updatedAt",
			kv:      []string{"createdAt", `"2024-05-01T10:00:00Z"`, "updatedAt", `"2024-05-01T11:00:00Z"`},
			created: ts("2024-05-01T10:00:00Z"), updated: ts("2024-05-01T11:00:00Z"), at: ts("2024-05-01T11:00:00Z"),
		},
		{
			name:    "only createdAt",
			kv:      []string{"createdAt", `"2024-05-01T10:00:00Z"`, "updatedAt", ""},
			created: ts("2024-05-01T10:00:00Z"), at: ts("2024-05-01T10:00:00Z"),
		},
		{
			name:    "null and empty times are absent",
			kv:      []string{"createdAt", `"2024-05-01T10:00:00Z"`, "updatedAt", `null`, "service", `{"eventLastSeen":""}`},
			created: ts("2024-05-01T10:00:00Z"), at: ts("2024-05-01T10:00:00Z"),
		},
		{
			name:    "time zone offset",
			kv:      []string{"createdAt", `"2024-05-01T12:00:00+02:00"`, "updatedAt", ""},
			created: ts("2024-05-01T10:00:00Z"), at: ts("2024-05-01T10:00:00Z"),
		},
		{
			name:    "epoch seconds with exponent",
			kv:      []string{"createdAt", `1.636625755218E9`, "updatedAt", `1.636625755218E9`, "service", `{"eventFirstSeen":1.636625755218E9,"eventLastSeen":1.636625755218E9}`},
			created: epoch, updated: epoch, firstSeen: epoch, lastSeen: epoch, at: epoch,
			tolerance: time.Microsecond,
		},
		{
			name:    "epoch seconds integer",
			kv:      []string{"createdAt", `1636625755`, "updatedAt", `1636625755`},
			created: epoch.Truncate(time.Second), updated: epoch.Truncate(time.Second), at: epoch.Truncate(time.Second),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, mkFinding(tc.kv...))
			fd := ev.Finding
			for _, c := range []struct {
				name      string
				got, want time.Time
			}{
				{"CreatedAt", fd.CreatedAt, tc.created}, {"UpdatedAt", fd.UpdatedAt, tc.updated},
				{"FirstSeen", fd.FirstSeen, tc.firstSeen}, {"LastSeen", fd.LastSeen, tc.lastSeen}, {"Event.Time", ev.Time, tc.at},
			} {
				d := c.got.Sub(c.want)
				if d < 0 {
					d = -d
				}
				if c.got.IsZero() != c.want.IsZero() || d > tc.tolerance {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestParseResources(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want []event.Resource
	}{
		{
			name: "instance",
			kv:   []string{"resource", `{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0a1b"}}`},
			want: []event.Resource{{Type: "AWS::EC2::Instance", Account: "111122223333", ARN: "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b"}},
		},
		{
			name: "instance in another partition",
			kv:   []string{"partition", `"aws-cn"`, "region", `"cn-north-1"`, "resource", `{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0a1b"}}`},
			want: []event.Resource{{Type: "AWS::EC2::Instance", Account: "111122223333", ARN: "arn:aws-cn:ec2:cn-north-1:111122223333:instance/i-0a1b"}},
		},
		{
			name: "no partition defaults to aws",
			kv:   []string{"partition", "", "resource", `{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0a1b"}}`},
			want: []event.Resource{{Type: "AWS::EC2::Instance", Account: "111122223333", ARN: "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b"}},
		},
		{
			name: "S3 buckets with and without ARN",
			kv:   []string{"resource", `{"resourceType":"S3Bucket","s3BucketDetails":[{"arn":"arn:aws:s3:::acme-logs","name":"acme-logs","type":"Destination"},{"name":"acme-reports"}]}`},
			want: []event.Resource{{Type: "AWS::S3::Bucket", ARN: "arn:aws:s3:::acme-logs"}, {Type: "AWS::S3::Bucket", ARN: "arn:aws:s3:::acme-reports"}},
		},
		{
			name: "S3 bucket in aws-us-gov",
			kv:   []string{"partition", `"aws-us-gov"`, "resource", `{"resourceType":"S3Bucket","s3BucketDetails":[{"name":"gov-bucket"}]}`},
			want: []event.Resource{{Type: "AWS::S3::Bucket", ARN: "arn:aws-us-gov:s3:::gov-bucket"}},
		},
		{
			name: "EKS cluster",
			kv:   []string{"resource", `{"resourceType":"EKSCluster","eksClusterDetails":{"name":"prod","arn":"arn:aws:eks:us-east-1:111122223333:cluster/prod","vpcId":"vpc-1"}}`},
			want: []event.Resource{{Type: "AWS::EKS::Cluster", Account: "111122223333", ARN: "arn:aws:eks:us-east-1:111122223333:cluster/prod"}},
		},
		{
			name: "instance and bucket",
			kv:   []string{"resource", `{"resourceType":"Instance","instanceDetails":{"instanceId":"i-1"},"s3BucketDetails":[{"name":"b"}]}`},
			want: []event.Resource{{Type: "AWS::EC2::Instance", Account: "111122223333", ARN: "arn:aws:ec2:us-east-1:111122223333:instance/i-1"}, {Type: "AWS::S3::Bucket", ARN: "arn:aws:s3:::b"}},
		},
		{
			name: "other resource type falls back to the type",
			kv:   []string{"resource", `{"resourceType":"Lambda","lambdaDetails":{"functionName":"f"}}`},
			want: []event.Resource{{Type: "Lambda", Account: "111122223333"}},
		},
		{
			name: "empty instance id and EKS details fall back to the type",
			kv:   []string{"resource", `{"resourceType":"Instance","instanceDetails":{},"eksClusterDetails":{}}`},
			want: []event.Resource{{Type: "Instance", Account: "111122223333"}},
		},
		{
			name: "no resource",
			kv:   []string{"resource", ""},
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, mkFinding(tc.kv...))
			if !slices.Equal(ev.Resources, tc.want) {
				t.Errorf("Resources = %+v, want %+v", ev.Resources, tc.want)
			}
		})
	}
}

func TestParseActor(t *testing.T) {
	ev := mustParse(t, mkFinding("resource", `{"resourceType":"AccessKey","accessKeyDetails":{"accessKeyId":"ASIAEXAMPLE","principalId":"AROAEXAMPLE:s","userName":"deploy","userType":"AssumedRole"}}`))
	want := event.Actor{Type: "AssumedRole", AccessKeyID: "ASIAEXAMPLE", PrincipalID: "AROAEXAMPLE:s", UserName: "deploy", Account: "111122223333"}
	if ev.Actor != want {
		t.Errorf("Actor = %+v, want %+v", ev.Actor, want)
	}
	ev = mustParse(t, mkFinding())
	if ev.Actor != (event.Actor{}) {
		t.Errorf("Actor without accessKeyDetails = %+v, want zero", ev.Actor)
	}
}

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{`0`, 0, false},
		{`0.0`, 0, false},
		{`2`, 2, false},
		{`5.0`, 5, false},
		{`8.9`, 8.9, false},
		{`10`, 10, false},
		{`"5.5"`, 5.5, false},
		{`1e1`, 10, false},
		{`10.1`, 0, true},
		{`11`, 0, true},
		{`-0.1`, 0, true},
		{`-1`, 0, true},
		{`1e3`, 0, true},
		{`"high"`, 0, true},
		{`""`, 0, true},
		{`true`, 0, true},
		{`[5]`, 0, true},
		{`{"score":5}`, 0, true},
	}
	for _, tc := range tests {
		ev, err := Parse(mkFinding("severity", tc.in))
		if tc.wantErr {
			if err == nil {
				t.Errorf("Parse(severity %s) = %v, want error", tc.in, ev.Finding.Severity)
			}
			if ev != nil {
				t.Errorf("Parse(severity %s) returned an event with error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(severity %s) error: %v", tc.in, err)
			continue
		}
		if ev.Finding.Severity != tc.want {
			t.Errorf("Parse(severity %s).Severity = %v, want %v", tc.in, ev.Finding.Severity, tc.want)
		}
	}
	// Out-of-range severities are field errors naming severity.
	for _, in := range []string{`10.1`, `-1`} {
		_, err := Parse(mkFinding("severity", in))
		var fe *event.FieldError
		if !errors.As(err, &fe) || fe.Field != "severity" {
			t.Errorf("Parse(severity %s) error = %v, want *event.FieldError for severity", in, err)
		}
	}
}

func TestParseFieldErrors(t *testing.T) {
	tests := []struct {
		name      string
		raw       []byte
		wantField string
	}{
		{"missing id", mkFinding("id", ""), "id"},
		{"empty id", mkFinding("id", `""`), "id"},
		{"null id", mkFinding("id", `null`), "id"},
		{"missing type", mkFinding("type", ""), "type"},
		{"empty type", mkFinding("type", `""`), "type"},
		{"missing severity", mkFinding("severity", ""), "severity"},
		{"null severity", mkFinding("severity", `null`), "severity"},
		{"severity above 10", mkFinding("severity", `10.5`), "severity"},
		{"severity below 0", mkFinding("severity", `-2`), "severity"},
		{"no time at all", mkFinding("createdAt", "", "updatedAt", ""), "updatedAt"},
		{"id of the wrong type", mkFinding("id", `42`), "id"},
		{"archived of the wrong type", mkFinding("service", `{"archived":"yes"}`), "service.archived"},
		{"count of the wrong type", mkFinding("service", `{"count":"many"}`), "service.count"},
		{"title of the wrong type", mkFinding("title", `["a"]`), "title"},
		{"instanceId of the wrong type", mkFinding("resource", `{"instanceDetails":{"instanceId":5}}`), "resource.instanceDetails.instanceId"},
		{"s3BucketDetails of the wrong type", mkFinding("resource", `{"s3BucketDetails":{"name":"b"}}`), "resource.s3BucketDetails"},
		{"NaN severity", mkFinding("severity", `"NaN"`), "severity"},
		{"hexadecimal severity", mkFinding("severity", `"0x1p1"`), "severity"},
		{"underscored severity", mkFinding("severity", `"1_0"`), "severity"},
		{"severity as a word", mkFinding("severity", `"high"`), "severity"},
		{"updatedAt not a time", mkFinding("updatedAt", `"yesterday"`), "updatedAt"},
		{"createdAt not a time", mkFinding("createdAt", `"2024-13-01"`), "createdAt"},
		{"eventLastSeen not a time", mkFinding("service", `{"eventLastSeen":"soon"}`), "service.eventLastSeen"},
		{"sample not a boolean", mkFinding("service", `{"additionalInfo":{"sample":"maybe"}}`), "service.additionalInfo.sample"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.raw)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want error", tc.raw, ev)
			}
			if ev != nil {
				t.Errorf("Parse() returned an event with error %v", err)
			}
			var fe *event.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse() error = %v (%T), want *event.FieldError", err, err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("Parse() error field = %q, want %q (%v)", fe.Field, tc.wantField, err)
			}
		})
	}
}

// TestParseRemoteIPsStable checks that the source IP does not depend on map
// iteration order and that an address written IPv4-mapped is not counted
// twice.
func TestParseRemoteIPsStable(t *testing.T) {
	raw := mkFinding("service", `{"action":{"awsApiCallAction":{"remoteIpDetails":{"ipAddressV4":"198.51.100.1","ipAddressV6":"2001:db8::1"}},`+
		`"networkConnectionAction":{"remoteIpDetails":{"ipAddressV4":"203.0.113.9"}},`+
		`"portProbeAction":{"portProbeDetails":[{"remoteIpDetails":{"ipAddressV6":"::ffff:198.51.100.1"}}]}}}`)
	for range 50 {
		ev := mustParse(t, raw)
		got := fmt.Sprint(ev.Finding.RemoteIPs)
		if got != "[198.51.100.1 2001:db8::1 203.0.113.9]" || ev.SourceIP.String() != "198.51.100.1" {
			t.Fatalf("RemoteIPs = %s, SourceIP = %s", got, ev.SourceIP)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	good := mkFinding()
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"trailing garbage", append(bytes.Clone(good), " x"...)},
		{"array", []byte(`[` + string(good) + `]`)},
		{"string", []byte(`"finding"`)},
		{"null", []byte(`null`)},
		{"empty object", []byte(`{}`)},
		{"bad time string", mkFinding("updatedAt", `"yesterday"`)},
		{"epoch milliseconds", mkFinding("updatedAt", `1636625755218`)},
		{"negative epoch", mkFinding("updatedAt", `-5`)},
		{"time as object", mkFinding("updatedAt", `{"s":1}`)},
		{"sample not a boolean", mkFinding("service", `{"additionalInfo":{"sample":"maybe"}}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.raw)
			if err == nil {
				t.Fatalf("Parse(%.80q) = %+v, want error", tc.raw, ev)
			}
			if ev != nil {
				t.Errorf("Parse() returned an event with error %v", err)
			}
		})
	}
}
