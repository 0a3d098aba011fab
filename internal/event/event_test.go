package event

import "testing"

func TestActorName(t *testing.T) {
	tests := []struct {
		a    Actor
		want string
	}{
		{Actor{Type: "Root", ARN: "arn:aws:iam::1:root"}, "root"},
		{Actor{Type: "IAMUser", UserName: "alice", ARN: "arn:aws:iam::1:user/alice"}, "alice"},
		{Actor{Type: "AssumedRole", SessionIssuer: "arn:aws:iam::1:role/path/Admin", SessionName: "bob"}, "Admin/bob"},
		{Actor{Type: "AssumedRole", SessionIssuer: "arn:aws:iam::1:role/Admin"}, "Admin"},
		{Actor{Type: "FederatedUser", ARN: "arn:aws:sts::1:federated-user/carol", UserName: "issuer"}, "carol"},
		{Actor{Type: "AWSService", InvokedBy: "cloudtrail.amazonaws.com"}, "cloudtrail.amazonaws.com"},
		{Actor{PrincipalID: "AIDAEXAMPLE"}, "AIDAEXAMPLE"},
		{Actor{}, ""},
	}
	for _, tc := range tests {
		if got := tc.a.Name(); got != tc.want {
			t.Errorf("%+v.Name() = %q, want %q", tc.a, got, tc.want)
		}
	}
}

func TestOriginString(t *testing.T) {
	tests := []struct {
		o    Origin
		want string
	}{
		{Origin{Source: "a.log", Index: 3, Line: 4, Offset: 99}, "a.log:4"},
		{Origin{Source: "a.json.gz", Index: 3, Offset: 99}, "a.json.gz record 3 (byte 99)"},
		{Origin{Source: "a.json", Index: 0}.Within("body").Within("Message"), "a.json record 0 (byte 0) body>Message"},
		{Origin{Source: "x", Index: -1}, "x"},
	}
	for _, tc := range tests {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestStableID(t *testing.T) {
	a := &Event{Kind: KindFlowLog, Raw: []byte("2 1 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 1 1 2 ACCEPT OK")}
	b := &Event{Kind: KindFlowLog, Raw: []byte("2 1 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 1 1 2 ACCEPT OK")}
	c := &Event{Kind: KindFlowLog, Raw: []byte("2 1 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 1 1 2 REJECT OK")}
	if a.StableID() != b.StableID() || a.StableID() == c.StableID() || len(a.StableID()) != len("flowlog-")+32 {
		t.Errorf("StableID: %s %s %s", a.StableID(), b.StableID(), c.StableID())
	}
	if id := (&Event{ID: "given", Raw: a.Raw}).StableID(); id != "given" {
		t.Errorf("StableID with ID = %q", id)
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		got, ok := ParseKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, ok)
		}
	}
	if _, ok := ParseKind("nope"); ok {
		t.Error("ParseKind(nope) succeeded")
	}
}
