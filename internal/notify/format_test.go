package notify

import (
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

func TestView(t *testing.T) {
	v := newView(testAlert(), false, testOptions)
	for _, c := range []struct{ name, got, want string }{
		{"Title", v.Title, "Access key created for another user"},
		{"Severity", v.Severity, "HIGH"},
		{"Who", v.Who, "alice (arn:aws:iam::111122223333:user/alice), IAMUser, account 111122223333"},
		{"What", v.What, "Access key created for another user (rule aws-iam-access-key-created, severity HIGH)"},
		{"When", v.When, "2024-05-01T12:34:56Z"},
		{"Where", v.Where, "account 111122223333 (payments-prod, production, owner payments-team), region us-east-1"},
		{"Source", v.Source, "203.0.113.7 (Berlin, Germany; AS3320 Deutsche Telekom AG)"},
		{"How", v.How, "iam.amazonaws.com CreateAccessKey via aws-cli/2.15.0 Python/3.11"},
		{"Event", v.Event, "cloudtrail event 3e9c2b5a-1f0d-4e52-9a57-1c2b3d4e5f60"},
		{"Origin", v.Origin, "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/x.json.gz record 3 (byte 1024) Records"},
		{"Link", v.Link, "https://vigil.example.com/api/alerts/0123456789abcdef0123456789abcdef"},
		{"sentence", v.sentence(), "Access key created for another user by alice in payments-prod us-east-1 from 203.0.113.7"},
		{"line", v.line(), "HIGH aws-iam-access-key-created: Access key created for another user (payments-prod, us-east-1)"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if tv := newView(testAlert(), true, testOptions); !strings.HasPrefix(tv.Title, "[TEST] ") || !strings.HasPrefix(tv.text(), "[TEST] ") {
		t.Errorf("test view title %q", tv.Title)
	}
}

func TestViewSparse(t *testing.T) {
	a := &alert.Alert{Rule: "r", Severity: detect.Medium, SourceIP: "198.51.100.1", EnrichmentOff: []string{"geoip", "asn"}}
	v := newView(a, false, Options{})
	if v.Title != "r" || v.Who != "" || v.When != "" || v.Where != "" || v.Origin != "" {
		t.Errorf("view of a sparse alert: %+v", v)
	}
	if v.Source != "198.51.100.1 (not looked up: geoip, asn)" {
		t.Errorf("Source = %q", v.Source)
	}
	if v.Link != "http://127.0.0.1:8080/api/alerts/" {
		t.Errorf("Link = %q", v.Link)
	}
	for _, f := range v.fields() {
		if f.Value == "" {
			t.Errorf("empty field %s", f.Name)
		}
	}
}

func TestGeoText(t *testing.T) {
	for _, tc := range []struct {
		g    event.Geo
		want string
	}{
		{event.Geo{}, ""},
		{event.Geo{Country: "FR"}, "FR"},
		{event.Geo{Country: "FR", CountryName: "France", City: "Paris"}, "Paris, France"},
		{event.Geo{ASN: 16509}, "AS16509"},
		{event.Geo{ASOrg: "Example"}, "Example"},
		{event.Geo{AWS: &event.AWSRange{Service: "EC2", Region: "us-east-1"}}, "AWS EC2 us-east-1"},
		{event.Geo{Country: "US", ASN: 16509, ASOrg: "AMAZON-02", AWS: &event.AWSRange{Service: "S3", Region: "eu-west-1"}}, "US; AS16509 AMAZON-02; AWS S3 eu-west-1"},
	} {
		if got := geoText(&tc.g); got != tc.want {
			t.Errorf("geoText(%+v) = %q, want %q", tc.g, got, tc.want)
		}
	}
}

func TestHeadline(t *testing.T) {
	low, crit := testAlert(), awsAlert()
	low.Severity = detect.Low
	for _, tc := range []struct {
		n    *Notification
		want string
	}{
		{&Notification{}, ""},
		{&Notification{Alerts: []*alert.Alert{low}}, "[LOW] Access key created for another user"},
		{&Notification{Alerts: []*alert.Alert{low, crit, low}}, "[CRITICAL] Bucket made public (+2 more)"},
		{&Notification{Alerts: []*alert.Alert{low}, Test: true}, "[TEST] [LOW] Access key created for another user"},
	} {
		if got := headline(tc.n); got != tc.want {
			t.Errorf("headline = %q, want %q", got, tc.want)
		}
	}
	if got := baseURL(testOptions); got != "https://vigil.example.com" {
		t.Errorf("baseURL = %q", got)
	}
}
