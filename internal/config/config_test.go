package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.KnownAccounts(), ","); got != "111122223333,444455556666,999988887777" {
		t.Errorf("KnownAccounts = %s", got)
	}
	if c.Accounts["111122223333"].Name != "prod" || c.Network.ExpectedPeers[0] != "203.0.113.0/24" {
		t.Errorf("config %+v", c)
	}
	if want, _ := filepath.Abs("testdata"); !strings.HasPrefix(c.State, "testdata/") && !strings.HasPrefix(c.State, want) {
		t.Errorf("state path %q not resolved against the file", c.State)
	}
	if len(c.SensitivePorts()) == 0 || c.CEL()["sensitive_ports"].([]any)[0] != int64(22) {
		t.Error("default sensitive ports missing")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"acounts: {}\n", "line 1: field acounts not found"},
		{"accounts:\n  \"123\": {name: x}\n", "c.yaml:2: accounts.123: not a 12-digit account id"},
		{"network:\n  expected_peers:\n    - 10.0.0.0/8\n    - nonsense\n", "c.yaml:4: network.expected_peers[1]: \"nonsense\" is not an address or CIDR"},
		{"network:\n  sensitive_ports: [22, 70000]\n", "sensitive_ports[1]: port 70000 out of range"},
		{"trusted_accounts: [1, 2]\n", "trusted_accounts[0]"},
		{"accounts: [\n", "c.yaml: yaml:"},
	}
	for _, tc := range tests {
		_, err := Parse("c.yaml", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	if c, err := Parse("empty.yaml", nil); err != nil || len(c.KnownAccounts()) != 0 {
		t.Errorf("empty config: %v", err)
	}
	// All problems are reported at once.
	_, err := Parse("c.yaml", []byte("trusted_accounts: [x, y]\nnetwork: {trusted_cidrs: [z]}\n"))
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("want three errors, got %v", err)
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	t.Setenv("VIGIL_TEST_SLACK", "https://hooks.slack.com/services/T/B/secret")
	t.Setenv("VIGIL_TEST_PW", "pa$$word")
	c, err := Parse("vigil.yaml", []byte(`notify:
  receivers:
    - name: s
      slack: {webhook_url: "${VIGIL_TEST_SLACK}"}
    - name: e
      email: {smtp: "localhost:25", password: "${VIGIL_TEST_PW}", username: "plain $HOME"}
    - name: w
      webhook: {url: "https://x.example", headers: {Authorization: "Bearer ${VIGIL_TEST_PW}"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Notify.Receivers
	if r[0].Slack.WebhookURL != "https://hooks.slack.com/services/T/B/secret" || r[1].Email.Password != "pa$$word" ||
		r[1].Email.Username != "plain $HOME" || r[2].Webhook.Headers["Authorization"] != "Bearer pa$$word" {
		t.Errorf("expanded: %+v %+v %+v", r[0].Slack, r[1].Email, r[2].Webhook)
	}
	_, err = Parse("vigil.yaml", []byte("notify:\n  receivers:\n    - name: p\n      pagerduty:\n        routing_key: ${VIGIL_TEST_UNSET_12345}\n"))
	if err == nil || !strings.Contains(err.Error(), "vigil.yaml:5: notify.receivers[0].pagerduty.routing_key: environment variable VIGIL_TEST_UNSET_12345 is not set") {
		t.Errorf("unset variable: %v", err)
	}
}
