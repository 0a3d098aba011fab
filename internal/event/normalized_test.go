package event

import (
	"net/netip"
	"testing"
)

// TestTextFieldAgreesWithField holds the unboxed accessors to Field's
// answers for every name of both views, with fields set and empty.
func TestTextFieldAgreesWithField(t *testing.T) {
	full := &Event{
		Kind: KindCloudTrail, ID: "id-1", Service: "iam.amazonaws.com", Action: "CreateUser", Account: "111122223333",
		Region: "us-east-1", EventType: "AwsApiCall", SourceAddress: "203.0.113.9", SourceIP: netip.MustParseAddr("203.0.113.9"),
		UserAgent: "aws-cli", ErrorCode: "AccessDenied", ErrorMessage: "no", VPCEndpointID: "vpce-1",
		Actor: Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice", PrincipalID: "AIDA", Account: "111122223333",
			UserName: "alice", AccessKeyID: "AKIA", SessionIssuer: "x", SessionIssuerType: "Role", SessionIssuerName: "r",
			SessionName: "s", InvokedBy: "svc", IdentityProvider: "idp", SourceIdentity: "src", MFA: True},
	}
	for _, ev := range []*Event{full, {Kind: KindCloudTrail}} {
		for _, name := range append(fieldNames, "nope") {
			s, has, ok := ev.TextField(name)
			v, present := ev.Field(name)
			if ok && (has != present || (has && v != any(s))) {
				t.Errorf("event %s: TextField gives %q, %v; Field gives %v, %v", name, s, has, v, present)
			}
			if _, isStr := v.(string); !ok && isStr {
				t.Errorf("event %s: Field gives a string, TextField says it is not a string field", name)
			}
		}
		for _, name := range append(actorFieldNames, "nope") {
			s, has, ok := ev.Actor.TextField(name)
			v, present := ev.Actor.Field(name)
			if ok && (has != present || (has && v != any(s))) {
				t.Errorf("actor %s: TextField gives %q, %v; Field gives %v, %v", name, s, has, v, present)
			}
			if _, isStr := v.(string); !ok && isStr {
				t.Errorf("actor %s: Field gives a string, TextField says it is not a string field", name)
			}
		}
	}
}
