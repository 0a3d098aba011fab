package s3src

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// readTestdata returns testdata/name.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snsWrap returns msg in an SNS notification envelope, as SQS receives it
// from a topic without raw message delivery.
func snsWrap(msg []byte) []byte {
	env, _ := json.Marshal(map[string]string{
		"Type":      "Notification",
		"MessageId": "0b8e5e2b-6c36-5a4a-8c4a-2d7e0d6f3c11",
		"TopicArn":  "arn:aws:sns:us-east-1:123456789012:s3-events",
		"Subject":   "Amazon S3 Notification",
		"Message":   string(msg),
		"Timestamp": "2026-01-02T03:04:05.000Z",
	})
	return env
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	s3Event := readTestdata(t, "s3-event.json")
	ebEvent := readTestdata(t, "eventbridge-s3-object-created.json")
	twoRecords := `{"Records":[
		{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/a+b.json.gz","size":10}}},
		{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"trail"},"object":{"key":"old"}}},
		{"eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"trail"},"object":{"key":"%E6%97%A5%E5%BF%97.gz","size":20}}}]}`
	testEvent := `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-02T03:04:05.000Z","Bucket":"trail","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`
	ebPlus := strings.Replace(string(ebEvent), `"example-key"`, `"logs/a+b%20c.gz"`, 1)

	tests := []struct {
		name    string
		body    string
		want    Notification
		notOK   bool
		wantErr string
	}{
		{name: "S3 notification", body: string(s3Event), want: Notification{Via: "s3", Objects: []Ref{{Bucket: "sourcebucket", Key: "Happy Face.jpg", Size: 1024}}}},
		{name: "S3 notification in SNS", body: string(snsWrap(s3Event)), want: Notification{Via: "sns+s3", Objects: []Ref{{Bucket: "sourcebucket", Key: "Happy Face.jpg", Size: 1024}}}},
		{name: "several records, one removal", body: twoRecords, want: Notification{Via: "s3", Other: true, Objects: []Ref{
			{Bucket: "trail", Key: "AWSLogs/1/a b.json.gz", Size: 10},
			{Bucket: "trail", Key: "日志.gz", Size: 20},
		}}},
		{name: "test event", body: testEvent, want: Notification{Via: "s3", Test: true}},
		{name: "test event in SNS", body: string(snsWrap([]byte(testEvent))), want: Notification{Via: "sns+s3", Test: true}},
		{name: "EventBridge Object Created", body: string(ebEvent), want: Notification{Via: "eventbridge", Objects: []Ref{{Bucket: "example-bucket", Key: "example-key", Size: 5}}}},
		{name: "EventBridge key that decodes", body: ebPlus, want: Notification{Via: "eventbridge", Objects: []Ref{{Bucket: "example-bucket", Key: "logs/a+b%20c.gz", AltKey: "logs/a b c.gz", Size: 5}}}},
		{name: "EventBridge in SNS", body: string(snsWrap(ebEvent)), want: Notification{Via: "sns+eventbridge", Objects: []Ref{{Bucket: "example-bucket", Key: "example-key", Size: 5}}}},
		{name: "CloudTrail file", body: `{"Records":[{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"PutObject"}]}`, notOK: true},
		{name: "CloudTrail record via EventBridge", body: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventName":"PutObject"}}`, notOK: true},
		{name: "EventBridge Object Deleted", body: `{"detail-type":"Object Deleted","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`, notOK: true},
		{name: "other SNS message", body: string(snsWrap([]byte(`{"detail-type":"GuardDuty Finding"}`))), notOK: true},
		{name: "SNS in SNS", body: string(snsWrap(snsWrap(s3Event))), notOK: true},
		{name: "empty Records", body: `{"Records":[]}`, notOK: true},
		{name: "not JSON", body: `2026-01-02 flow log line`, notOK: true},
		{name: "truncated JSON", body: `{"Records":[{"eventSource":"aws:s3"`, notOK: true},
		{name: "empty", body: ``, notOK: true},
		{name: "eventSource case differs", body: `{"Records":[{"EventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`, notOK: true},
		{name: "record without key", body: `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}`, wantErr: "Records[0].s3.object.key: missing"},
		{name: "record without bucket", body: `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"object":{"key":"k"}}}]}`, wantErr: "Records[0].s3.bucket.name: missing"},
		{name: "mixed sources", body: `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}},{"eventSource":"aws:sqs"}]}`, wantErr: `Records[1]: eventSource "aws:sqs"`},
		{name: "EventBridge without key", body: `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{}}}`, wantErr: "detail.object.key: missing"},
		{name: "EventBridge without detail", body: `{"detail-type":"Object Created","source":"aws.s3"}`, wantErr: "detail: missing"},
		{name: "bad record in SNS", body: string(snsWrap([]byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"object":{"key":"k"}}}]}`))), wantErr: "SNS Message: s3src: S3 event notification: Records[0].s3.bucket.name: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ParseNotification([]byte(tc.body))
			switch {
			case tc.wantErr != "":
				if !ok || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseNotification = %+v, %t, %v; want ok with an error containing %q", got, ok, err, tc.wantErr)
				}
			case tc.notOK:
				if ok || err != nil {
					t.Errorf("ParseNotification = %+v, %t, %v; want not ok", got, ok, err)
				}
			default:
				if !ok || err != nil {
					t.Fatalf("ParseNotification = %+v, %t, %v; want ok", got, ok, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("ParseNotification = %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

func FuzzParseNotification(f *testing.F) {
	for _, name := range []string{"s3-event.json", "eventbridge-s3-object-created.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(snsWrap(b))
	}
	f.Add([]byte(`{"Event":"s3:TestEvent"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, ok, err := ParseNotification(body)
		if !ok && (err != nil || len(n.Objects) > 0 || n.Test) {
			t.Fatalf("ParseNotification = %+v, %t, %v: not ok but says something", n, ok, err)
		}
		for _, r := range n.Objects {
			if err == nil && (r.Bucket == "" || r.Key == "") {
				t.Fatalf("ParseNotification returned %+v without an error", r)
			}
		}
	})
}
