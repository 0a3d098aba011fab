package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

func TestRouter(t *testing.T) {
	tree := &config.Route{
		Receiver: "default", GroupBy: []string{"rule"}, GroupWait: 30 * time.Second,
		Routes: []*config.Route{
			{Receiver: "pager", Severity: "critical", Continue: true, RepeatInterval: time.Hour},
			{Receiver: "prod-team", Accounts: []string{"prod", "111122223333"}, Routes: []*config.Route{
				{Receiver: "s3-team", Rules: []string{"aws-s3-*"}, GroupBy: []string{"resource"}},
			}},
			{Receiver: "iam", Tags: []string{"iam"}, Regions: []string{"eu-*"}},
		},
	}
	tags := map[string][]string{"aws-iam-user-created": {"iam", "persistence"}}
	rt, err := NewRouter(tree, []string{"default", "pager", "prod-team", "s3-team", "iam"}, func(r string) []string { return tags[r] })
	if err != nil {
		t.Fatal(err)
	}
	prod := &event.AccountInfo{Name: "prod"}
	tests := []struct {
		name string
		a    alert.Alert
		want string // receiver:group-key:wait:repeat, joined
	}{
		{"nothing matches", alert.Alert{Rule: "x", Severity: detect.Low, DedupKey: "k"}, "default:0|x:30s:4h0m0s"},
		{"critical continues to the account route", alert.Alert{Rule: "aws-s3-bucket-acl-public", Severity: detect.Critical, AccountInfo: prod, Resource: "b"},
			"pager:0.0|aws-s3-bucket-acl-public:30s:1h0m0s s3-team:0.1.0|b:30s:4h0m0s"},
		{"another account", alert.Alert{Rule: "aws-s3-x", Severity: detect.Medium, Account: "999999999999"}, "default:0|aws-s3-x:30s:4h0m0s"},
		{"account by id", alert.Alert{Rule: "aws-s3-x", Severity: detect.Medium, Account: "111122223333", Resource: "r"}, "s3-team:0.1.0|r:30s:4h0m0s"},
		{"account route without a matching child", alert.Alert{Rule: "aws-root-login", Severity: detect.High, AccountInfo: prod}, "prod-team:0.1|aws-root-login:30s:4h0m0s"},
		{"tags and region", alert.Alert{Rule: "aws-iam-user-created", Severity: detect.Medium, Region: "eu-west-1"}, "iam:0.2|aws-iam-user-created:30s:4h0m0s"},
		{"tags but another region", alert.Alert{Rule: "aws-iam-user-created", Severity: detect.Medium, Region: "us-east-1"}, "default:0|aws-iam-user-created:30s:4h0m0s"},
	}
	for _, tc := range tests {
		var got []string
		for _, m := range rt.Route(&tc.a) {
			got = append(got, m.Receiver+":"+m.GroupKey+":"+m.GroupWait.String()+":"+m.Repeat.String())
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, g, tc.want)
		}
	}

	// Without a route tree every receiver gets every alert, one group each.
	all, _ := NewRouter(nil, []string{"a", "b"}, nil)
	if m := all.Route(&alert.Alert{DedupKey: "k"}); len(m) != 2 || m[0].Receiver != "a" || m[1].GroupKey != "0.1|k" {
		t.Errorf("no tree: %+v", m)
	}
}

func TestRouterErrors(t *testing.T) {
	for _, tc := range []struct {
		tree *config.Route
		want string
	}{
		{&config.Route{}, "root route needs a receiver"},
		{&config.Route{Receiver: "nobody"}, `notify.route: receiver "nobody" is not configured`},
		{&config.Route{Receiver: "a", Routes: []*config.Route{{Receiver: "a"}, {Receiver: "zz"}}}, `notify.route.routes[1]: receiver "zz"`},
		{&config.Route{Receiver: "a", Severity: "urgent"}, "notify.route.severity"},
		{&config.Route{Receiver: "a", GroupBy: []string{"colour"}}, `"colour" is not one of`},
		{&config.Route{Receiver: "a", Rules: []string{"[x"}}, "bad pattern"},
	} {
		_, err := NewRouter(tc.tree, []string{"a"}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.tree, err, tc.want)
		}
	}
}
