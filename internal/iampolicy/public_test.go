package iampolicy

import (
	"strings"
	"testing"
)

// The cases below come from the S3 User Guide, "Blocking public access to
// your Amazon S3 storage" > "The meaning of public" (its examples; the
// `source` field of each case says which), from the rules stated there,
// and, where AWS is silent, from IAM's documented condition semantics
// (marked "inferred"). See
// docs/public-policy.md (repository root) for the reasoning behind each
// inferred case.
func TestIsPublic(t *testing.T) {
	const any = `"Resource":"arn:aws:s3:::bkt/*","Action":"s3:GetObject"`
	star := func(cond string) string {
		return `{"Effect":"Allow","Principal":"*",` + any + `,"Condition":` + cond + `}`
	}
	tests := []struct {
		name   string
		kind   ResourceKind
		stmts  string // statements, comma-separated
		public bool
		reason string // substring of the first public statement's reason
		source string
	}{
		{"facebook federated", BucketPolicy, `{"Principal":{"Federated":"graph.facebook.com"},"Resource":"*","Action":"s3:PutObject","Effect":"Allow"}`, true, "web identity provider", "doc: public example 1"},
		{"wildcard principal", BucketPolicy, `{"Principal":"*","Resource":"*","Action":"s3:PutObject","Effect":"Allow"}`, true, "with no condition", "doc: public example 2"},
		{"SourceVpc wildcard", BucketPolicy, `{"Principal":"*","Resource":"*","Action":"s3:PutObject","Effect":"Allow","Condition":{"StringLike":{"aws:SourceVpc":"vpc-*"}}}`, true, `"vpc-*" is not fixed`, "doc: public example 3"},
		{"SourceVpc fixed", BucketPolicy, `{"Principal":"*","Resource":"*","Action":"s3:PutObject","Effect":"Allow","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-91237329"}}}`, false, "", "doc: non-public example"},
		{"AWS star", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":"*"},` + any + `}`, true, "wildcard", "doc: IAM, equivalent to *"},
		{"AWS list with star", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":["111122223333","*"]},` + any + `}`, true, "wildcard", "rule: any entry public"},
		{"AWS partial wildcard", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},` + any + `}`, true, "wildcard", "rule: wildcard is not fixed"},
		{"fixed account root", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},` + any + `}`, false, "", "doc: Account-2 statement"},
		{"fixed account id", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":"111122223333"},` + any + `}`, false, "", "doc: fixed principal"},
		{"service principal", BucketPolicy, `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},` + any + `}`, false, "", "doc: CloudTrail statement"},
		{"service wildcard", BucketPolicy, `{"Effect":"Allow","Principal":{"Service":"*"},` + any + `}`, true, "wildcard", "rule: not a fixed value"},
		{"canonical user", BucketPolicy, `{"Effect":"Allow","Principal":{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},` + any + `}`, false, "", "rule: fixed principal"},
		{"saml provider", BucketPolicy, `{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/Corp"},` + any + `}`, false, "", "inferred: provider of one account"},
		{"mixed statements", BucketPolicy, `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},` + any + `},{"Effect":"Allow","Principal":{"AWS":"222233334444"},` + any + `},{"Effect":"Allow","Principal":"*",` + any + `}`, true, "with no condition", "doc: mixed example"},
		{"mixed without public", BucketPolicy, `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},` + any + `},{"Effect":"Allow","Principal":{"AWS":"222233334444"},` + any + `}`, false, "", "doc: mixed example"},
		{"narrow CIDR", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), false, "", "doc: CIDR set"},
		{"CIDR /1", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}`), true, "broader than /8", "doc: 0.0.0.0/1 is public"},
		{"CIDR /0", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`), true, "broader than /8", "doc: broader than /8"},
		{"CIDR /8", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), false, "", "doc: /8 is the limit"},
		{"CIDR /7", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"11.0.0.0/7"}}`), true, "broader than /8", "doc: broader than /8"},
		{"IPv6 /32", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`), false, "", "doc: /32 for IPv6"},
		{"IPv6 /31", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"2001:db8::/31"}}`), true, "broader than /32", "doc: broader than /32"},
		{"IPv6 ::/0", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"::/0"}}`), true, "broader than /32", "doc: broader than /32"},
		{"CIDR list with broad", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","0.0.0.0/0"]}}`), true, "broader than /8", "rule: only fixed values"},
		{"single address", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`), false, "", "doc: IAM default /32"},
		{"bad CIDR", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"not-an-ip"}}`), true, "not an address", "rule: unparseable is not fixed"},
		{"NotIpAddress", BucketPolicy, star(`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), true, "does not pin", "inferred: negation"},
		{"SourceVpce fixed", BucketPolicy, star(`{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`), false, "", "doc: listed key"},
		{"PrincipalOrgID fixed", BucketPolicy, star(`{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`), false, "", "doc: e.g. aws:PrincipalOrgID"},
		{"PrincipalOrgID wildcard", BucketPolicy, star(`{"StringLike":{"aws:PrincipalOrgID":"o-*"}}`), true, "not fixed", "rule: wildcard"},
		{"PrincipalArn fixed", BucketPolicy, star(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Reader"}}`), false, "", "inferred: names the principal"},
		{"PrincipalArn any account", BucketPolicy, star(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Reader"}}`), true, "not fixed", "rule: wildcard"},
		{"PrincipalArn role wildcard", BucketPolicy, star(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}`), true, "not fixed", "doc: literal reading, any wildcard"},
		{"PrincipalAccount fixed", BucketPolicy, star(`{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`), false, "", "inferred: names the principal"},
		{"SourceAccount fixed", BucketPolicy, star(`{"StringEquals":{"aws:SourceAccount":"111122223333"}}`), false, "", "doc: listed key"},
		{"SourceAccount number", BucketPolicy, star(`{"StringEquals":{"aws:SourceAccount":111122223333}}`), false, "", "rule: numbers are fixed values"},
		{"SourceArn wildcard", BucketPolicy, star(`{"ArnLike":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:111122223333:trail/*"}}`), true, "not fixed", "rule: wildcard"},
		{"SourceArn fixed via ArnLike", BucketPolicy, star(`{"ArnLike":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}}`), false, "", "rule: fixed value, any pinning operator"},
		{"userid fixed", BucketPolicy, star(`{"StringEquals":{"aws:userid":"AIDAEXAMPLEUSERID1234"}}`), false, "", "doc: listed key"},
		{"userid role sessions", BucketPolicy, star(`{"StringLike":{"aws:userid":"AROAEXAMPLEROLEID1234:*"}}`), false, "", "doc: outside the pattern AROLEID:*"},
		{"userid wildcard", BucketPolicy, star(`{"StringLike":{"aws:userid":"*"}}`), true, "not fixed", "rule: wildcard"},
		{"kms key fixed", BucketPolicy, star(`{"StringEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}`), false, "", "doc: listed key"},
		{"access point wildcard in bucket policy", BucketPolicy, star(`{"StringLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-west-2:123456789012:accesspoint/*"}}`), false, "", "doc: bucket-policy exception"},
		{"access point wildcard in AP policy", AccessPointPolicy, star(`{"StringLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-west-2:123456789012:accesspoint/*"}}`), true, "not fixed", "doc: public in access point policies"},
		{"access point account wildcard", BucketPolicy, star(`{"StringLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-west-2:*:accesspoint/*"}}`), true, "not fixed", "doc: account must be fixed"},
		{"access point account", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"StringEquals":{"s3:DataAccessPointAccount":"123456789012"}}}`, false, "", "doc: delegation"},
		{"MRAP delegation", BucketPolicy, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"StringEquals":{"s3:DataAccessPointArn":"arn:aws:s3::123456789012:accesspoint/abc.mrap"}}}`, false, "", "doc: MRAP example 1"},
		{"SecureTransport only", BucketPolicy, star(`{"Bool":{"aws:SecureTransport":"true"}}`), true, "not a key that can limit", "rule: key not listed"},
		{"Referer only", BucketPolicy, star(`{"StringLike":{"aws:Referer":"https://example.com/*"}}`), true, "not a key that can limit", "rule: key not listed"},
		{"ResourceAccount only", BucketPolicy, star(`{"StringEquals":{"s3:ResourceAccount":"111122223333"}}`), true, "not a key that can limit", "rule: key not listed"},
		{"IfExists", BucketPolicy, star(`{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-91237329"}}`), true, "true when the key is absent", "inferred: IAM IfExists"},
		{"StringNotEquals", BucketPolicy, star(`{"StringNotEquals":{"aws:SourceVpc":"vpc-91237329"}}`), true, "does not pin", "inferred: negation"},
		{"Null", BucketPolicy, star(`{"Null":{"aws:SourceVpc":"false"}}`), true, "does not pin", "inferred: presence only"},
		{"ForAllValues", BucketPolicy, star(`{"ForAllValues:StringEquals":{"aws:SourceVpc":"vpc-91237329"}}`), true, "true when the key is absent", "inferred: IAM ForAllValues"},
		{"ForAnyValue", BucketPolicy, star(`{"ForAnyValue:StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`), false, "", "inferred: false when absent"},
		{"policy variable", BucketPolicy, star(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/${aws:username}"}}`), true, "policy variable", "doc: variables are not fixed"},
		{"one narrowing key is enough", BucketPolicy, star(`{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"},"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`), false, "", "doc: any of the keys"},
		{"values must all be fixed", BucketPolicy, star(`{"StringEquals":{"aws:SourceVpc":["vpc-91237329","vpc-*"]}}`), true, "not fixed", "doc: only fixed values"},
		{"deny only", BucketPolicy, `{"Effect":"Deny","Principal":"*",` + any + `}`, false, "", "inferred: Deny grants nothing"},
		{"NotPrincipal allow", BucketPolicy, `{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},` + any + `}`, true, "NotPrincipal", "inferred: IAM NotPrincipal"},
		{"condition key case", BucketPolicy, star(`{"StringEquals":{"AWS:SOURCEVPCE":"vpce-1a2b3c4d"}}`), false, "", "rule: keys are case-insensitive"},
		{"SourceOrgID not listed", BucketPolicy, star(`{"StringEquals":{"aws:SourceOrgID":"o-a1b2c3d4e5"}}`), true, "not a key that can limit", "doc: not in the list"},
		{"StringEquals on SourceIp", BucketPolicy, star(`{"StringEquals":{"aws:SourceIp":"203.0.113.7"}}`), true, "not an IP address operator", "rule: IpAddress is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[` + tc.stmts + `]}`))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			v := IsPublic(doc, tc.kind)
			if v.Public != tc.public {
				t.Fatalf("IsPublic = %v, want %v (%s); verdict %+v", v.Public, tc.public, tc.source, v)
			}
			if tc.public && !strings.Contains(v.Statements[0].Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", v.Statements[0].Reason, tc.reason)
			}
		})
	}
}

func TestIsPublicNamesTheStatement(t *testing.T) {
	doc, err := Parse([]byte(`{"Statement":[
		{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"},
		{"Sid":"Open","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	v := IsPublic(doc, BucketPolicy)
	if len(v.Statements) != 1 {
		t.Fatalf("public statements = %+v, want 1", v.Statements)
	}
	s := v.Statements[0]
	if s.Index != 1 || s.Sid != "Open" || s.Principal != `"*"` || len(s.Actions) != 2 || len(s.Resources) != 2 {
		t.Errorf("statement = %+v", s)
	}
}

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
		check    func(*Document) bool
	}{
		{"single statement object", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}`, false,
			func(d *Document) bool { return len(d.Statements) == 1 && d.Statements[0].Action[0] == "s3:GetObject" }},
		{"policy as JSON string", `"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\"}]}"`, false,
			func(d *Document) bool { return len(d.Statements) == 1 && d.Statements[0].Principal.Wildcard }},
		{"numeric sid", `{"Statement":[{"Sid":1,"Effect":"Deny"}]}`, false,
			func(d *Document) bool { return d.Statements[0].Sid == "1" }},
		{"condition bool value", `{"Statement":[{"Effect":"Allow","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`, false,
			func(d *Document) bool { return d.Statements[0].Conditions[0].Values[0] == "false" }},
		{"no statement", `{"Version":"2012-10-17"}`, true, nil},
		{"statement scalar", `{"Statement":"x"}`, true, nil},
		{"not json", `{"Statement":[`, true, nil},
		{"action object", `{"Statement":[{"Action":{"a":1}}]}`, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse error = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && !tc.check(d) {
				t.Errorf("Parse(%s) = %+v", tc.in, d)
			}
		})
	}
}

func TestMatchAction(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"s3:*", "s3:PutObject", true},
		{"*", "s3:PutObject", true},
		{"s3:Put*", "s3:putobject", true},
		{"s3:Get*", "s3:PutObject", false},
		{"s3:*Object", "s3:DeleteObject", true},
		{"s3:?etObject", "s3:GetObject", true},
		{"s3:GetObject", "s3:GetObjectAcl", false},
		{"s3:*Acl", "s3:PutBucketAcl", true},
		{"", "", true},
		{"*", "", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
	}
	for _, tc := range tests {
		if got := MatchAction(tc.pattern, tc.action); got != tc.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"IpAddress":{"aws:SourceIp":["1.2.3.0/24"]}}}]}`))
	f.Add([]byte(`"{\"Statement\":{\"Effect\":\"Allow\",\"NotPrincipal\":{\"AWS\":\"1\"}}}"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := Parse(b)
		if err != nil {
			return
		}
		v := IsPublic(doc, BucketPolicy)
		if v.Public != (len(v.Statements) > 0) {
			t.Fatalf("Public = %v with %d public statements", v.Public, len(v.Statements))
		}
		IsPublic(doc, AccessPointPolicy)
	})
}

func TestGrantsAllAndAccounts(t *testing.T) {
	tests := []struct {
		policy   string
		all      bool
		accounts string
	}{
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, true, ""},
		{`{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}`, false, ""},
		{`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, false, ""},
		{`{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, true, ""},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`, false, ""},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","444455556666","arn:aws:iam::777788889999:role/x"]},"Action":"sts:AssumeRole"}]}`, false, "111122223333,444455556666,777788889999"},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, false, "*"},
		{`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"x"}]}`, false, "*"},
	}
	for _, tc := range tests {
		doc, err := Parse([]byte(tc.policy))
		if err != nil {
			t.Fatal(err)
		}
		if got := GrantsAll(doc); got != tc.all {
			t.Errorf("GrantsAll(%s) = %v", tc.policy, got)
		}
		if got := strings.Join(AllowedAccounts(doc), ","); got != tc.accounts {
			t.Errorf("AllowedAccounts(%s) = %q, want %q", tc.policy, got, tc.accounts)
		}
	}
}
