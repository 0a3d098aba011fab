package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

const awsdocs = "../../testdata/aws/cloudtrail/awsdocs/"

// baseMembers is the record that [record] starts from, in key order.
var baseMembers = [][2]string{
	{"eventVersion", `"1.08"`},
	{"userIdentity", `{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"alice"}`},
	{"eventTime", `"2024-05-01T12:34:56Z"`},
	{"eventSource", `"s3.amazonaws.com"`},
	{"eventName", `"PutBucketAcl"`},
	{"awsRegion", `"eu-west-1"`},
	{"sourceIPAddress", `"203.0.113.7"`},
	{"userAgent", `"aws-cli/2.15.0"`},
	{"requestParameters", `{"bucketName":"acme-reports","acl":""}`},
	{"responseElements", `null`},
	{"eventID", `"0f2c6d55-3c1d-4b1e-9a0e-2f9d1c7b6a01"`},
	{"readOnly", `false`},
	{"eventType", `"AwsApiCall"`},
	{"recipientAccountId", `"111122223333"`},
}

// record returns the base record with members changed: kv holds pairs of
// key and raw JSON value. A known key is replaced in place (or removed when
// the value is ""), an unknown key is appended.
func record(kv ...string) []byte {
	if len(kv)%2 != 0 {
		panic("record: odd number of arguments")
	}
	members := append([][2]string(nil), baseMembers...)
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
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, m := range members {
		if m[1] == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(`"` + m[0] + `":` + m[1])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func mustParse(t *testing.T, raw []byte) *event.Event {
	t.Helper()
	ev, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%.200s) error: %v", raw, err)
	}
	if ev == nil {
		t.Fatalf("Parse(%.200s) = nil, nil", raw)
	}
	return ev
}

// within reports whether sub is a sub-slice of buf's memory.
func within(sub, buf []byte) bool {
	if len(sub) == 0 || len(buf) == 0 {
		return false
	}
	for i := range buf {
		if &buf[i] == &sub[0] {
			return i+len(sub) <= len(buf)
		}
	}
	return false
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("json.Compact(%q): %v", b, err)
	}
	return out.String()
}

// examples returns the records of an awsdocs examples file: each example
// unwrapped, and a {"Records":[...]} example split into its records.
func examples(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(awsdocs, name))
	if err != nil {
		t.Fatal(err)
	}
	var doc []struct {
		Title   string          `json:"title"`
		Example json.RawMessage `json:"example"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []json.RawMessage
	for _, d := range doc {
		var wrapped struct{ Records []json.RawMessage }
		if err := json.Unmarshal(d.Example, &wrapped); err == nil && wrapped.Records != nil {
			out = append(out, wrapped.Records...)
			continue
		}
		out = append(out, d.Example)
	}
	return out
}

func TestParseBaseRecord(t *testing.T) {
	raw := record()
	ev := mustParse(t, raw)
	wantTime := time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Kind", ev.Kind, event.KindCloudTrail},
		{"ID", ev.ID, "0f2c6d55-3c1d-4b1e-9a0e-2f9d1c7b6a01"},
		{"Account", ev.Account, "111122223333"},
		{"Region", ev.Region, "eu-west-1"},
		{"Service", ev.Service, "s3.amazonaws.com"},
		{"Action", ev.Action, "PutBucketAcl"},
		{"EventType", ev.EventType, "AwsApiCall"},
		{"UserAgent", ev.UserAgent, "aws-cli/2.15.0"},
		{"SourceAddress", ev.SourceAddress, "203.0.113.7"},
		{"SourceIP", ev.SourceIP, netip.MustParseAddr("203.0.113.7")},
		{"ReadOnly", ev.ReadOnly, event.False},
		{"ErrorCode", ev.ErrorCode, ""},
		{"Failed", ev.Failed(), false},
		{"RequestParameters", string(ev.RequestParameters), `{"bucketName":"acme-reports","acl":""}`},
		{"ResponseElements==nil", ev.ResponseElements == nil, true},
		{"AdditionalEventData==nil", ev.AdditionalEventData == nil, true},
		{"ServiceEventDetails==nil", ev.ServiceEventDetails == nil, true},
		{"InsightDetails==nil", ev.InsightDetails == nil, true},
		{"SignIn==nil", ev.SignIn == nil, true},
		{"Finding==nil", ev.Finding == nil, true},
		{"Flow==nil", ev.Flow == nil, true},
		{"Resources", len(ev.Resources), 0},
		{"Actor.Name", ev.Actor.Name(), "alice"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("Parse(base).%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !ev.Time.Equal(wantTime) {
		t.Errorf("Parse(base).Time = %v, want %v", ev.Time, wantTime)
	}
	if len(ev.Raw) != len(raw) || &ev.Raw[0] != &raw[0] {
		t.Errorf("Parse(base).Raw is not the input slice")
	}
}

func TestParseUserIdentity(t *testing.T) {
	tests := []struct {
		name     string
		identity string
		want     event.Actor
		wantName string
	}{
		{
			name:     "Root",
			identity: `{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEROOTKEY01"}`,
			want:     event.Actor{Type: "Root", PrincipalID: "111122223333", ARN: "arn:aws:iam::111122223333:root", Account: "111122223333", AccessKeyID: "ASIAEXAMPLEROOTKEY01"},
			wantName: "root",
		},
		{
			name:     "IAMUser",
			identity: `{"type":"IAMUser","principalId":"AIDAJ45Q7YFFAREXAMPLE","arn":"arn:aws:iam::123456789012:user/Alice","accountId":"123456789012","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"Alice"}`,
			want:     event.Actor{Type: "IAMUser", PrincipalID: "AIDAJ45Q7YFFAREXAMPLE", ARN: "arn:aws:iam::123456789012:user/Alice", Account: "123456789012", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", UserName: "Alice"},
			wantName: "Alice",
		},
		{
			name: "AssumedRole with session issuer, MFA and source identity",
			identity: `{"type":"AssumedRole","principalId":"AROAIDPPEZS35WEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAIOSFODNN7EXAMPLE",
				"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAIDPPEZS35WEXAMPLE","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},
				"webIdFederationData":{},"attributes":{"creationDate":"2024-05-01T12:00:00Z","mfaAuthenticated":"true"},"sourceIdentity":"alice@example.com"}}`,
			want: event.Actor{Type: "AssumedRole", PrincipalID: "AROAIDPPEZS35WEXAMPLE:alice", ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice", Account: "111122223333", AccessKeyID: "ASIAIOSFODNN7EXAMPLE",
				SessionIssuer: "arn:aws:iam::111122223333:role/Admin", SessionIssuerType: "Role", SessionIssuerName: "Admin", SessionName: "alice", MFA: event.True, SourceIdentity: "alice@example.com"},
			wantName: "Admin/alice",
		},
		{
			name: "AssumedRole SSO role with path and e-mail session name, MFA as bool",
			identity: `{"type":"AssumedRole","principalId":"AROA3XFRBF535EXAMPLE:alice@example.com","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_5a7b1c/alice@example.com","accountId":"111122223333",
				"sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_5a7b1c","userName":"AWSReservedSSO_AdministratorAccess_5a7b1c"},"attributes":{"mfaAuthenticated":false}}}`,
			want: event.Actor{Type: "AssumedRole", PrincipalID: "AROA3XFRBF535EXAMPLE:alice@example.com", ARN: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_5a7b1c/alice@example.com", Account: "111122223333",
				SessionIssuer: "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_5a7b1c", SessionIssuerType: "Role", SessionIssuerName: "AWSReservedSSO_AdministratorAccess_5a7b1c", SessionName: "alice@example.com", MFA: event.False},
			wantName: "AWSReservedSSO_AdministratorAccess_5a7b1c/alice@example.com",
		},
		{
			name:     "AssumedRole without assumed-role ARN has no session name",
			identity: `{"type":"AssumedRole","principalId":"AROAEXAMPLE:x","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333"}`,
			want:     event.Actor{Type: "AssumedRole", PrincipalID: "AROAEXAMPLE:x", ARN: "arn:aws:iam::111122223333:role/Admin", Account: "111122223333"},
			wantName: "arn:aws:iam::111122223333:role/Admin",
		},
		{
			name: "AssumedRole through web identity federation",
			identity: `{"type":"AssumedRole","principalId":"AROAEXAMPLEGH:GitHubActions","arn":"arn:aws:sts::111122223333:assumed-role/deploy/GitHubActions","accountId":"111122223333",
				"sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/deploy","userName":"deploy"},
				"webIdFederationData":{"federatedProvider":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com","attributes":{}},"attributes":{"mfaAuthenticated":"false"}}}`,
			want: event.Actor{Type: "AssumedRole", PrincipalID: "AROAEXAMPLEGH:GitHubActions", ARN: "arn:aws:sts::111122223333:assumed-role/deploy/GitHubActions", Account: "111122223333",
				SessionIssuer: "arn:aws:iam::111122223333:role/deploy", SessionIssuerType: "Role", SessionIssuerName: "deploy", SessionName: "GitHubActions", MFA: event.False,
				IdentityProvider: "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
			wantName: "deploy/GitHubActions",
		},
		{
			name: "FederatedUser is named by its ARN; the issuing user is its session issuer",
			identity: `{"accessKeyId":"ASIASTJKC5GCM7ZE6LUP","accountId":"742491224508","arn":"arn:aws:sts::742491224508:federated-user/stratus_red_team","principalId":"742491224508:stratus_red_team",
				"sessionContext":{"attributes":{"creationDate":"2024-11-30T08:43:17Z","mfaAuthenticated":"false"},"sessionIssuer":{"accountId":"742491224508","arn":"arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user","principalId":"AIDAN7SEM6PEVTNQR8M4","type":"IAMUser","userName":"stratus-red-team-user-federation-user"},"webIdFederationData":{}},"type":"FederatedUser"}`,
			want: event.Actor{Type: "FederatedUser", PrincipalID: "742491224508:stratus_red_team", ARN: "arn:aws:sts::742491224508:federated-user/stratus_red_team", Account: "742491224508", AccessKeyID: "ASIASTJKC5GCM7ZE6LUP",
				SessionIssuer: "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user", SessionIssuerType: "IAMUser", SessionIssuerName: "stratus-red-team-user-federation-user", MFA: event.False},
			wantName: "stratus_red_team",
		},
		{
			name:     "AWSService",
			identity: `{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}`,
			want:     event.Actor{Type: "AWSService", InvokedBy: "cloudtrail.amazonaws.com"},
			wantName: "cloudtrail.amazonaws.com",
		},
		{
			name:     "AWSAccount",
			identity: `{"type":"AWSAccount","principalId":"AIDAEXAMPLEOTHER","accountId":"444455556666","invokedBy":"AWS Internal"}`,
			want:     event.Actor{Type: "AWSAccount", PrincipalID: "AIDAEXAMPLEOTHER", Account: "444455556666", InvokedBy: "AWS Internal"},
			wantName: "AWS Internal",
		},
		{
			name:     "IdentityCenterUser",
			identity: `{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-9067642ac7"},"credentialId":"EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"}`,
			want:     event.Actor{Type: "IdentityCenterUser", Account: "111122223333"},
			wantName: "",
		},
		{
			name:     "SAMLUser",
			identity: `{"type":"SAMLUser","principalId":"9EM8Wj5n2Y0b5+wz/37JlS1qlPA=:kamilo@cribl.io","userName":"kamilo@cribl.io","identityProvider":"9EM8Wj5n2Y0b5+wz/37JlS1qlPA="}`,
			want:     event.Actor{Type: "SAMLUser", PrincipalID: "9EM8Wj5n2Y0b5+wz/37JlS1qlPA=:kamilo@cribl.io", UserName: "kamilo@cribl.io", IdentityProvider: "9EM8Wj5n2Y0b5+wz/37JlS1qlPA="},
			wantName: "kamilo@cribl.io",
		},
		{
			name:     "WebIdentityUser",
			identity: `{"type":"WebIdentityUser","principalId":"accounts.google.com:123456789012.apps.googleusercontent.com:1234567890","userName":"1234567890","identityProvider":"accounts.google.com"}`,
			want:     event.Actor{Type: "WebIdentityUser", PrincipalID: "accounts.google.com:123456789012.apps.googleusercontent.com:1234567890", UserName: "1234567890", IdentityProvider: "accounts.google.com"},
			wantName: "1234567890",
		},
		{
			name: "identityProvider wins over webIdFederationData, whatever the key order",
			identity: `{"type":"WebIdentityUser","sessionContext":{"webIdFederationData":{"federatedProvider":"cognito-identity.amazonaws.com"}},
				"identityProvider":"accounts.google.com","userName":"u"}`,
			want:     event.Actor{Type: "WebIdentityUser", UserName: "u", IdentityProvider: "accounts.google.com"},
			wantName: "u",
		},
		{
			name:     "service event identity without type",
			identity: `{"accountId":"123456789012","invokedBy":"AWS Internal"}`,
			want:     event.Actor{Account: "123456789012", InvokedBy: "AWS Internal"},
			wantName: "AWS Internal",
		},
		{
			name:     "numeric accountId and principalId",
			identity: `{"type":"Root","principalId":111122223333,"accountId":111122223333}`,
			want:     event.Actor{Type: "Root", PrincipalID: "111122223333", Account: "111122223333"},
			wantName: "root",
		},
		{
			name:     "sessionContext, sessionIssuer and attributes of the wrong JSON type are ignored",
			identity: `{"type":"IAMUser","userName":"bob","sessionContext":{"sessionIssuer":"x","attributes":[1],"webIdFederationData":null}}`,
			want:     event.Actor{Type: "IAMUser", UserName: "bob"},
			wantName: "bob",
		},
		{
			name:     "sessionContext as a string is ignored",
			identity: `{"type":"IAMUser","userName":"bob","sessionContext":"oops"}`,
			want:     event.Actor{Type: "IAMUser", UserName: "bob"},
			wantName: "bob",
		},
		{name: "null", identity: `null`, want: event.Actor{}},
		{name: "string", identity: `"AWS Internal"`, want: event.Actor{}},
		{name: "array", identity: `[{"type":"Root"}]`, want: event.Actor{}},
		{name: "number", identity: `42`, want: event.Actor{}},
		{name: "absent", identity: ``, want: event.Actor{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := record("userIdentity", tc.identity, "recipientAccountId", "")
			ev := mustParse(t, raw)
			if ev.Actor != tc.want {
				t.Errorf("Parse().Actor =\n\t%+v\nwant\n\t%+v", ev.Actor, tc.want)
			}
			if got := ev.Actor.Name(); got != tc.wantName {
				t.Errorf("Parse().Actor.Name() = %q, want %q", got, tc.wantName)
			}
			if ev.Account != tc.want.Account {
				t.Errorf("Parse().Account = %q, want userIdentity.accountId %q (no recipientAccountId)", ev.Account, tc.want.Account)
			}
		})
	}
}

func TestParseReadOnly(t *testing.T) {
	tests := []struct {
		in   string
		want event.Tristate
	}{
		{`true`, event.True},
		{`false`, event.False},
		{`"true"`, event.True},
		{`"false"`, event.False},
		{`"TRUE"`, event.True},
		{`"False"`, event.False},
		{`"yes"`, event.Unknown},
		{`1`, event.Unknown},
		{`null`, event.Unknown},
		{`{}`, event.Unknown},
		{``, event.Unknown}, // absent
	}
	for _, tc := range tests {
		ev := mustParse(t, record("readOnly", tc.in))
		if ev.ReadOnly != tc.want {
			t.Errorf("Parse(readOnly: %s).ReadOnly = %v, want %v", tc.in, ev.ReadOnly, tc.want)
		}
	}
}

func TestParseAccount(t *testing.T) {
	tests := []struct {
		name      string
		recipient string
		identity  string
		want      string
	}{
		{"recipient wins", `"444455556666"`, `{"type":"IAMUser","accountId":"111122223333"}`, "444455556666"},
		{"fallback to userIdentity.accountId", ``, `{"type":"IAMUser","accountId":"111122223333"}`, "111122223333"},
		{"null recipient falls back", `null`, `{"type":"IAMUser","accountId":"111122223333"}`, "111122223333"},
		{"empty recipient falls back", `""`, `{"type":"IAMUser","accountId":"111122223333"}`, "111122223333"},
		{"numeric recipient", `444455556666`, `{"type":"IAMUser"}`, "444455556666"},
		{"neither", ``, `{"type":"AWSService","invokedBy":"s3.amazonaws.com"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, record("recipientAccountId", tc.recipient, "userIdentity", tc.identity))
			if ev.Account != tc.want {
				t.Errorf("Parse().Account = %q, want %q", ev.Account, tc.want)
			}
		})
	}
}

func TestParseSourceIP(t *testing.T) {
	tests := []struct {
		name     string
		in       string // raw JSON, "" for absent
		wantAddr string
		wantIP   string // "" for an invalid netip.Addr
	}{
		{"IPv4", `"203.0.113.7"`, "203.0.113.7", "203.0.113.7"},
		{"IPv6", `"2001:db8:1234:a100:8d6e:3477:df66:f105"`, "2001:db8:1234:a100:8d6e:3477:df66:f105", "2001:db8:1234:a100:8d6e:3477:df66:f105"},
		{"IPv6 loopback", `"::1"`, "::1", "::1"},
		{"IPv4-mapped IPv6 is unmapped", `"::ffff:203.0.113.7"`, "::ffff:203.0.113.7", "203.0.113.7"},
		{"service name", `"s3.amazonaws.com"`, "s3.amazonaws.com", ""},
		{"AWS Internal", `"AWS Internal"`, "AWS Internal", ""},
		{"IPv4 with leading zero (anonymised data)", `"255.090.254.5"`, "255.090.254.5", ""},
		{"empty", `""`, "", ""},
		{"null", `null`, "", ""},
		{"number", `12345`, "", ""},
		{"absent", ``, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, record("sourceIPAddress", tc.in))
			if ev.SourceAddress != tc.wantAddr {
				t.Errorf("Parse().SourceAddress = %q, want %q", ev.SourceAddress, tc.wantAddr)
			}
			if tc.wantIP == "" {
				if ev.SourceIP.IsValid() {
					t.Errorf("Parse().SourceIP = %v, want invalid", ev.SourceIP)
				}
				return
			}
			want := netip.MustParseAddr(tc.wantIP)
			if ev.SourceIP != want {
				t.Errorf("Parse().SourceIP = %v, want %v", ev.SourceIP, want)
			}
			if ev.SourceIP.Is4In6() {
				t.Errorf("Parse().SourceIP = %v is IPv4-mapped, want unmapped", ev.SourceIP)
			}
		})
	}
}

func TestParseResources(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []event.Resource
	}{
		{
			name: "ARN upper case (service events)",
			in:   `[{"ARN":"arn:aws:kms:us-east-2:123456789012:key/7944f0ec-EXAMPLE","accountId":"123456789012","type":"AWS::KMS::Key"}]`,
			want: []event.Resource{{ARN: "arn:aws:kms:us-east-2:123456789012:key/7944f0ec-EXAMPLE", Account: "123456789012", Type: "AWS::KMS::Key"}},
		},
		{
			name: "arn lower case (data events)",
			in:   `[{"type":"AWS::S3::Object","arn":"arn:aws:s3:::acme/key.txt"},{"accountId":"111122223333","type":"AWS::S3::Bucket","arn":"arn:aws:s3:::acme"}]`,
			want: []event.Resource{{ARN: "arn:aws:s3:::acme/key.txt", Type: "AWS::S3::Object"}, {ARN: "arn:aws:s3:::acme", Type: "AWS::S3::Bucket", Account: "111122223333"}},
		},
		{
			name: "mixed key case, numeric account",
			in:   `[{"Arn":"arn:aws:iam::111122223333:role/x","Type":"AWS::IAM::Role","AccountId":111122223333}]`,
			want: []event.Resource{{ARN: "arn:aws:iam::111122223333:role/x", Type: "AWS::IAM::Role", Account: "111122223333"}},
		},
		{
			name: "empty objects and non-objects are skipped",
			in:   `[{}, "arn:aws:s3:::x", null, 7, {"ARN":null}, {"unrelated":"y"}, {"type":"AWS::EC2::Instance"}]`,
			want: []event.Resource{{Type: "AWS::EC2::Instance"}},
		},
		{name: "empty array", in: `[]`, want: nil},
		{name: "null", in: `null`, want: nil},
		{name: "object instead of array", in: `{"ARN":"arn:aws:s3:::x"}`, want: nil},
		{name: "absent", in: ``, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, record("resources", tc.in))
			if len(ev.Resources) != len(tc.want) {
				t.Fatalf("Parse().Resources = %+v, want %+v", ev.Resources, tc.want)
			}
			for i := range tc.want {
				if ev.Resources[i] != tc.want[i] {
					t.Errorf("Parse().Resources[%d] = %+v, want %+v", i, ev.Resources[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseSubDocuments(t *testing.T) {
	type getter func(*event.Event) []byte
	fields := []struct {
		key string
		get getter
	}{
		{"requestParameters", func(e *event.Event) []byte { return e.RequestParameters }},
		{"RequestParameters", func(e *event.Event) []byte { return e.RequestParameters }},
		{"responseElements", func(e *event.Event) []byte { return e.ResponseElements }},
		{"ResponseElements", func(e *event.Event) []byte { return e.ResponseElements }},
		{"additionalEventData", func(e *event.Event) []byte { return e.AdditionalEventData }},
		{"serviceEventDetails", func(e *event.Event) []byte { return e.ServiceEventDetails }},
	}
	values := []struct {
		name string
		raw  string // as written after the colon
		want string // the expected sub-slice, "" for nil
	}{
		{"object", `{"bucketName":"acme","x":[1,{"y":null}]}`, `{"bucketName":"acme","x":[1,{"y":null}]}`},
		{"object with inner whitespace", ` { "a" : 1 , "b" : "c" } `, `{ "a" : 1 , "b" : "c" }`},
		{"empty object", `{}`, `{}`},
		{"escaped strings", `{"k":"a\"b\\c\u00e9"}`, `{"k":"a\"b\\c\u00e9"}`},
		{"array", `[1,2]`, `[1,2]`},
		{"string", `"HIDDEN_DUE_TO_SECURITY_REASONS"`, `"HIDDEN_DUE_TO_SECURITY_REASONS"`},
		{"null", `null`, ``},
		{"null with whitespace", `  null  `, ``},
	}
	for _, f := range fields {
		for _, v := range values {
			t.Run(f.key+"/"+v.name, func(t *testing.T) {
				kv := []string{f.key, v.raw}
				switch f.key {
				case "RequestParameters":
					kv = append(kv, "requestParameters", "")
				case "ResponseElements":
					kv = append(kv, "responseElements", "")
				}
				raw := record(kv...)
				ev := mustParse(t, raw)
				got := f.get(ev)
				if v.want == "" {
					if got != nil {
						t.Errorf("Parse().%s = %q, want nil", f.key, got)
					}
					return
				}
				if string(got) != v.want {
					t.Errorf("Parse().%s = %q, want %q", f.key, got, v.want)
				}
				if !within(got, raw) {
					t.Errorf("Parse().%s does not alias the record", f.key)
				}
				if !within(got, ev.Raw) {
					t.Errorf("Parse().%s does not alias Raw", f.key)
				}
			})
		}
	}
	t.Run("absent", func(t *testing.T) {
		ev := mustParse(t, record("requestParameters", "", "responseElements", ""))
		if ev.RequestParameters != nil || ev.ResponseElements != nil || ev.AdditionalEventData != nil || ev.ServiceEventDetails != nil {
			t.Errorf("Parse() sub-documents = %q %q %q %q, want all nil", ev.RequestParameters, ev.ResponseElements, ev.AdditionalEventData, ev.ServiceEventDetails)
		}
	})
}

func TestParseVPCEndpoint(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want string
	}{
		{"top level", []string{"vpcEndpointId", `"vpce-1111"`}, "vpce-1111"},
		{"from additionalEventData", []string{"additionalEventData", `{"vpcEndpointId":"vpce-2222"}`}, "vpce-2222"},
		{"top level wins", []string{"vpcEndpointId", `"vpce-1111"`, "additionalEventData", `{"vpcEndpointId":"vpce-2222"}`}, "vpce-1111"},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		ev := mustParse(t, record(tc.kv...))
		if ev.VPCEndpointID != tc.want {
			t.Errorf("%s: Parse().VPCEndpointID = %q, want %q", tc.name, ev.VPCEndpointID, tc.want)
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name              string
		kv                []string
		wantCode, wantMsg string
		wantFailed        bool
	}{
		{"code and message", []string{"errorCode", `"AccessDenied"`, "errorMessage", `"Access Denied"`}, "AccessDenied", "Access Denied", true},
		{"code only", []string{"errorCode", `"Client.UnauthorizedOperation"`}, "Client.UnauthorizedOperation", "", true},
		{"message only", []string{"errorMessage", `"Failed authentication"`}, "", "Failed authentication", false},
		{"null code", []string{"errorCode", `null`}, "", "", false},
		{"none", nil, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, record(tc.kv...))
			if ev.ErrorCode != tc.wantCode || ev.ErrorMessage != tc.wantMsg {
				t.Errorf("Parse() ErrorCode, ErrorMessage = %q, %q, want %q, %q", ev.ErrorCode, ev.ErrorMessage, tc.wantCode, tc.wantMsg)
			}
			if ev.Failed() != tc.wantFailed {
				t.Errorf("Parse().Failed() = %v, want %v", ev.Failed(), tc.wantFailed)
			}
		})
	}

	// The user guide's error example.
	recs := examples(t, "cloudtrail-log-file-examples.examples.json")
	var found bool
	for _, r := range recs {
		if !bytes.Contains(r, []byte("TrailNotFoundException")) {
			continue
		}
		found = true
		ev := mustParse(t, r)
		if !ev.Failed() || ev.ErrorCode != "TrailNotFoundException" || ev.ErrorMessage != "Unknown trail: myTrail2 for the user: 123456789012" {
			t.Errorf("Parse(UpdateTrail example) ErrorCode, ErrorMessage, Failed = %q, %q, %v", ev.ErrorCode, ev.ErrorMessage, ev.Failed())
		}
		if compact(t, ev.RequestParameters) != `{"name":"myTrail2"}` || ev.ResponseElements != nil {
			t.Errorf("Parse(UpdateTrail example) RequestParameters, ResponseElements = %q, %q", ev.RequestParameters, ev.ResponseElements)
		}
	}
	if !found {
		t.Fatal("UpdateTrail error example not found in testdata")
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{`"2024-05-01T12:34:56Z"`, time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)},
		{`"2024-05-01T12:34:56.789Z"`, time.Date(2024, 5, 1, 12, 34, 56, 789e6, time.UTC)},
		{`"2024-05-01T14:34:56+02:00"`, time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)},
	}
	for _, tc := range tests {
		ev := mustParse(t, record("eventTime", tc.in))
		if !ev.Time.Equal(tc.want) {
			t.Errorf("Parse(eventTime %s).Time = %v, want %v", tc.in, ev.Time, tc.want)
		}
	}
}

func TestParseFieldErrors(t *testing.T) {
	tests := []struct {
		name      string
		raw       []byte
		wantField string
	}{
		{"missing eventTime", record("eventTime", ""), "eventTime"},
		{"eventTime not RFC 3339", record("eventTime", `"2024-05-01 12:34:56"`), "eventTime"},
		{"eventTime date only", record("eventTime", `"2024-05-01"`), "eventTime"},
		{"eventTime as epoch number", record("eventTime", `1714566896`), "eventTime"},
		{"eventTime empty", record("eventTime", `""`), "eventTime"},
		{"eventTime null", record("eventTime", `null`), "eventTime"},
		{"eventTime out of range", record("eventTime", `"2024-13-01T00:00:00Z"`), "eventTime"},
		{"empty eventName", record("eventName", `""`), "eventName"},
		{"insight without eventName in insightDetails", record("eventName", "", "eventSource", "", "insightDetails", `{"state":"Start","eventSource":"ssm.amazonaws.com"}`), "eventName"},
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
			if errors.Is(err, ErrNotCloudTrail) {
				t.Errorf("Parse() error %v is ErrNotCloudTrail, want a field error only", err)
			}
		})
	}
}

func TestParseNotCloudTrail(t *testing.T) {
	s3note := firstRecord(t, "../../testdata/aws/s3-event-notifications/s3-event.json")
	sqs := firstRecord(t, "../decode/testdata/envelopes/lambda-sqs-event.json")
	tests := []struct {
		name string
		raw  []byte
	}{
		{"S3 event notification", s3note},
		{"Lambda SQS record", sqs},
		{"constructed S3 notification", []byte(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2024-05-01T12:00:00.000Z","eventName":"ObjectCreated:Put","s3":{}}`)},
		{"eventSource aws:sns", record("eventSource", `"aws:sns"`)},
		{"no eventVersion", record("eventVersion", "")},
		{"no eventName", record("eventName", "")},
		{"empty object", []byte(`{}`)},
		{"EventBridge envelope", []byte(`{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","time":"2024-05-01T12:00:00Z","detail":{}}`)},
		{"insightDetails null", record("eventName", "", "insightDetails", `null`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.raw)
			if !errors.Is(err, ErrNotCloudTrail) {
				t.Errorf("Parse(%.120s) = %v, %v; want ErrNotCloudTrail", tc.raw, ev, err)
			}
			if ev != nil {
				t.Errorf("Parse() returned an event with error %v", err)
			}
		})
	}
}

func firstRecord(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Records []json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Records) == 0 {
		t.Fatalf("%s: no Records (%v)", path, err)
	}
	return doc.Records[0]
}

func TestParseMalformed(t *testing.T) {
	good := record()
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"whitespace", []byte("  \n")},
		{"null", []byte(`null`)},
		{"array", []byte(`[` + string(good) + `]`)},
		{"string", []byte(`"eventVersion"`)},
		{"truncated", good[:len(good)/2]},
		{"missing closing brace", good[:len(good)-1]},
		{"trailing garbage", append(append([]byte(nil), good...), []byte(` x`)...)},
		{"two objects", append(append([]byte(nil), good...), good...)},
		{"trailing comma", []byte(`{"eventVersion":"1.08",}`)},
		{"bare key", []byte(`{eventVersion:"1.08"}`)},
		{"bad value inside requestParameters", record("requestParameters", `{"a":tru}`)},
		{"bad value inside userIdentity", record("userIdentity", `{"type":"Root",}`)},
		{"control character in string", []byte("{\"eventVersion\":\"1.\t08\"}")},
		{"invalid escape", []byte(`{"eventVersion":"1.08","eventName":"\x"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.raw)
			if err == nil {
				t.Fatalf("Parse(%.80q) = %+v, nil; want error", tc.raw, ev)
			}
			if ev != nil {
				t.Errorf("Parse(%.80q) returned an event with error %v", tc.raw, err)
			}
		})
	}
}

func TestParseInsights(t *testing.T) {
	var got []*event.Event
	for _, r := range examples(t, "cloudtrail-log-file-examples.examples.json") {
		if bytes.Contains(r, []byte("AwsCloudTrailInsight")) {
			got = append(got, mustParse(t, r))
		}
	}
	if len(got) != 2 {
		t.Fatalf("found %d Insights examples, want 2", len(got))
	}
	wantIDs := []string{"EXAMPLE8-9621-4d00-b913-beca2EXAMPLE", "EXAMPLEc-28be-486c-8928-49ce6EXAMPLE"}
	wantTimes := []time.Time{time.Date(2019, 11, 14, 0, 51, 0, 0, time.UTC), time.Date(2019, 11, 14, 0, 52, 0, 0, time.UTC)}
	for i, ev := range got {
		if ev.Kind != event.KindCloudTrail || ev.EventType != "AwsCloudTrailInsight" {
			t.Errorf("insight %d: Kind, EventType = %v, %q", i, ev.Kind, ev.EventType)
		}
		if ev.Service != "ssm.amazonaws.com" || ev.Action != "UpdateInstanceInformation" {
			t.Errorf("insight %d: Service, Action = %q, %q, want ssm.amazonaws.com, UpdateInstanceInformation", i, ev.Service, ev.Action)
		}
		if ev.ID != wantIDs[i] || !ev.Time.Equal(wantTimes[i]) || ev.Account != "123456789012" || ev.Region != "us-east-1" {
			t.Errorf("insight %d: ID, Time, Account, Region = %q, %v, %q, %q", i, ev.ID, ev.Time, ev.Account, ev.Region)
		}
		if !within(ev.InsightDetails, ev.Raw) || !json.Valid(ev.InsightDetails) || !strings.Contains(compact(t, ev.InsightDetails), `"insightType":"ApiCallRateInsight"`) {
			t.Errorf("insight %d: InsightDetails = %.80q, want the insightDetails object inside Raw", i, ev.InsightDetails)
		}
		if ev.Actor != (event.Actor{}) || ev.SourceIP.IsValid() {
			t.Errorf("insight %d: Actor = %+v, SourceIP = %v, want zero", i, ev.Actor, ev.SourceIP)
		}
	}

	// A top-level eventName is not overridden by insightDetails.
	ev := mustParse(t, record("insightDetails", `{"eventSource":"ssm.amazonaws.com","eventName":"UpdateInstanceInformation"}`, "eventType", `"AwsCloudTrailInsight"`))
	if ev.Service != "s3.amazonaws.com" || ev.Action != "PutBucketAcl" {
		t.Errorf("Parse(insight with top-level names) Service, Action = %q, %q, want s3.amazonaws.com, PutBucketAcl", ev.Service, ev.Action)
	}
}

func TestParseServiceEvent(t *testing.T) {
	recs := examples(t, "non-api-service-events.examples.json")
	if len(recs) != 1 {
		t.Fatalf("got %d service event examples, want 1", len(recs))
	}
	ev := mustParse(t, recs[0])
	if ev.Kind != event.KindCloudTrail || ev.EventType != "AwsServiceEvent" || ev.Service != "kms.amazonaws.com" || ev.Action != "RotateKey" {
		t.Errorf("Parse(RotateKey) Kind, EventType, Service, Action = %v, %q, %q, %q", ev.Kind, ev.EventType, ev.Service, ev.Action)
	}
	if ev.SourceAddress != "AWS Internal" || ev.SourceIP.IsValid() {
		t.Errorf("Parse(RotateKey) SourceAddress, SourceIP = %q, %v; want AWS Internal, invalid", ev.SourceAddress, ev.SourceIP)
	}
	if ev.Actor.InvokedBy != "AWS Internal" || ev.Actor.Account != "123456789012" || ev.Account != "123456789012" {
		t.Errorf("Parse(RotateKey) Actor = %+v, Account = %q", ev.Actor, ev.Account)
	}
	want := event.Resource{ARN: "arn:aws:kms:us-east-2:123456789012:key/7944f0ec-EXAMPLE", Account: "123456789012", Type: "AWS::KMS::Key"}
	if len(ev.Resources) != 1 || ev.Resources[0] != want {
		t.Errorf("Parse(RotateKey).Resources = %+v, want [%+v]", ev.Resources, want)
	}
	if compact(t, ev.ServiceEventDetails) != `{"keyId":"7944f0ec-EXAMPLE"}` || !within(ev.ServiceEventDetails, ev.Raw) {
		t.Errorf("Parse(RotateKey).ServiceEventDetails = %q", ev.ServiceEventDetails)
	}
	if ev.RequestParameters != nil || ev.ResponseElements != nil {
		t.Errorf("Parse(RotateKey) null requestParameters/responseElements = %q, %q; want nil", ev.RequestParameters, ev.ResponseElements)
	}
	if ev.ReadOnly != event.False {
		t.Errorf("Parse(RotateKey).ReadOnly = %v, want false", ev.ReadOnly)
	}
}

func TestParseConsoleSignInExamples(t *testing.T) {
	recs := examples(t, "console-sign-in-events.examples.json")
	tests := []struct {
		title     string
		kind      event.Kind
		action    string
		actorType string
		result    string
		mfaUsed   event.Tristate
		actorMFA  event.Tristate
		mobile    event.Tristate
		failure   string
	}{
		{"IAM user, successful sign-in without MFA", event.KindSignIn, "ConsoleLogin", "IAMUser", "Success", event.False, event.False, event.False, ""},
		{"IAM user, successful sign-in with MFA", event.KindSignIn, "ConsoleLogin", "IAMUser", "Success", event.True, event.True, event.False, ""},
		{"IAM user, unsuccessful sign-in", event.KindSignIn, "ConsoleLogin", "IAMUser", "Failure", event.True, event.True, event.False, "Failed authentication"},
		{"IAM user, CheckMfa (single device type)", event.KindSignIn, "CheckMfa", "IAMUser", "", event.Unknown, event.Unknown, event.Unknown, ""},
		{"IAM user, CheckMfa (multiple device types)", event.KindSignIn, "CheckMfa", "IAMUser", "", event.Unknown, event.Unknown, event.Unknown, ""},
		{"Root user, successful sign-in without MFA", event.KindSignIn, "ConsoleLogin", "Root", "Success", event.False, event.False, event.False, ""},
		{"Root user, successful sign-in with MFA (MFAUsed YES)", event.KindSignIn, "ConsoleLogin", "Root", "Success", event.True, event.True, event.False, ""},
		{"Root user, unsuccessful sign-in", event.KindSignIn, "ConsoleLogin", "Root", "Failure", event.False, event.False, event.False, "Failed authentication"},
		{"Root user, MFA changed (an API call, not a sign-in)", event.KindCloudTrail, "EnableMFADevice", "Root", "", event.Unknown, event.False, event.Unknown, ""},
		{"Root user, password changed", event.KindSignIn, "PasswordUpdated", "Root", "", event.Unknown, event.Unknown, event.Unknown, ""},
	}
	if len(recs) != len(tests) {
		t.Fatalf("got %d console sign-in examples, want %d", len(recs), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.title, func(t *testing.T) {
			ev := mustParse(t, recs[i])
			if ev.Kind != tc.kind || ev.Action != tc.action || ev.Actor.Type != tc.actorType {
				t.Errorf("Kind, Action, Actor.Type = %v, %q, %q, want %v, %q, %q", ev.Kind, ev.Action, ev.Actor.Type, tc.kind, tc.action, tc.actorType)
			}
			if ev.Actor.MFA != tc.actorMFA {
				t.Errorf("Actor.MFA = %v, want %v", ev.Actor.MFA, tc.actorMFA)
			}
			if tc.kind != event.KindSignIn {
				if ev.SignIn != nil {
					t.Errorf("SignIn = %+v, want nil for %v", ev.SignIn, ev.Kind)
				}
				return
			}
			if ev.SignIn == nil {
				t.Fatal("SignIn = nil")
			}
			s := ev.SignIn
			if s.Result != tc.result || s.MFAUsed != tc.mfaUsed || s.Mobile != tc.mobile || s.Failure != tc.failure {
				t.Errorf("SignIn = %+v, want Result %q MFAUsed %v Mobile %v Failure %q", *s, tc.result, tc.mfaUsed, tc.mobile, tc.failure)
			}
			if ev.SourceIP != netip.MustParseAddr("192.0.2.0") {
				t.Errorf("SourceIP = %v, want 192.0.2.0", ev.SourceIP)
			}
			if ev.Account != "111122223333" {
				t.Errorf("Account = %q, want 111122223333", ev.Account)
			}
		})
	}
	// Spot-check LoginTo on the first example.
	ev := mustParse(t, recs[0])
	if ev.SignIn.LoginTo != "https://console.aws.amazon.com/sns" {
		t.Errorf("SignIn.LoginTo = %q", ev.SignIn.LoginTo)
	}
}

func TestParseSignInConstructed(t *testing.T) {
	tests := []struct {
		name     string
		kv       []string
		wantKind event.Kind
		check    func(t *testing.T, ev *event.Event)
	}{
		{
			name:     "eventType spelled AwsConsoleSignin",
			kv:       []string{"eventSource", `"signin.amazonaws.com"`, "eventName", `"ConsoleLogin"`, "eventType", `"AwsConsoleSignin"`},
			wantKind: event.KindSignIn,
		},
		{
			name:     "no eventType, signin source",
			kv:       []string{"eventSource", `"signin.amazonaws.com"`, "eventName", `"ConsoleLogin"`, "eventType", ""},
			wantKind: event.KindSignIn,
		},
		{
			name:     "AwsConsoleAction is not a sign-in",
			kv:       []string{"eventSource", `"signin.amazonaws.com"`, "eventName", `"SwitchRole"`, "eventType", `"AwsConsoleAction"`},
			wantKind: event.KindCloudTrail,
		},
		{
			name: "MFAUsed overrides session MFA attribute",
			kv: []string{"eventSource", `"signin.amazonaws.com"`, "eventType", `"AwsConsoleSignIn"`,
				"userIdentity", `{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"attributes":{"mfaAuthenticated":"false"}}}`,
				"additionalEventData", `{"MFAUsed":"Yes"}`, "responseElements", `{"ConsoleLogin":"Success"}`},
			wantKind: event.KindSignIn,
			check: func(t *testing.T, ev *event.Event) {
				if ev.Actor.MFA != event.True || ev.SignIn.MFAUsed != event.True {
					t.Errorf("Actor.MFA, SignIn.MFAUsed = %v, %v, want true, true", ev.Actor.MFA, ev.SignIn.MFAUsed)
				}
			},
		},
		{
			name: "no MFAUsed keeps session MFA attribute",
			kv: []string{"eventSource", `"signin.amazonaws.com"`, "eventType", `"AwsConsoleSignIn"`,
				"userIdentity", `{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"attributes":{"mfaAuthenticated":"true"}}}`,
				"additionalEventData", `{"LoginTo":"https://console.aws.amazon.com/"}`},
			wantKind: event.KindSignIn,
			check: func(t *testing.T, ev *event.Event) {
				if ev.Actor.MFA != event.True || ev.SignIn.MFAUsed != event.Unknown {
					t.Errorf("Actor.MFA, SignIn.MFAUsed = %v, %v, want true, unknown", ev.Actor.MFA, ev.SignIn.MFAUsed)
				}
			},
		},
		{
			name: "MFAUsed no, MobileVersion yes",
			kv: []string{"eventSource", `"signin.amazonaws.com"`, "eventType", `"AwsConsoleSignIn"`,
				"additionalEventData", `{"MFAUsed":"no","MobileVersion":"Yes"}`},
			wantKind: event.KindSignIn,
			check: func(t *testing.T, ev *event.Event) {
				if ev.Actor.MFA != event.False || ev.SignIn.MFAUsed != event.False || ev.SignIn.Mobile != event.True {
					t.Errorf("Actor.MFA, SignIn.MFAUsed, SignIn.Mobile = %v, %v, %v, want false, false, true", ev.Actor.MFA, ev.SignIn.MFAUsed, ev.SignIn.Mobile)
				}
			},
		},
		{
			name: "failure without Result still records the message",
			kv: []string{"eventSource", `"signin.amazonaws.com"`, "eventType", `"AwsConsoleSignIn"`,
				"errorMessage", `"No username found in supplied account"`, "responseElements", `null`},
			wantKind: event.KindSignIn,
			check: func(t *testing.T, ev *event.Event) {
				if ev.SignIn.Result != "" || ev.SignIn.Failure != "No username found in supplied account" {
					t.Errorf("SignIn = %+v", *ev.SignIn)
				}
			},
		},
		{
			name: "SAML sign-in carries the identity provider",
			kv: []string{"eventSource", `"signin.amazonaws.com"`, "eventType", `"AwsConsoleSignIn"`,
				"userIdentity", `{"type":"SAMLUser","userName":"u","identityProvider":"idp-1"}`},
			wantKind: event.KindSignIn,
			check: func(t *testing.T, ev *event.Event) {
				if ev.SignIn.Identity != "idp-1" {
					t.Errorf("SignIn.Identity = %q, want idp-1", ev.SignIn.Identity)
				}
			},
		},
		{
			name: "additionalEventData not an object",
			kv: []string{"eventSource", `"signin.amazonaws.com"`, "eventType", `"AwsConsoleSignIn"`,
				"additionalEventData", `"MFAUsed"`},
			wantKind: event.KindSignIn,
			check: func(t *testing.T, ev *event.Event) {
				if ev.SignIn.MFAUsed != event.Unknown {
					t.Errorf("SignIn.MFAUsed = %v, want unknown", ev.SignIn.MFAUsed)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustParse(t, record(tc.kv...))
			if ev.Kind != tc.wantKind {
				t.Fatalf("Parse().Kind = %v, want %v", ev.Kind, tc.wantKind)
			}
			if (ev.SignIn != nil) != (tc.wantKind == event.KindSignIn) {
				t.Fatalf("Parse().SignIn = %+v for kind %v", ev.SignIn, ev.Kind)
			}
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}

// realRecords returns every record in the Stratus Red Team and Cribl samples.
func realRecords(t testing.TB) map[string][]json.RawMessage {
	t.Helper()
	out := map[string][]json.RawMessage{}
	stratus, err := filepath.Glob("../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	if err != nil || len(stratus) == 0 {
		t.Fatalf("no Stratus samples (%v)", err)
	}
	for _, p := range stratus {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = recs
	}
	cribl, err := filepath.Glob("../../testdata/aws/cloudtrail/cribl-controltower/*.json.gz")
	if err != nil || len(cribl) == 0 {
		t.Fatalf("no Cribl samples (%v)", err)
	}
	for _, p := range cribl {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = doc.Records
	}
	return out
}

func TestParseRealSamples(t *testing.T) {
	total := 0
	types := map[string]int{}
	for name, recs := range realRecords(t) {
		for i, r := range recs {
			total++
			ev, err := Parse(r)
			if err != nil {
				t.Errorf("%s record %d: %v", name, i, err)
				continue
			}
			if ev.Kind != event.KindCloudTrail && ev.Kind != event.KindSignIn {
				t.Errorf("%s record %d: Kind = %v", name, i, ev.Kind)
			}
			if ev.ID == "" || ev.Time.IsZero() || ev.Service == "" || ev.Action == "" || ev.Account == "" {
				t.Errorf("%s record %d: ID %q Time %v Service %q Action %q Account %q, want all set", name, i, ev.ID, ev.Time, ev.Service, ev.Action, ev.Account)
			}
			if ev.Actor.Type == "" {
				t.Errorf("%s record %d: Actor.Type empty", name, i)
			}
			if ev.Actor.Type == "AssumedRole" && strings.Contains(ev.Actor.ARN, ":assumed-role/") && ev.Actor.SessionName == "" {
				t.Errorf("%s record %d: AssumedRole %s without SessionName", name, i, ev.Actor.ARN)
			}
			types[ev.Actor.Type]++
		}
	}
	if total != 515 {
		t.Errorf("parsed %d real records, want 515", total)
	}
	for _, typ := range []string{"IAMUser", "AWSService", "AssumedRole", "SAMLUser", "FederatedUser"} {
		if types[typ] == 0 {
			t.Errorf("no %s actor among the real samples", typ)
		}
	}
}

func TestParseStratusConsoleLoginWithoutMFA(t *testing.T) {
	recs := realRecords(t)["aws.initial-access.console-login-without-mfa.json"]
	var logins int
	for _, r := range recs {
		ev := mustParse(t, r)
		if ev.Action != "ConsoleLogin" {
			continue
		}
		logins++
		if ev.Kind != event.KindSignIn || ev.SignIn == nil {
			t.Fatalf("ConsoleLogin Kind = %v, SignIn = %v", ev.Kind, ev.SignIn)
		}
		if ev.SignIn.MFAUsed != event.False || ev.Actor.MFA != event.False || ev.SignIn.Result != "Success" {
			t.Errorf("ConsoleLogin SignIn = %+v, Actor.MFA = %v; want MFAUsed false, Result Success", *ev.SignIn, ev.Actor.MFA)
		}
	}
	if logins == 0 {
		t.Fatal("no ConsoleLogin in aws.initial-access.console-login-without-mfa.json")
	}
}

// TestParseTimeFastPath checks that the fast path for CloudTrail's usual
// timestamp format agrees with time.Parse, and leaves the rest to it.
func TestParseTimeFastPath(t *testing.T) {
	for _, s := range []string{
		"2026-11-20T09:00:00Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:00Z", "2026-11-20T09:00:00.123Z",
		"2026-11-20T09:00:00+02:00", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z",
		"2026-11-20T24:00:00Z", "2026-11-20T09:60:00Z", "2026-11-20T09:00:60Z", "2026-1a-20T09:00:00Z", "2026-11-20 09:00:00Z",
	} {
		got, gotErr := parseTime(s)
		want, wantErr := time.Parse(time.RFC3339Nano, s)
		if (gotErr != nil) != (wantErr != nil) || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; time.Parse = %v, %v", s, got, gotErr, want, wantErr)
		}
	}
}
