package lambda_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/vigil-sec/vigil/internal/lambda"
	"github.com/vigil-sec/vigil/internal/source"
)

// TestInvoke checks that each trigger's events reach the Processor as the
// expected payloads, by name and bytes.
func TestInvoke(t *testing.T) {
	t.Parallel()
	record := cloudTrailRecord(t)
	ctGz := readFile(t, cloudTrailGz)
	face := []byte("the object behind the sample S3 event")
	objects := map[string][]byte{
		"sourcebucket/Happy Face.jpg": face,
		"logs/AWSLogs/111122223333/CloudTrail/ap-southeast-2/2022/01/03/650992545562_CloudTrail_ap-southeast-2_20220103T1955Z_YlLTEgNO8h58yhIW.json.gz": ctGz,
		"logs/AWSLogs/a b+c=%.json.gz": []byte("decoded key"),
		"logs/plain%zz":                []byte("not form-encoded"),
		"logs/AWSLogs/✓.json":          []byte("utf-8 key"),
	}
	const ctKey = "AWSLogs/111122223333/CloudTrail/ap-southeast-2/2022/01/03/650992545562_CloudTrail_ap-southeast-2_20220103T1955Z_YlLTEgNO8h58yhIW.json.gz"
	ctObject := payload{Name: "s3://logs/" + ctKey, Body: string(ctGz)}
	faceObject := payload{Name: "s3://sourcebucket/Happy Face.jpg", Body: string(face)}

	ebCloudTrail := eventBridge(t, "6f8fe0b4-1b1e-4d8a-9d0c-2f6c0a7e9b10", "aws.cloudtrail", "AWS API Call via CloudTrail", record)
	s3TestEvent := mustJSON(t, events.S3TestEvent{Service: "Amazon S3", Bucket: "logs", Event: "s3:TestEvent", Time: time.Date(2024, 7, 31, 12, 0, 0, 0, time.UTC), RequestID: "T", HostID: "H"})
	snsText := mustJSON(t, snsMessage("sns-text", "not JSON at all"))
	otel := readFile(t, "cloudwatch-logs/valid_cloudwatch_log.json")
	sampleLogs := readFile(t, "aws-lambda-go/cloudwatch-logs-event.json")
	var raw events.CloudwatchLogsEvent
	if err := json.Unmarshal(sampleLogs, &raw); err != nil {
		t.Fatal(err)
	}
	gz, err := base64.StdEncoding.DecodeString(raw.AWSLogs.Data)
	if err != nil {
		t.Fatal(err)
	}
	sampleLogsData := gunzipBytes(t, gz)
	lifecycle := readFile(t, "aws-lambda-go/s3-lifecycle-event.json")

	tests := []struct {
		name  string
		event []byte
		want  []payload
		resp  string
	}{{
		name:  "sqs sample",
		event: readFile(t, "aws-lambda-go/sqs-event.json"),
		want:  []payload{{"lambda:sqs/MessageID_1", "Message Body"}},
		resp:  `{"batchItemFailures":[]}`,
	}, {
		name: "sqs bodies of every kind",
		event: sqsEvent(t,
			sqsMessage("m1-cloudtrail", string(record)),
			sqsMessage("m2-eventbridge", string(ebCloudTrail)),
			sqsMessage("m3-s3", string(readFile(t, "aws-lambda-go/s3-event.json"))),
			sqsMessage("m4-s3-via-sns", string(mustJSON(t, snsMessage("sns-1", string(s3Created(t, "logs", ctKey)))))),
			sqsMessage("m5-s3-test", string(s3TestEvent)),
			sqsMessage("m6-eventbridge-s3", string(s3ObjectCreated(t, "eb-1", "logs", ctKey))),
			sqsMessage("m7-sns-text", string(snsText)),
		),
		want: []payload{
			{"lambda:sqs/m1-cloudtrail", string(record)},
			{"lambda:sqs/m2-eventbridge", string(ebCloudTrail)},
			faceObject,
			ctObject,
			ctObject,
			{"lambda:sqs/m7-sns-text", string(snsText)},
		},
		resp: `{"batchItemFailures":[]}`,
	}, {
		name:  "sns sample",
		event: readFile(t, "aws-lambda-go/sns-event.json"),
		want:  []payload{{"lambda:sns/95df01b4-ee98-5cb9-9903-4c221d41eb5e", "Hello from SNS!"}},
		resp:  `null`,
	}, {
		name: "sns messages: cloudtrail, s3 notification, eventbridge s3",
		event: snsEvent(t,
			snsMessage("n1", string(record)),
			snsMessage("n2", string(s3Created(t, "logs", ctKey))),
			snsMessage("n3", string(s3ObjectCreated(t, "eb-2", "sourcebucket", "Happy+Face.jpg"))),
		),
		// EventBridge keys are taken as written (whether they are
		// form-encoded is not documented); the decoded reading is tried
		// when that object does not exist, as here.
		want: []payload{{"lambda:sns/n1", string(record)}, ctObject, {Name: "s3://sourcebucket/Happy+Face.jpg", Body: string(face)}},
		resp: `null`,
	}, {
		name:  "s3 sample",
		event: readFile(t, "aws-lambda-go/s3-event.json"),
		want:  []payload{faceObject},
		resp:  `null`,
	}, {
		name:  "s3 url-encoded keys",
		event: s3Created(t, "logs", "AWSLogs/a+b%2Bc%3D%25.json.gz", "plain%zz", "AWSLogs/%E2%9C%93.json"),
		want: []payload{
			{"s3://logs/AWSLogs/a b+c=%.json.gz", "decoded key"},
			{"s3://logs/plain%zz", "not form-encoded"},
			{"s3://logs/AWSLogs/✓.json", "utf-8 key"},
		},
		resp: `null`,
	}, {
		name:  "s3 event of another type is handed on, not read",
		event: lifecycle,
		want:  []payload{{"lambda:s3/LIFECYCLE123456789", string(lifecycle)}},
		resp:  `null`,
	}, {
		name:  "s3 test event",
		event: s3TestEvent,
		resp:  `null`,
	}, {
		name:  "eventbridge sample",
		event: readFile(t, "aws-lambda-go/ecr-image-push-event.json"),
		want:  []payload{{"lambda:eventbridge/13cde686-328b-6117-af20-0e5566167482", string(readFile(t, "aws-lambda-go/ecr-image-push-event.json"))}},
		resp:  `null`,
	}, {
		name:  "eventbridge cloudtrail",
		event: ebCloudTrail,
		want:  []payload{{"lambda:eventbridge/6f8fe0b4-1b1e-4d8a-9d0c-2f6c0a7e9b10", string(ebCloudTrail)}},
		resp:  `null`,
	}, {
		name:  "eventbridge s3 object created",
		event: s3ObjectCreated(t, "eb-3", "logs", ctKey),
		want:  []payload{ctObject},
		resp:  `null`,
	}, {
		name:  "cloudwatch logs sample",
		event: sampleLogs,
		want:  []payload{{"lambda:cloudwatch-logs/testLogGroup/testLogStream/eventId1", string(sampleLogsData)}},
		resp:  `null`,
	}, {
		name:  "cloudwatch logs cloudtrail subscription",
		event: awslogs(t, otel),
		want: []payload{{
			"lambda:cloudwatch-logs/CloudTrail/123456789012_CloudTrail_us-east-1/31953106606966983378809025079804211143289615424298221568",
			string(otel),
		}},
		resp: `null`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h := &lambda.Handler{Processor: rec, Objects: &bucket{objects: objects}}
			resp, err := h.Invoke(context.Background(), tc.event)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if string(resp) != tc.resp {
				t.Errorf("Invoke response = %s, want %s", resp, tc.resp)
			}
			if d := diffPayloads(rec.payloads(), tc.want); d != "" {
				t.Errorf("payloads differ:%s", d)
			}
			if len(tc.want) == 0 && rec.calls != 0 {
				t.Errorf("Process called %d times for an event with no payloads", rec.calls)
			}
		})
	}
}

// TestSQSPartialFailures checks that exactly the messages whose payloads
// failed are listed, in batch order, and that the invocation succeeds.
func TestSQSPartialFailures(t *testing.T) {
	t.Parallel()
	objects := map[string][]byte{"logs/ok.json.gz": []byte("ok")}
	batch := sqsEvent(t,
		sqsMessage("a", "fine"),
		sqsMessage("b", "fails in the pipeline"),
		sqsMessage("c", string(s3Created(t, "logs", "ok.json.gz", "missing.json.gz"))),
		sqsMessage("d", "never reported"),
		sqsMessage("e", "fine too"),
		events.SQSMessage{MessageId: "f", Body: "from elsewhere", EventSource: "aws:sns"},
		sqsMessage("g", string(s3ObjectCreated(t, "eb", "logs", "ok.json.gz"))),
	)
	tests := []struct {
		name string
		rec  *recorder
		want []string
	}{{
		name: "some fail",
		rec: &recorder{
			fail: map[string]error{"lambda:sqs/b": errors.New("delivery: outbox full")},
			skip: map[string]bool{"lambda:sqs/d": true},
		},
		want: []string{"b", "c", "d", "f"},
	}, {
		name: "Process fails after the first payload",
		rec: &recorder{
			skip: map[string]bool{"lambda:sqs/b": true, "s3://logs/ok.json.gz": true, "s3://logs/missing.json.gz": true, "lambda:sqs/d": true, "lambda:sqs/e": true},
			err:  context.DeadlineExceeded,
		},
		want: []string{"b", "c", "d", "e", "f", "g"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := &lambda.Handler{Processor: tc.rec, Objects: &bucket{objects: objects}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			resp, err := h.Invoke(context.Background(), batch)
			if err != nil {
				t.Fatalf("Invoke: %v (a partial failure must not fail the batch)", err)
			}
			var r events.SQSEventResponse
			if err := json.Unmarshal(resp, &r); err != nil {
				t.Fatalf("response %s: %v", resp, err)
			}
			var got []string
			for _, f := range r.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("batchItemFailures = %v, want %v", got, tc.want)
			}
			for _, id := range tc.want {
				if !strings.Contains(logs.String(), "lambda:sqs/"+id) {
					t.Errorf("log does not name failed message %s:\n%s", id, logs.String())
				}
			}
		})
	}
}

// TestSQSAllSucceed checks that an all-success batch answers with an
// empty list: the library's zero value would marshal null.
func TestSQSAllSucceed(t *testing.T) {
	t.Parallel()
	if b, _ := json.Marshal(events.SQSEventResponse{}); string(b) != `{"batchItemFailures":null}` {
		t.Fatalf("the library's zero SQSEventResponse marshals %s; revisit this test", b)
	}
	h := &lambda.Handler{Processor: &recorder{}}
	resp, err := h.Invoke(context.Background(), sqsEvent(t, sqsMessage("a", "x"), sqsMessage("b", "y")))
	if err != nil || string(resp) != `{"batchItemFailures":[]}` {
		t.Errorf("Invoke = %s, %v; want {\"batchItemFailures\":[]}, nil", resp, err)
	}
}

// TestSQSFailureWithoutMessageID checks that a failed message that cannot
// be named fails the whole batch, since Lambda could not retry it alone.
func TestSQSFailureWithoutMessageID(t *testing.T) {
	t.Parallel()
	rec := &recorder{fail: map[string]error{"lambda:sqs/Records[1]": errors.New("boom")}}
	h := &lambda.Handler{Processor: rec}
	_, err := h.Invoke(context.Background(), sqsEvent(t, sqsMessage("a", "x"), sqsMessage("", "y")))
	if err == nil || !strings.Contains(err.Error(), "no messageId") {
		t.Errorf("Invoke error = %v, want one saying the message has no messageId", err)
	}
}

// TestAsyncFailures checks that a failed payload of an asynchronous
// trigger fails the invocation, naming the payload, so Lambda retries.
func TestAsyncFailures(t *testing.T) {
	t.Parallel()
	objects := map[string][]byte{"logs/ok.json.gz": []byte("ok")}
	tests := []struct {
		name    string
		event   []byte
		fail    map[string]error
		objects lambda.ObjectOpener
		wantIs  error
		want    []string // in the error
		notWant string
	}{{
		name:    "sns: one of two messages",
		event:   snsEvent(t, snsMessage("n1", "fine"), snsMessage("n2", "fails")),
		fail:    map[string]error{"lambda:sns/n2": errors.New("delivery: timeout")},
		objects: &bucket{objects: objects},
		wantIs:  lambda.ErrPayloadsFailed,
		want:    []string{"1 of 2 from sns", "lambda:sns/n2", "delivery: timeout"},
		notWant: "lambda:sns/n1",
	}, {
		name:    "s3: object missing",
		event:   s3Created(t, "logs", "ok.json.gz", "gone.json.gz"),
		objects: &bucket{objects: objects},
		wantIs:  errNoSuchKey,
		want:    []string{"s3://logs/gone.json.gz", "NoSuchKey"},
	}, {
		name:   "s3: no object opener",
		event:  s3Created(t, "logs", "ok.json.gz"),
		wantIs: lambda.ErrNoObjectOpener,
	}, {
		name:    "eventbridge",
		event:   eventBridge(t, "eb-9", "aws.guardduty", "GuardDuty Finding", []byte(`{"id":"x"}`)),
		fail:    map[string]error{"lambda:eventbridge/eb-9": errors.New("delivery: 503")},
		objects: &bucket{objects: objects},
		wantIs:  lambda.ErrPayloadsFailed,
		want:    []string{"lambda:eventbridge/eb-9", "503"},
	}, {
		name:    "eventbridge s3 without key",
		event:   eventBridge(t, "eb-10", "aws.s3", "Object Created", []byte(`{"bucket":{"name":"logs"},"object":{}}`)),
		objects: &bucket{objects: objects},
		wantIs:  lambda.ErrPayloadsFailed,
		want:    []string{"detail.object.key: missing"},
	}, {
		name:    "sns: malformed record",
		event:   []byte(`{"Records":[{"EventSource":"aws:sns","Sns":{"MessageId":"n3"}}]}`),
		objects: &bucket{objects: objects},
		wantIs:  lambda.ErrPayloadsFailed,
		want:    []string{"Records[0].Sns.Message: missing or not a string"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &lambda.Handler{Processor: &recorder{fail: tc.fail}, Objects: tc.objects}
			resp, err := h.Invoke(context.Background(), tc.event)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("Invoke = %s, %v; want an error wrapping %v", resp, err, tc.wantIs)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error %q names %q, which succeeded", err, tc.notWant)
			}
		})
	}
}

// TestCloudWatchLogsLimits checks that subscription data is bounded and
// that broken data is an error naming the problem.
func TestCloudWatchLogsLimits(t *testing.T) {
	t.Parallel()
	// 65 gzip members of 1 MiB of zeros each: 65 KiB that inflate to
	// 65 MiB (gzip readers read concatenated members as one stream).
	bomb := bytes.Repeat(gzipBytes(t, make([]byte, 1<<20)), lambda.MaxLogBytes>>20+1)
	tests := []struct {
		name   string
		data   string // awslogs.data
		wantIs error
		want   string
	}{
		{"gzip bomb", base64.StdEncoding.EncodeToString(bomb), lambda.ErrTooLarge, "more than 67108864 bytes"},
		{"not base64", "H4sI!!!", lambda.ErrPayloadsFailed, "base64"},
		{"not gzip", base64.StdEncoding.EncodeToString([]byte(`{"logEvents":[]}`)), lambda.ErrPayloadsFailed, "not gzip"},
		{"truncated gzip", base64.StdEncoding.EncodeToString(gzipBytes(t, []byte(`{"messageType":"DATA_MESSAGE"}`))[:20]), lambda.ErrPayloadsFailed, "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h := &lambda.Handler{Processor: rec}
			ev := mustJSON(t, events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: tc.data}})
			_, err := h.Invoke(context.Background(), ev)
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Invoke error = %v, want one wrapping %v and containing %q", err, tc.wantIs, tc.want)
			}
			if rec.calls != 0 {
				t.Errorf("Process was called with a payload that could not be decoded")
			}
		})
	}
}

// TestUnrecognized checks that events Vigil does not handle, and malformed
// JSON, are errors naming what was received, and are logged.
func TestUnrecognized(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event string
		want  []string
	}{
		{"empty", "", []string{"empty payload"}},
		{"blank", " \n\t", []string{"empty payload"}},
		{"truncated", `{"Records":[{"eventSource":"aws:sqs"`, []string{"not JSON", "unexpected end of JSON input"}},
		{"trailing comma", `{"a":1,}`, []string{"not JSON", "invalid character '}'", "offset 8"}},
		{"array", `[1,2]`, []string{"a JSON array, not an object", `"[1,2]"`}},
		{"string", `"hello"`, []string{"a JSON string"}},
		{"kinesis", string(readFile(t, "aws-lambda-go/kinesis-event.json")), []string{`eventSource "aws:kinesis"`}},
		{"no event source", `{"Records":[{"body":"x"}]}`, []string{"Records without an eventSource"}},
		{"other object", `{"foo":1,"bar":{"baz":2}}`, []string{`keys "foo", "bar"`, "not SQS, SNS, S3, EventBridge or CloudWatch Logs"}},
		{"case matters", `{"records":[{"eventsource":"aws:sqs"}]}`, []string{`keys "records"`}},
		{"binary", "\x00\x1f\x8b\xff{\"a\":\n1}", []string{"not JSON", `"\x00\x1f\x8b\xff{\"a\":\n1}"`}},
		{"long", `{"x":"` + strings.Repeat("A", 500) + `"}`, []string{"(508 bytes)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			rec := &recorder{}
			h := &lambda.Handler{Processor: rec, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			resp, err := h.Invoke(context.Background(), []byte(tc.event))
			if !errors.Is(err, lambda.ErrUnrecognized) {
				t.Fatalf("Invoke = %s, %v; want an error wrapping ErrUnrecognized", resp, err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\x00\n") || len(msg) > 400 {
				t.Errorf("error is not one short, safe line: %q", msg)
			}
			if !strings.Contains(logs.String(), "unrecognized event") {
				t.Errorf("unrecognized event was not logged: %q", logs.String())
			}
			if rec.calls != 0 {
				t.Errorf("Process called for an unrecognized event")
			}
		})
	}
}

// TestThroughLambdaLibrary runs the handler through aws-lambda-go's own
// invocation path, as the runtime loop calls it.
func TestThroughLambdaLibrary(t *testing.T) {
	t.Parallel()
	rec := &recorder{fail: map[string]error{"lambda:sqs/b": errors.New("boom")}}
	h := awslambda.NewHandler(&lambda.Handler{Processor: rec})
	resp, err := h.Invoke(context.Background(), sqsEvent(t, sqsMessage("a", "x"), sqsMessage("b", "y")))
	if err != nil || string(resp) != `{"batchItemFailures":[{"itemIdentifier":"b"}]}` {
		t.Errorf("Invoke = %s, %v; want b listed", resp, err)
	}
	_, err = h.Invoke(context.Background(), readFile(t, "aws-lambda-go/kinesis-event.json"))
	if !errors.Is(err, lambda.ErrUnrecognized) {
		t.Errorf("Invoke(kinesis) error = %v, want ErrUnrecognized", err)
	}
}

// TestReserve checks that Process's context ends Reserve before the
// invocation's deadline, and at most halfway to it.
func TestReserve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		left    time.Duration
		reserve time.Duration
		want    time.Duration // reserved
	}{
		{"default", 30 * time.Second, 0, lambda.DefaultReserve},
		{"set", 30 * time.Second, 5 * time.Second, 5 * time.Second},
		{"capped at half", 4 * time.Second, 5 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			deadline := time.Now().Add(tc.left)
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			rec := &recorder{}
			h := &lambda.Handler{Processor: rec, Reserve: tc.reserve}
			if _, err := h.Invoke(ctx, sqsEvent(t, sqsMessage("a", "x"))); err != nil {
				t.Fatal(err)
			}
			got, ok := rec.ctx.Deadline()
			if !ok {
				t.Fatal("Process's context has no deadline")
			}
			if d := deadline.Sub(got) - tc.want; d < -time.Second/10 || d > time.Second/10 {
				t.Errorf("Process's deadline is %v before the invocation's, want %v", deadline.Sub(got), tc.want)
			}
		})
	}
}

// TestObjectsStreamLazily checks that objects are opened by the pipeline
// when it reads them, not fetched while the event is read.
func TestObjectsStreamLazily(t *testing.T) {
	t.Parallel()
	b := &bucket{objects: map[string][]byte{"logs/a": []byte("A"), "logs/b": []byte("B")}}
	opensBefore := int64(-1)
	rec := &recorder{before: func([]source.Job) { opensBefore = b.opens.Load() }}
	h := &lambda.Handler{Processor: rec, Objects: b}
	if _, err := h.Invoke(context.Background(), s3Created(t, "logs", "a", "b")); err != nil {
		t.Fatal(err)
	}
	if opensBefore != 0 || b.opens.Load() != 2 {
		t.Errorf("objects opened %d times before Process and %d in all, want 0 and 2", opensBefore, b.opens.Load())
	}
}

// TestDoneOnce checks that only a job's first Done counts, and that a Done
// after Process has returned does not.
func TestDoneOnce(t *testing.T) {
	t.Parallel()
	var late []func(error)
	p := processorFunc(func(_ context.Context, jobs []source.Job) error {
		jobs[0].Done(nil)
		jobs[0].Done(errors.New("second call"))
		late = append(late, jobs[1].Done)
		return nil
	})
	h := &lambda.Handler{Processor: p}
	resp, err := h.Invoke(context.Background(), sqsEvent(t, sqsMessage("a", "x"), sqsMessage("b", "y")))
	for _, d := range late {
		d(nil)
	}
	if err != nil || string(resp) != `{"batchItemFailures":[{"itemIdentifier":"b"}]}` {
		t.Errorf("Invoke = %s, %v; want only b (never reported in time) failed", resp, err)
	}
}

type processorFunc func(ctx context.Context, jobs []source.Job) error

func (f processorFunc) Process(ctx context.Context, jobs []source.Job) error { return f(ctx, jobs) }

// TestPayloadOutlivesBuffer checks that payload names and bytes do not
// alias the invocation's buffer, which the runtime reuses.
func TestPayloadOutlivesBuffer(t *testing.T) {
	t.Parallel()
	var kept []source.Input
	p := processorFunc(func(_ context.Context, jobs []source.Job) error {
		for _, j := range jobs {
			kept = append(kept, j.Input)
			j.Done(nil)
		}
		return nil
	})
	ev := readFile(t, "aws-lambda-go/ecr-image-push-event.json")
	want := string(ev)
	if _, err := (&lambda.Handler{Processor: p}).Invoke(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	for i := range ev {
		ev[i] = 'X'
	}
	b, err := readInput(kept[0])
	if err != nil || string(b) != want || kept[0].Name != "lambda:eventbridge/13cde686-328b-6117-af20-0e5566167482" {
		t.Errorf("after the buffer was reused: %s %.40q, %v", kept[0].Name, b, err)
	}
}

// TestNoProcessor checks that a Handler without a Processor fails instead
// of panicking.
func TestNoProcessor(t *testing.T) {
	t.Parallel()
	if _, err := (&lambda.Handler{}).Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("Invoke without a Processor succeeded")
	}
}
