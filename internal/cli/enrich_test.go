package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/alert"
)

// stopLogging is a CloudTrail record of StopLogging called from an EC2
// address (3.5.140.0/22 is EC2's and S3's in ap-northeast-2 in the bundled
// ip-ranges.json).
const stopLogging = `{"Records":[{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/ci","accountId":"111122223333","userName":"ci"},` +
	`"eventTime":"2026-11-20T09:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","sourceIPAddress":"3.5.140.10",` +
	`"userAgent":"aws-cli/2","requestParameters":{"name":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"},"responseElements":null,` +
	`"eventID":"0b6d1b8e-1111-2222-3333-444455556666","eventType":"AwsApiCall","recipientAccountId":"111122223333"}]}`

func scanAlerts(t *testing.T, args ...string) []alert.Alert {
	t.Helper()
	code, stdout, stderr := runCLI(t, "", append([]string{"scan", "--format", "json", "--progress=false"}, args...)...)
	if code != ExitOK && code != ExitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	return parseAlerts(t, stdout)
}

func parseAlerts(t *testing.T, stdout string) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	for line := range strings.Lines(stdout) {
		var a alert.Alert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out = append(out, a)
	}
	return out
}

// TestScanEnrichesAlerts: with GeoIP databases and account names
// configured, alerts carry the place, network owner, AWS range and
// account name of what they name; without them they say what is off.
func TestScanEnrichesAlerts(t *testing.T) {
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cfg := filepath.Join(dir, "vigil.yaml")
	writeFile(t, cfg, "geoip:\n  city: "+abs("../enrich/testdata/GeoIP2-City-Test.mmdb")+"\n  asn: "+abs("../enrich/testdata/GeoLite2-ASN-Test.mmdb")+
		"\naccounts:\n  \"111122223333\": {name: prod, environment: production, owner: platform}\n")
	logs := filepath.Join(dir, "stop.json")
	writeFile(t, logs, stopLogging)

	byRule := func(alerts []alert.Alert, rule, ip string) *alert.Alert {
		for i := range alerts {
			if alerts[i].Rule == rule && alerts[i].SourceIP == ip {
				return &alerts[i]
			}
		}
		t.Fatalf("no %s alert from %s in %+v", rule, ip, alerts)
		return nil
	}

	alerts := scanAlerts(t, "--config", cfg, "../../samples", logs)
	acl := byRule(alerts, "aws-s3-bucket-acl-public", "81.2.69.142")
	if acl.AccountInfo == nil || acl.AccountInfo.Name != "prod" || acl.AccountInfo.Owner != "platform" {
		t.Errorf("account_info = %+v", acl.AccountInfo)
	}
	if len(acl.Addresses) != 1 || acl.Addresses[0].Country != "GB" || acl.Addresses[0].City != "London" || acl.Addresses[0].AWS != nil {
		t.Errorf("addresses = %+v", acl.Addresses)
	}
	if acl.EnrichmentOff != nil {
		t.Errorf("enrichment_off = %q with everything configured", acl.EnrichmentOff)
	}
	gd := byRule(alerts, "aws-guardduty-finding", "89.160.20.156")
	if len(gd.Addresses) != 1 || gd.Addresses[0].Field != "finding.remote_ips" || gd.Addresses[0].ASN != 29518 {
		t.Errorf("finding addresses = %+v", gd.Addresses)
	}
	flow := byRule(alerts, "aws-flowlog-port-scan", "217.12.208.8")
	if len(flow.Addresses) != 2 || flow.Addresses[1].Field != "flow.dstaddr" || flow.Addresses[1].IP != "10.0.0.138" {
		t.Errorf("flow addresses = %+v", flow.Addresses)
	}
	stop := byRule(alerts, "aws-cloudtrail-stopped", "3.5.140.10")
	if a := stop.Addresses; len(a) != 1 || a[0].AWS == nil || a[0].AWS.Region != "ap-northeast-2" || a[0].AWS.Prefix != "3.5.140.0/22" {
		t.Errorf("AWS address = %+v", a)
	}

	// Without a configuration: AWS ranges still (bundled), GeoIP off.
	bare := byRule(scanAlerts(t, logs), "aws-cloudtrail-stopped", "3.5.140.10")
	if bare.AccountInfo != nil || strings.Join(bare.EnrichmentOff, ",") != "geoip,asn" || bare.Addresses[0].AWS == nil {
		t.Errorf("unconfigured: account_info %+v, enrichment_off %q, addresses %+v", bare.AccountInfo, bare.EnrichmentOff, bare.Addresses)
	}
}

// TestCorruptEnrichmentIsAStartupError: a corrupt GeoIP database or
// ip-ranges file stops the scan before it reads anything, naming the file.
func TestCorruptEnrichmentIsAStartupError(t *testing.T) {
	dir := t.TempDir()
	badRanges := filepath.Join(dir, "ip-ranges.json")
	writeFile(t, badRanges, `{"syncToken":"1","createDate":"2026-01-01-00-00-00","prefixes":[{"ip_prefix":"nonsense","region":"x","service":"EC2"}],"ipv6_prefixes":[]}`)
	for _, tc := range []struct{ cfg, file string }{
		{"geoip:\n  city: BAD\n", "../enrich/testdata/bad-data/libmaxminddb-corrupt-search-tree.mmdb"},
		{"geoip:\n  asn: BAD\n", "../enrich/testdata/bad-data/cyclic-data-structure.mmdb"},
		{"ip_ranges: BAD\n", badRanges},
	} {
		file, err := filepath.Abs(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "vigil.yaml")
		writeFile(t, cfg, strings.ReplaceAll(tc.cfg, "BAD", file))
		code, stdout, stderr := runCLI(t, "", "scan", "--config", cfg, "../../samples")
		if code != ExitError || stdout != "" || !strings.Contains(stderr, file) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d naming the file", tc.file, code, stdout, stderr, ExitError)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
