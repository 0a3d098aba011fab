package accessanalyzer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

const (
	aaSamples = "../../testdata/aws/access-analyzer/"
	envelopes = "../decode/testdata/envelopes/"
)

// detail returns the detail of an EventBridge sample.
func detail(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(aaSamples + name)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Detail == nil {
		t.Fatalf("%s: no detail (%v)", name, err)
	}
	return doc.Detail
}

// listFindings returns the elements of the ListFindings sample.
func listFindings(t testing.TB) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(envelopes + "access-analyzer-list-findings.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Findings) != 2 {
		t.Fatalf("access-analyzer-list-findings.json: %v, %d findings", err, len(doc.Findings))
	}
	return doc.Findings
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

func compact(t *testing.T, b []byte) string {
	t.Helper()
	if b == nil {
		return ""
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("json.Compact(%q): %v", b, err)
	}
	return out.String()
}

type want struct {
	id, account, region, typ, status, resourceType, title, principal, errText string
	titlePrefix                                                               string
	archived                                                                  bool
	public                                                                    event.Tristate
	actions                                                                   []string
	created, updated, at                                                      time.Time
	resources                                                                 []event.Resource
}

func TestParseSamples(t *testing.T) {
	list := listFindings(t)
	tests := []struct {
		name string
		raw  []byte
		want want
	}{
		{
			name: "EventBridge active finding",
			raw:  detail(t, "access-analyzer-finding-active.json"),
			want: want{
				id: "22222222-dcba-4444-dcba-333333333333", account: "111122223333", region: "us-west-2", typ: "ExternalAccess",
				status: "ACTIVE", resourceType: "AWS::S3::Bucket", public: event.False, principal: `{"AWS":"999988887777"}`,
				titlePrefix: "AWS::S3::Bucket arn:aws:s3:::my-bucket is shared with ",
				actions:     []string{"s3:GetObject"},
				created:     ts("2019-11-20T04:58:50Z"), updated: ts("2019-11-21T01:14:07Z"), at: ts("2019-11-21T01:22:22Z"),
				resources: []event.Resource{{ARN: "arn:aws:s3:::my-bucket", Type: "AWS::S3::Bucket"}},
			},
		},
		{
			name: "EventBridge error finding",
			raw:  detail(t, "access-analyzer-finding-error.json"),
			want: want{
				id: "22222222-dcba-4444-dcba-333333333333", account: "111122223333", region: "us-west-2", typ: "ExternalAccess",
				status: "ACTIVE", resourceType: "AWS::S3::Bucket", public: event.Unknown, errText: "ACCESS_DENIED",
				title:   "Access Analyzer could not analyze arn:aws:s3:::my-bucket: ACCESS_DENIED",
				created: ts("2019-11-20T04:58:50Z"), updated: ts("2019-11-21T01:14:07Z"), at: ts("2019-11-21T01:22:22Z"),
				resources: []event.Resource{{ARN: "arn:aws:s3:::my-bucket", Type: "AWS::S3::Bucket"}},
			},
		},
		{
			name: "ListFindings public bucket",
			raw:  list[0],
			want: want{
				id: "597f3bc2-3adc-4c18-9879-5c4b23485e46", account: "111122223333", typ: "ExternalAccess",
				status: "ACTIVE", resourceType: "AWS::S3::Bucket", public: event.True, principal: `{"AWS":"*"}`,
				title:   "AWS::S3::Bucket arn:aws:s3:::acme-reports is public",
				actions: []string{"s3:GetObject"},
				created: ts("2026-11-20T09:20:00Z"), updated: ts("2026-11-20T09:20:00Z"), at: ts("2026-11-20T09:20:00Z"),
				resources: []event.Resource{{ARN: "arn:aws:s3:::acme-reports", Type: "AWS::S3::Bucket", Account: "111122223333"}},
			},
		},
		{
			name: "ListFindings role shared with a federated principal",
			raw:  list[1],
			want: want{
				id: "0910eedb-381e-4e95-adda-0d25c19e6e90", account: "111122223333", typ: "ExternalAccess",
				status: "ACTIVE", resourceType: "AWS::IAM::Role", public: event.False, principal: `{"Federated":"cognito-identity.amazonaws.com"}`,
				actions: []string{"sts:AssumeRoleWithWebIdentity"},
				created: ts("2021-02-26T21:17:50.905Z"), updated: ts("2021-02-26T21:17:50.905Z"), at: ts("2024-02-16T18:17:47.888Z"),
				resources: []event.Resource{{ARN: "arn:aws:iam::111122223333:role/Cognito_testpoolAuth_Role", Type: "AWS::IAM::Role", Account: "111122223333"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, tc.raw)
			fd, w := ev.Finding, tc.want
			if ev.Kind != event.KindAccessAnalyzer || ev.Service != "access-analyzer.amazonaws.com" {
				t.Errorf("Kind, Service = %v, %q", ev.Kind, ev.Service)
			}
			if ev.ID != w.id || fd.ID != w.id {
				t.Errorf("ID, Finding.ID = %q, %q, want %q", ev.ID, fd.ID, w.id)
			}
			if ev.Account != w.account || ev.Region != w.region {
				t.Errorf("Account, Region = %q, %q, want %q, %q", ev.Account, ev.Region, w.account, w.region)
			}
			if ev.Action != w.typ || fd.Type != w.typ || fd.Status != w.status || fd.Archived != w.archived || fd.ResourceType != w.resourceType {
				t.Errorf("Action %q Type %q Status %q Archived %v ResourceType %q; want %q %q %v %q",
					ev.Action, fd.Type, fd.Status, fd.Archived, fd.ResourceType, w.typ, w.status, w.archived, w.resourceType)
			}
			if fd.Public != w.public {
				t.Errorf("Public = %v, want %v", fd.Public, w.public)
			}
			if got := compact(t, fd.Principal); got != w.principal {
				t.Errorf("Principal = %s, want %s", got, w.principal)
			}
			if !slices.Equal(fd.Actions, w.actions) {
				t.Errorf("Actions = %q, want %q", fd.Actions, w.actions)
			}
			if fd.Error != w.errText {
				t.Errorf("Error = %q, want %q", fd.Error, w.errText)
			}
			if w.title != "" && fd.Title != w.title {
				t.Errorf("Title = %q, want %q", fd.Title, w.title)
			}
			if !strings.HasPrefix(fd.Title, w.titlePrefix) {
				t.Errorf("Title = %q, want prefix %q", fd.Title, w.titlePrefix)
			}
			if fd.Title == "" {
				t.Error("Title is empty")
			}
			if !fd.CreatedAt.Equal(w.created) || !fd.UpdatedAt.Equal(w.updated) || !ev.Time.Equal(w.at) {
				t.Errorf("CreatedAt, UpdatedAt, Time = %v, %v, %v; want %v, %v, %v", fd.CreatedAt, fd.UpdatedAt, ev.Time, w.created, w.updated, w.at)
			}
			if !slices.Equal(ev.Resources, w.resources) {
				t.Errorf("Resources = %+v, want %+v", ev.Resources, w.resources)
			}
			if len(ev.Raw) != len(tc.raw) || &ev.Raw[0] != &tc.raw[0] {
				t.Error("Raw is not the input")
			}
		})
	}
}

// mkFinding returns a minimal finding with top-level members in kv (key,
// raw JSON; "" removes) replaced or added.
func mkFinding(kv ...string) []byte {
	members := [][2]string{
		{"id", `"a-1"`},
		{"accountId", `"111122223333"`},
		{"region", `"eu-west-1"`},
		{"resource", `"arn:aws:s3:::acme"`},
		{"resourceType", `"AWS::S3::Bucket"`},
		{"resourceOwnerAccount", `"444455556666"`},
		{"status", `"ACTIVE"`},
		{"isPublic", `false`},
		{"principal", `{"AWS":"999988887777"}`},
		{"action", `["s3:GetObject"]`},
		{"condition", `{}`},
		{"createdAt", `"2024-05-01T10:00:00Z"`},
		{"updatedAt", `"2024-05-01T11:00:00Z"`},
		{"analyzedAt", `"2024-05-01T12:00:00Z"`},
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

func TestParsePublic(t *testing.T) {
	tests := []struct {
		in   string
		want event.Tristate
	}{
		{`true`, event.True},
		{`false`, event.False},
		{``, event.Unknown},
		{`null`, event.Unknown},
	}
	for _, tc := range tests {
		ev := mustParse(t, mkFinding("isPublic", tc.in))
		if ev.Finding.Public != tc.want {
			t.Errorf("Parse(isPublic %q).Public = %v, want %v", tc.in, ev.Finding.Public, tc.want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		status       string
		wantArchived bool
	}{
		{`"ACTIVE"`, false},
		{`"ARCHIVED"`, true},
		{`"RESOLVED"`, false},
		{`"archived"`, false},
		{``, false},
	}
	for _, tc := range tests {
		fd := mustParse(t, mkFinding("status", tc.status)).Finding
		want := strings.Trim(tc.status, `"`)
		if fd.Archived != tc.wantArchived || fd.Status != want {
			t.Errorf("Parse(status %s) Archived, Status = %v, %q; want %v, %q", tc.status, fd.Archived, fd.Status, tc.wantArchived, want)
		}
	}
}

func TestParseFields(t *testing.T) {
	tests := []struct {
		name  string
		kv    []string
		check func(t *testing.T, ev *event.Event)
	}{
		{
			name: "findingType sets Type and Action",
			kv:   []string{"findingType", `"UnusedIAMRole"`},
			check: func(t *testing.T, ev *event.Event) {
				if ev.Finding.Type != "UnusedIAMRole" || ev.Action != "UnusedIAMRole" {
					t.Errorf("Type, Action = %q, %q", ev.Finding.Type, ev.Action)
				}
			},
		},
		{
			name: "accountId wins over resourceOwnerAccount",
			check: func(t *testing.T, ev *event.Event) {
				if ev.Account != "111122223333" {
					t.Errorf("Account = %q, want 111122223333", ev.Account)
				}
				want := []event.Resource{{ARN: "arn:aws:s3:::acme", Type: "AWS::S3::Bucket", Account: "444455556666"}}
				if !slices.Equal(ev.Resources, want) {
					t.Errorf("Resources = %+v, want %+v", ev.Resources, want)
				}
			},
		},
		{
			name: "resourceOwnerAccount when no accountId",
			kv:   []string{"accountId", ""},
			check: func(t *testing.T, ev *event.Event) {
				if ev.Account != "444455556666" {
					t.Errorf("Account = %q, want 444455556666", ev.Account)
				}
			},
		},
		{
			name: "no resource, no Resources",
			kv:   []string{"resource", ""},
			check: func(t *testing.T, ev *event.Event) {
				if ev.Resources != nil {
					t.Errorf("Resources = %+v, want nil", ev.Resources)
				}
			},
		},
		{
			name: "analyzedAt wins",
			check: func(t *testing.T, ev *event.Event) {
				if !ev.Time.Equal(ts("2024-05-01T12:00:00Z")) {
					t.Errorf("Time = %v, want analyzedAt", ev.Time)
				}
			},
		},
		{
			name: "then updatedAt",
			kv:   []string{"analyzedAt", ""},
			check: func(t *testing.T, ev *event.Event) {
				if !ev.Time.Equal(ts("2024-05-01T11:00:00Z")) {
					t.Errorf("Time = %v, want updatedAt", ev.Time)
				}
			},
		},
		{
			name: "then createdAt",
			kv:   []string{"analyzedAt", `""`, "updatedAt", ""},
			check: func(t *testing.T, ev *event.Event) {
				if !ev.Time.Equal(ts("2024-05-01T10:00:00Z")) || !ev.Finding.UpdatedAt.IsZero() {
					t.Errorf("Time, UpdatedAt = %v, %v, want createdAt, zero", ev.Time, ev.Finding.UpdatedAt)
				}
			},
		},
		{
			name: "fractional seconds and offsets",
			kv:   []string{"analyzedAt", `"2024-02-16T20:17:47.888+02:00"`},
			check: func(t *testing.T, ev *event.Event) {
				if !ev.Time.Equal(ts("2024-02-16T18:17:47.888Z")) {
					t.Errorf("Time = %v", ev.Time)
				}
			},
		},
		{
			name: "several actions",
			kv:   []string{"action", `["s3:GetObject","s3:ListBucket"]`},
			check: func(t *testing.T, ev *event.Event) {
				if !slices.Equal(ev.Finding.Actions, []string{"s3:GetObject", "s3:ListBucket"}) {
					t.Errorf("Actions = %q", ev.Finding.Actions)
				}
			},
		},
		{
			name: "title names the resource when nothing else is known",
			kv:   []string{"principal", "", "isPublic", ""},
			check: func(t *testing.T, ev *event.Event) {
				if ev.Finding.Title != "ExternalAccess finding for AWS::S3::Bucket arn:aws:s3:::acme" {
					t.Errorf("Title = %q", ev.Finding.Title)
				}
				if ev.Finding.Principal != nil {
					t.Errorf("Principal = %q, want nil", ev.Finding.Principal)
				}
			},
		},
		{
			name: "Principal is a copy, not an alias of the input",
			check: func(t *testing.T, ev *event.Event) {
				if compact(t, ev.Finding.Principal) != `{"AWS":"999988887777"}` {
					t.Errorf("Principal = %s", ev.Finding.Principal)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, mustParse(t, mkFinding(tc.kv...)))
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		raw       []byte
		wantField string
	}{
		{"missing id", mkFinding("id", ""), "id"},
		{"empty id", mkFinding("id", `""`), "id"},
		{"null id", mkFinding("id", `null`), "id"},
		{"missing resourceType", mkFinding("resourceType", ""), "resourceType"},
		{"empty resourceType", mkFinding("resourceType", `""`), "resourceType"},
		{"bad createdAt", mkFinding("createdAt", `"2019/11/20 04:58:50"`), "createdAt"},
		{"bad updatedAt", mkFinding("updatedAt", `"yesterday"`), "updatedAt"},
		{"bad analyzedAt", mkFinding("analyzedAt", `"2019-11-21"`), "analyzedAt"},
		{"analyzedAt without zone", mkFinding("analyzedAt", `"2019-11-21T01:22:22"`), "analyzedAt"},
		{"createdAt as epoch number", mkFinding("createdAt", `1574225930`), "createdAt"},
		{"no time at all", mkFinding("createdAt", "", "updatedAt", "", "analyzedAt", ""), "analyzedAt"},
		{"isPublic as string", mkFinding("isPublic", `"true"`), "isPublic"},
		{"action as string", mkFinding("action", `"s3:GetObject"`), "action"},
		{"action element not a string", mkFinding("action", `["s3:GetObject", 5]`), "action"},
		{"id as number", mkFinding("id", `42`), "id"},
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

func TestParseMalformed(t *testing.T) {
	good := mkFinding()
	for _, raw := range [][]byte{
		nil,
		[]byte(`[`),
		good[:len(good)-1],
		append(bytes.Clone(good), " {}"...),
		[]byte(`"finding"`),
		[]byte(`[` + string(good) + `]`),
	} {
		ev, err := Parse(raw)
		if err == nil || ev != nil {
			t.Errorf("Parse(%.60q) = %v, %v; want nil, error", raw, ev, err)
		}
	}
}

// keysOf returns the membership function of a JSON object's top-level keys.
func keysOf(t *testing.T, raw []byte) func(string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("keysOf(%.60s): %v", raw, err)
	}
	return func(k string) bool { _, ok := m[k]; return ok }
}

func TestLooks(t *testing.T) {
	list := listFindings(t)
	gdEventBridge, err := os.ReadFile(envelopes + "eventbridge-guardduty.json")
	if err != nil {
		t.Fatal(err)
	}
	var gd struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(gdEventBridge, &gd); err != nil {
		t.Fatal(err)
	}
	gdCLI, err := os.ReadFile(envelopes + "guardduty-cli-get-findings.json")
	if err != nil {
		t.Fatal(err)
	}
	var cli struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(gdCLI, &cli); err != nil || len(cli.Findings) == 0 {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		raw  []byte
		want bool
	}{
		{"EventBridge active finding", detail(t, "access-analyzer-finding-active.json"), true},
		{"EventBridge error finding", detail(t, "access-analyzer-finding-error.json"), true},
		{"ListFindings element 0", list[0], true},
		{"ListFindings element 1", list[1], true},
		{"unused access finding", []byte(`{"id":"x","resourceType":"AWS::IAM::Role","findingType":"UnusedIAMRole"}`), true},
		{"only resourceOwnerAccount", []byte(`{"id":"x","resourceType":"AWS::IAM::Role","resourceOwnerAccount":"1"}`), true},
		{"GuardDuty finding (EventBridge detail)", gd.Detail, false},
		{"GuardDuty finding (CLI)", cli.Findings[0], false},
		{"access preview state change", detail(t, "access-preview-state-change-completed.json"), false},
		{"EventBridge envelope", mustRead(t, aaSamples+"access-analyzer-finding-active.json"), false},
		{"id and resourceType only", []byte(`{"id":"x","resourceType":"AWS::S3::Bucket"}`), false},
		{"no id", []byte(`{"resourceType":"AWS::S3::Bucket","isPublic":true,"principal":{}}`), false},
		{"no resourceType", []byte(`{"id":"x","isPublic":true,"principal":{}}`), false},
		{"empty", []byte(`{}`), false},
	}
	for _, tc := range tests {
		if got := Looks(keysOf(t, tc.raw)); got != tc.want {
			t.Errorf("Looks(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
