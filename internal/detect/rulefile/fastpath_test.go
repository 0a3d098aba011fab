package rulefile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/internal/detect/pattern"
	"github.com/vigil-sec/vigil/internal/event"
)

// TestCallPatternAgreesWithMatcher: splitting the call out of a pattern
// never changes what it matches, on real records and on records that
// write the call oddly.
func TestCallPatternAgreesWithMatcher(t *testing.T) {
	patterns := []string{
		`{"eventSource":["sts.amazonaws.com"],"eventName":["AssumeRole"]}`,
		`{"eventSource":["sts.amazonaws.com"],"eventName":["AssumeRole"],"userIdentity":{"type":[{"anything-but":["AWSService"]}]}}`,
		`{"eventSource":["ec2.amazonaws.com"],"eventName":["GetPasswordData","DescribeInstances"],"errorCode":[{"exists":false}]}`,
		`{"eventName":["ConsoleLogin"]}`,
		`{"eventSource":["signin.amazonaws.com"],"responseElements":{"ConsoleLogin":["Failure"]}}`,
		`{"eventSource":["s3.amazonaws.com"],"eventName":["PutBucketAcl"],"$or":[{"errorCode":[{"exists":false}]},{"errorCode":["AccessDenied"]}]}`,
		`{"eventSource":["iam.amazonaws.com"],"eventName":["GetUser"]}`,
		`{"eventSource":["ec2.amazonaws.com"],"eventName":[{"prefix":"Describe"}]}`,
		`{"eventSource":["sts.amazonaws.com"],"eventName":[{"prefix":"Assume"},"GetCallerIdentity"],"errorCode":[{"exists":false}]}`,
		`{"eventName":[{"prefix":"Get"}]}`,
	}
	var evs []*event.Event
	paths, _ := filepath.Glob("../../../testdata/aws/cloudtrail/*/*.json")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) != nil {
			continue
		}
		for _, r := range recs {
			if ev, err := parseEvent(r); err == nil {
				evs = append(evs, ev)
			}
		}
	}
	for _, odd := range []string{
		`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"\u0047etUser"}`,
		`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","eventName":"Other"}`,
		`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventName":"GetUser"}`,
		`{"eventVersion":"1.07","eventTime":"2026-11-20T10:00:00Z","eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"iam.amazonaws.com","eventName":"GetUser"}}`,
		`{"eventVersion":"1.08","eventTime":"2026-11-20T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn","userIdentity":{"type":"IAMUser","userName":"bob"},"responseElements":{"ConsoleLogin":"Failure"}}`,
		`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","requestParameters":{"bucketName":"b","x-amz-acl":"public-read"}}`,
		`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","errorCode":"AccessDenied"}`,
		`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","errorCode":"NoSuchBucket"}`,
	} {
		ev, err := parseEvent([]byte(odd))
		if err != nil {
			t.Fatalf("%s: %v", odd, err)
		}
		evs = append(evs, ev)
	}
	if len(evs) < 300 {
		t.Fatalf("%d events", len(evs))
	}
	for _, src := range patterns {
		full, err := pattern.Compile([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		cp := splitCallPattern([]byte(src))
		if cp == nil {
			t.Fatalf("%s: not split", src)
		}
		matched := 0
		for i, ev := range evs {
			want := full.Match(ev)
			var got bool
			switch cp.matchCall(ev) {
			case callYes:
				got = cp.rest == nil || cp.rest.Match(ev)
			case callSlow:
				got = want
			}
			if got != want {
				t.Errorf("%s on event %d (%s): split %v, whole %v", src, i, ev.Record, got, want)
			}
			if want {
				matched++
			}
		}
		if matched == 0 && src != patterns[6] && src != patterns[7] {
			t.Errorf("%s matched nothing: the test proves little", src)
		}
	}
	for _, src := range []string{`{"eventName":[{"prefix":""}]}`, `{"eventSource":[{"prefix":"s3"}]}`, `{"eventName":[{"suffix":"Acl"}]}`, `{"eventSource":["10.0.0.1"]}`, `{"eventName":[]}`, `{"detail":{"eventName":["X"]}}`} {
		if splitCallPattern([]byte(src)) != nil {
			t.Errorf("%s must not be split", src)
		}
	}
}
