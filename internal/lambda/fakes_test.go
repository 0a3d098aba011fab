package lambda_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vigil-sec/vigil/internal/source"
)

// recorder is a recording fake Processor. The real one (decode → enrich →
// detect → deliver) is wired in by the CLI; here each payload is read
// whole, recorded by name and bytes, and reported done with the failure
// the test chose for that name.
type recorder struct {
	fail map[string]error // Done(err) for these payload names
	skip map[string]bool  // Done never called for these
	err  error            // what Process returns

	mu    sync.Mutex
	got   []payload
	calls int
	ctx   context.Context
	// before, if set, runs before any payload is opened.
	before func(jobs []source.Job)
}

// payload is what reached the Processor: its name and its bytes.
type payload struct {
	Name string
	Body string
}

func (r *recorder) Process(ctx context.Context, jobs []source.Job) error {
	r.mu.Lock()
	r.calls++
	r.ctx = ctx
	r.mu.Unlock()
	if r.before != nil {
		r.before(jobs)
	}
	for _, j := range jobs {
		if j.Source != "lambda" || j.Received.IsZero() || j.Done == nil {
			return fmt.Errorf("job %q: Source %q, Received %v, Done set %v", j.Input.Name, j.Source, j.Received, j.Done != nil)
		}
		b, err := readInput(j.Input)
		r.mu.Lock()
		r.got = append(r.got, payload{Name: j.Input.Name, Body: string(b)})
		r.mu.Unlock()
		if r.skip[j.Input.Name] {
			continue
		}
		if f := r.fail[j.Input.Name]; f != nil {
			err = f
		}
		j.Done(err)
	}
	return r.err
}

func (r *recorder) payloads() []payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]payload(nil), r.got...)
}

func readInput(in source.Input) ([]byte, error) {
	rc, err := in.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// bucket is a fake ObjectOpener serving objects from a map keyed
// "bucket/key".
type bucket struct {
	objects map[string][]byte
	opens   atomic.Int64
}

// errNoSuchKey is the SDK's error for a missing object, as the real
// opener (s3src) returns it.
var errNoSuchKey error = &types.NoSuchKey{Message: aws.String("the specified key does not exist")}

func (b *bucket) OpenObject(ctx context.Context, name, key string) (io.ReadCloser, error) {
	b.opens.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	obj, ok := b.objects[name+"/"+key]
	if !ok {
		return nil, fmt.Errorf("GetObject %s/%s: %w", name, key, errNoSuchKey)
	}
	return io.NopCloser(bytes.NewReader(obj)), nil
}

// readFile reads a file from testdata.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cloudTrailRecord returns the one record of the Stratus Red Team
// cloudtrail-delete detonation (a JSON array of CloudTrail records).
func cloudTrailRecord(t testing.TB) []byte {
	t.Helper()
	var recs []json.RawMessage
	if err := json.Unmarshal(readFile(t, "cloudtrail/aws.defense-evasion.cloudtrail-delete.json"), &recs); err != nil {
		t.Fatal(err)
	}
	return recs[0]
}

const cloudTrailGz = "cloudtrail/650992545562_CloudTrail_ap-southeast-2_20220103T1955Z_YlLTEgNO8h58yhIW.json.gz"

func sqsMessage(id, body string) events.SQSMessage {
	return events.SQSMessage{
		MessageId: id, Body: body, EventSource: "aws:sqs", AWSRegion: "eu-west-1",
		EventSourceARN: "arn:aws:sqs:eu-west-1:111122223333:vigil",
	}
}

func sqsEvent(t testing.TB, msgs ...events.SQSMessage) []byte {
	return mustJSON(t, events.SQSEvent{Records: msgs})
}

func snsEvent(t testing.TB, msgs ...events.SNSEntity) []byte {
	var ev events.SNSEvent
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SNSEventRecord{
			EventVersion: "1.0", EventSource: "aws:sns", EventSubscriptionArn: "arn:aws:sns:eu-west-1:111122223333:vigil:sub", SNS: m,
		})
	}
	return mustJSON(t, ev)
}

// snsMessage is an SNS notification as SNS delivers it to SQS without raw
// message delivery (the body is this envelope) and to Lambda (Sns).
func snsMessage(id, msg string) events.SNSEntity {
	return events.SNSEntity{Type: "Notification", MessageID: id, TopicArn: "arn:aws:sns:eu-west-1:111122223333:vigil", Message: msg}
}

// s3Created is an S3 event notification of new objects, keys given as S3
// writes them (form-encoded).
func s3Created(t testing.TB, bucketName string, keys ...string) []byte {
	var ev events.S3Event
	for _, k := range keys {
		ev.Records = append(ev.Records, events.S3EventRecord{
			EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: "eu-west-1", EventName: "ObjectCreated:Put",
			ResponseElements: map[string]string{"x-amz-request-id": "REQ" + bucketName},
			S3: events.S3Entity{
				SchemaVersion: "1.0",
				Bucket:        events.S3Bucket{Name: bucketName, Arn: "arn:aws:s3:::" + bucketName},
				Object:        events.S3Object{Key: k, Size: 711},
			},
		})
	}
	return mustJSON(t, ev)
}

// eventBridge wraps detail in an EventBridge envelope.
func eventBridge(t testing.TB, id, source, detailType string, detail []byte) []byte {
	return mustJSON(t, events.CloudWatchEvent{
		Version: "0", ID: id, DetailType: detailType, Source: source, AccountID: "111122223333",
		Region: "eu-west-1", Resources: []string{}, Detail: detail,
	})
}

// s3ObjectCreated is the EventBridge event S3 sends for a new object.
func s3ObjectCreated(t testing.TB, id, bucketName, key string) []byte {
	detail := fmt.Sprintf(`{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":711},"request-id":"R","requester":"111122223333","reason":"PutObject"}`, bucketName, key)
	return eventBridge(t, id, "aws.s3", "Object Created", []byte(detail))
}

// awslogs wraps data as CloudWatch Logs delivers a subscription to Lambda.
func awslogs(t testing.TB, data []byte) []byte {
	return mustJSON(t, events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{
		Data: base64.StdEncoding.EncodeToString(gzipBytes(t, data)),
	}})
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzipBytes(t testing.TB, b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffPayloads describes how got differs from want, or returns "".
func diffPayloads(got, want []payload) string {
	var sb strings.Builder
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			fmt.Fprintf(&sb, "\n  missing %s (%d bytes)", want[i].Name, len(want[i].Body))
		case i >= len(want):
			fmt.Fprintf(&sb, "\n  extra   %s: %.80q", got[i].Name, got[i].Body)
		case got[i] != want[i]:
			fmt.Fprintf(&sb, "\n  [%d] got %s: %.80q\n      want %s: %.80q", i, got[i].Name, got[i].Body, want[i].Name, want[i].Body)
		}
	}
	return sb.String()
}
