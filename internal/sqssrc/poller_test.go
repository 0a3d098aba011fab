package sqssrc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigil-sec/vigil/internal/source"
	"github.com/vigil-sec/vigil/internal/testsrv"
)

// TestPoller runs the poller against Moto's SQS, reading objects from
// versitygw, one queue per subtest.
func TestPoller(t *testing.T) {
	t.Parallel()
	srv := &servers{moto: testsrv.Moto(t), s3: testsrv.VersityGW(t)}
	trail := readFile(t, trailFile)
	srv.s3.CreateBucket(t, "trail")
	// CloudTrail's own key, and one with a space, "+" and non-ASCII.
	keyPlain := "AWSLogs/123456789122/CloudTrail/ap-southeast-2/2022/01/03/" + filepath.Base(trailFile)
	keyOdd := "AWSLogs/123456789122/CloudTrail/ap-southeast-2/2022/01/03/copy (1)+é 日志.json.gz"
	for _, k := range []string{keyPlain, keyOdd, "other/a.json.gz", "other/b.json.gz", "other/c.json.gz"} {
		srv.s3.PutObject(t, "trail", k, trail)
	}

	t.Run("EventBridgeCloudTrail", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{})
		body := readFile(t, "testdata/eventbridge-cloudtrail.json")
		r.send(string(body))
		j := r.next(30 * time.Second)
		if !strings.HasPrefix(j.Input.Name, "sqs://"+testQueue(t)+"/") || j.Source != "sqs" || time.Since(j.Received) > time.Minute {
			t.Errorf("job = %s from %q received %v, want sqs://%s/<message id> from \"sqs\", just now", j.Input.Name, j.Source, j.Received, testQueue(t))
		}
		if got := read(t, j); !bytes.Equal(got, body) {
			t.Errorf("job body = %q, want the message body", got)
		}
		if v, f := r.counts(); v != 0 || f != 1 {
			t.Errorf("before Done: %d visible, %d in flight; want the message in flight", v, f)
		}
		j.Done(nil)
		r.waitEmpty(10 * time.Second)
		r.none(time.Second)
		r.waitCounts(counts{Received: 1, Deleted: 1})
		if m, n := r.p.InFlight(); m != 0 || n != 0 {
			t.Errorf("InFlight() = %d, %d after the delete", m, n)
		}
	})

	t.Run("NotJSON", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{})
		const line = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
		r.send(line)
		j := r.next(30 * time.Second)
		if got := string(read(t, j)); got != line {
			t.Errorf("job body = %q, want the message body as it is", got)
		}
		j.Done(nil)
		r.waitEmpty(10 * time.Second)
	})

	// S3 notifications, in each form they reach a queue, for an object of
	// versitygw: the job streams exactly the object's bytes.
	notifications := []struct {
		name string
		body func(t *testing.T, key string) string
	}{
		{"S3Direct", func(t *testing.T, key string) string { return s3Notification(t, "trail", key) }},
		{"S3ViaSNS", func(t *testing.T, key string) string { return snsEnvelope(s3Notification(t, "trail", key)) }},
		{"S3ViaEventBridge", func(t *testing.T, key string) string {
			return eventBridgeObjectCreated(t, "trail", key, len(trail))
		}},
	}
	for _, n := range notifications {
		for _, key := range []string{keyPlain, keyOdd} {
			name := n.name
			if key == keyOdd {
				name += "OddKey"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := srv.start(t, Options{})
				r.send(n.body(t, key))
				j := r.next(30 * time.Second)
				if want := "s3://trail/" + key; j.Input.Name != want {
					t.Errorf("job name = %q, want %q", j.Input.Name, want)
				}
				if got := read(t, j); !bytes.Equal(got, trail) {
					t.Errorf("job read %d bytes, want the %d of the object", len(got), len(trail))
				}
				j.Done(nil)
				r.waitEmpty(10 * time.Second)
				r.none(500 * time.Millisecond)
			})
		}
	}

	t.Run("SeveralObjects", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{VisibilityTimeout: 2 * time.Second})
		r.send(s3Notification(t, "trail", "other/a.json.gz", "other/b.json.gz", "other/c.json.gz"))
		var jobs []*source.Job
		for range 3 {
			jobs = append(jobs, r.next(30*time.Second))
		}
		var names []string
		for _, j := range jobs {
			names = append(names, j.Input.Name)
		}
		if want := []string{"s3://trail/other/a.json.gz", "s3://trail/other/b.json.gz", "s3://trail/other/c.json.gz"}; !slices.Equal(names, want) {
			t.Errorf("jobs %q, want %q", names, want)
		}
		jobs[2].Done(nil)
		jobs[0].Done(nil)
		// Held past the visibility timeout: the message stays in flight
		// (extended), and is neither deleted nor delivered again.
		r.none(3 * time.Second)
		if v, f := r.counts(); v != 0 || f != 1 {
			t.Errorf("with one of three jobs not done: %d visible, %d in flight; want it in flight", v, f)
		}
		jobs[1].Done(nil)
		r.waitEmpty(10 * time.Second)
	})

	t.Run("RemovedObjectToo", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{})
		var n map[string][]map[string]any
		json.Unmarshal([]byte(s3Notification(t, "trail", "other/a.json.gz", "other/gone.json.gz")), &n)
		n["Records"][1]["eventName"] = "ObjectRemoved:Delete"
		body, _ := json.Marshal(n)
		r.send(string(body))
		a, msg := r.next(30*time.Second), r.next(30*time.Second)
		if a.Input.Name != "s3://trail/other/a.json.gz" || !strings.HasPrefix(msg.Input.Name, "sqs://") {
			t.Errorf("jobs %s, %s; want the created object, then the message", a.Input.Name, msg.Input.Name)
		}
		if got := read(t, msg); !bytes.Equal(got, body) {
			t.Errorf("the message's job read %q, want the body", got)
		}
		a.Done(nil)
		msg.Done(nil)
		r.waitEmpty(10 * time.Second)
	})

	t.Run("FailedJobRedelivered", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{VisibilityTimeout: 2 * time.Second})
		r.send(s3Notification(t, "trail", "other/a.json.gz", "other/b.json.gz"))
		a, b := r.next(30*time.Second), r.next(30*time.Second)
		start := time.Now()
		a.Done(errors.New("disk full"))
		b.Done(nil)
		// Not deleted: SQS delivers it again once the visibility timeout
		// expires, with both objects.
		a2, b2 := r.next(30*time.Second), r.next(30*time.Second)
		if d := time.Since(start); d < time.Second {
			t.Errorf("redelivered %v after the failure, before the visibility timeout of 2s", d)
		}
		if a2.Input.Name != a.Input.Name || b2.Input.Name != b.Input.Name {
			t.Errorf("redelivered jobs %s, %s; want %s, %s", a2.Input.Name, b2.Input.Name, a.Input.Name, b.Input.Name)
		}
		a2.Done(nil)
		b2.Done(nil)
		r.waitEmpty(10 * time.Second)
		r.waitCounts(counts{Received: 2, Deleted: 1, Failed: 1})
	})

	t.Run("RetryDelay", func(t *testing.T) {
		t.Parallel()
		// A long visibility timeout, and a short retry delay: the retry
		// comes after the delay, not the timeout.
		r := srv.start(t, Options{VisibilityTimeout: 30 * time.Second, RetryDelay: time.Second})
		r.send("retry me")
		j := r.next(30 * time.Second)
		start := time.Now()
		j.Done(errors.New("transient"))
		j = r.next(15 * time.Second)
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("redelivered %v after the failure, before the retry delay of 1s", d)
		}
		j.Done(nil)
		r.waitEmpty(10 * time.Second)
	})

	t.Run("VisibilityExtended", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{VisibilityTimeout: 2 * time.Second})
		r.send("slow payload")
		j := r.next(30 * time.Second)
		// Held for more than twice the visibility timeout while two
		// receive loops poll: never delivered again.
		r.none(5 * time.Second)
		if v, f := r.counts(); v != 0 || f != 1 {
			t.Errorf("while held: %d visible, %d in flight; want it in flight", v, f)
		}
		j.Done(nil)
		r.waitEmpty(10 * time.Second)
		r.waitCounts(counts{Received: 1, Deleted: 1})
	})

	t.Run("Poison", func(t *testing.T) {
		t.Parallel()
		testPoison(t, srv)
	})

	t.Run("TestEventAndMotoS3", func(t *testing.T) {
		t.Parallel()
		testEventAndMotoS3(t, srv, trail)
	})

	t.Run("MalformedNotification", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := srv.start(t, Options{DeadLetterDir: dir})
		r.send(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{}}}]}`)
		r.waitEmpty(30 * time.Second)
		r.none(500 * time.Millisecond)
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) != 1 {
			t.Fatalf("dead-letter files %q, want one", files)
		}
		var dl DeadLetter
		json.Unmarshal(readFile(t, files[0]), &dl)
		if !strings.Contains(dl.Reason, "malformed S3 event: ") || !strings.Contains(dl.Reason, "s3.object.key: missing") || dl.ReceiveCount != 1 {
			t.Errorf("dead letter %+v, want a malformed S3 event received once", dl)
		}
	})

	t.Run("NoS3Client", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{VisibilityTimeout: 30 * time.Second, S3: noS3{}})
		r.send(s3Notification(t, "trail", "other/a.json.gz"))
		r.waitObserved("a processing error", func(c counts) bool { return c.Errors[StageProcessing] > 0 })
		r.none(500 * time.Millisecond)
		if v, f := r.counts(); v != 0 || f != 1 {
			t.Errorf("%d visible, %d in flight; want the message left in flight, to come back", v, f)
		}
	})

	t.Run("Backpressure", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{MaxInFlight: 3, VisibilityTimeout: 30 * time.Second})
		for i := range 6 {
			r.send(fmt.Sprintf("message %d", i))
		}
		var held []*source.Job
		for range 3 {
			held = append(held, r.next(30*time.Second))
		}
		r.none(2 * time.Second)
		if v, f := r.counts(); v != 3 || f != 3 {
			t.Errorf("with 3 jobs held: %d visible, %d in flight; want 3 and 3 (no more received)", v, f)
		}
		held[0].Done(nil)
		held = append(held[1:], r.next(30*time.Second))
		r.none(time.Second)
		for _, j := range held {
			j.Done(nil)
		}
		for range 2 {
			r.next(30 * time.Second).Done(nil)
		}
		r.waitEmpty(10 * time.Second)
	})

	t.Run("ReceiveErrors", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{QueueURL: srv.moto.URL + "/" + srv.moto.AccountID + "/no-such-queue"})
		r.waitObserved("two receive errors", func(c counts) bool { return c.Errors[StageReceiving] >= 2 })
		start := time.Now()
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run returned %v after the cancel", d)
		}
	})

	t.Run("Shutdown", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{VisibilityTimeout: 60 * time.Second})
		r.send("held at shutdown")
		r.send("done at shutdown")
		held, done := r.next(30*time.Second), r.next(30*time.Second)
		done.Done(nil)
		start := time.Now()
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run returned %v after the cancel", d)
		}
		held.Done(nil) // too late: changes nothing
		// The done message was deleted; the held one was made visible
		// again at once, not after the visibility timeout of 60s.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := srv.moto.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.queue), WaitTimeSeconds: 5, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		if !slices.Equal(bodies, []string{"held at shutdown"}) {
			t.Errorf("after the shutdown the queue delivers %q, want the held message only", bodies)
		}
	})

	t.Run("ShutdownWhileSending", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{VisibilityTimeout: 60 * time.Second})
		r.send("never taken")
		// Received, and blocked handing the job on: nobody reads jobs.
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, f := r.counts(); f == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the message was not received")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if v, f := r.counts(); v != 1 || f != 0 {
			t.Errorf("after the shutdown: %d visible, %d in flight; want the message visible again", v, f)
		}
		r.waitCounts(counts{Received: 1})
	})

	t.Run("DoneTwice", func(t *testing.T) {
		t.Parallel()
		r := srv.start(t, Options{})
		r.send("twice")
		j := r.next(30 * time.Second)
		j.Done(nil)
		j.Done(errors.New("late"))
		r.waitEmpty(10 * time.Second)
		if m, n := r.p.InFlight(); m != 0 || n != 0 {
			t.Errorf("InFlight() = %d, %d", m, n)
		}
	})
}

// noS3, as Options.S3 for servers.start, stands for no S3 client.
type noS3 struct{}

func (noS3) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	panic("called")
}
func (noS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	panic("called")
}

// testEventAndMotoS3 has Moto's S3 notify queues of the bucket's new
// objects, directly and through SNS, as AWS does: S3's test event comes
// first and is deleted without a job; then the notification of an object
// with an awkward key, form-encoded by S3, brings a job that reads it from
// Moto's S3.
func testEventAndMotoS3(t *testing.T, srv *servers, trail []byte) {
	m := srv.moto
	bucket := strings.ToLower(testQueue(t))
	bucket = bucket[max(0, len(bucket)-40):]
	bucket = strings.Trim(bucket, "-")
	direct := m.CreateQueue(t, testQueue(t)+"-direct", nil)
	viaSNS := m.CreateQueue(t, testQueue(t)+"-sns", nil)
	topic := m.SubscribeQueue(t, testQueue(t)+"-topic", m.QueueARN(testQueue(t)+"-sns"))
	m.CreateBucket(t, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := m.S3().PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{
			QueueConfigurations: []s3types.QueueConfiguration{{QueueArn: aws.String(m.QueueARN(testQueue(t) + "-direct")), Events: []s3types.Event{"s3:ObjectCreated:*"}}},
			TopicConfigurations: []s3types.TopicConfiguration{{TopicArn: aws.String(topic), Events: []s3types.Event{"s3:ObjectCreated:*"}}},
		},
	})
	if err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}
	const key = "AWSLogs/123456789122/CloudTrail/copy (1)+é 日志.json.gz"
	for _, q := range []string{direct, viaSNS} {
		r := srv.start(t, Options{QueueURL: q, S3: m.S3()})
		// The test event arrives first and is deleted without a job.
		r.waitObserved("the S3 test event deleted", func(c counts) bool { return c.Deleted == 1 })
		if q == direct {
			r.none(200 * time.Millisecond)
			m.PutObject(t, bucket, key, trail) // notifies both queues
		}
		j := r.next(30 * time.Second)
		if want := "s3://" + bucket + "/" + key; j.Input.Name != want {
			t.Errorf("%s: job %q, want %q", q, j.Input.Name, want)
		}
		if got := read(t, j); !bytes.Equal(got, trail) {
			t.Errorf("%s: job read %d bytes, want the object's %d", q, len(got), len(trail))
		}
		j.Done(nil)
		r.waitEmpty(10 * time.Second)
		r.waitCounts(counts{Received: 2, Deleted: 2})
	}
}

// testPoison dead-letters a message received more than MaxReceives times.
// Moto reports ApproximateReceiveCount as SQS does, so no fake is needed.
func testPoison(t *testing.T, srv *servers) {
	q := srv.moto.CreateQueue(t, testQueue(t), nil)
	dlq := srv.moto.CreateQueue(t, testQueue(t)+"-dlq", nil)
	dir := filepath.Join(t.TempDir(), "dead-letter", "sqs")
	r := srv.start(t, Options{QueueURL: q, VisibilityTimeout: time.Second, MaxReceives: 2, DeadLetterDir: dir, DeadLetterQueueURL: dlq})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := srv.moto.SQS().SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q), MessageBody: aws.String("bad payload"),
		MessageAttributes: map[string]types.MessageAttributeValue{"origin": {DataType: aws.String("String"), StringValue: aws.String("test")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		j := r.next(30 * time.Second)
		j.Done(fmt.Errorf("unknown format (attempt %d)", i+1))
	}
	// The third receive is over the limit: dead-lettered, not a job.
	r.waitEmpty(30 * time.Second)
	r.none(time.Second)

	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("dead-letter files %q, want one", files)
	}
	var dl DeadLetter
	if err := json.Unmarshal(readFile(t, files[0]), &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Body != "bad payload" || dl.ReceiveCount != 3 || dl.QueueURL != q ||
		dl.Reason != "received 3 times, more than max_receives 2" ||
		!strings.Contains(dl.LastError, "unknown format (attempt 2)") ||
		dl.Attributes["ApproximateReceiveCount"] != "3" || dl.MessageAttributes["origin"].StringValue != "test" {
		t.Errorf("dead letter = %+v", dl)
	}
	if want := testQueue(t) + "_" + dl.MessageID + ".json"; filepath.Base(files[0]) != want {
		t.Errorf("dead-letter file %s, want %s", filepath.Base(files[0]), want)
	}

	out, err := srv.moto.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(dlq), WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("dead-letter queue: %+v, %v; want one message", out, err)
	}
	dm := out.Messages[0]
	if aws.ToString(dm.Body) != "bad payload" ||
		aws.ToString(dm.MessageAttributes[AttrReason].StringValue) != dl.Reason ||
		aws.ToString(dm.MessageAttributes[AttrSourceQueue].StringValue) != q ||
		aws.ToString(dm.MessageAttributes[AttrReceiveCount].StringValue) != "3" ||
		aws.ToString(dm.MessageAttributes["origin"].StringValue) != "test" {
		t.Errorf("dead-letter queue message: body %q, attributes %+v", aws.ToString(dm.Body), dm.MessageAttributes)
	}
	r.waitCounts(counts{Received: 3, Deleted: 1, Failed: 2, DeadLettered: 1})
}

func TestNew(t *testing.T) {
	t.Parallel()
	c := fakeClient{}
	tests := []struct {
		name    string
		c       Client
		o       Options
		wantErr string
	}{
		{"ok", c, Options{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/vigil", DeadLetterDir: "dl"}, ""},
		{"ok with DLQ only", c, Options{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/vigil", DeadLetterQueueURL: "https://x/1/dlq"}, ""},
		{"no client", nil, Options{QueueURL: "https://x/1/q", DeadLetterDir: "dl"}, "no SQS client"},
		{"no queue", c, Options{DeadLetterDir: "dl"}, "no queue URL"},
		{"no queue name", c, Options{QueueURL: "https://sqs.eu-west-1.amazonaws.com", DeadLetterDir: "dl"}, "has no queue name"},
		{"no dead letter", c, Options{QueueURL: "https://x/1/q"}, "neither a dead-letter directory nor a dead-letter queue"},
		{"wait time", c, Options{QueueURL: "https://x/1/q", DeadLetterDir: "dl", WaitTime: 21 * time.Second}, "wait time 21s"},
		{"max messages", c, Options{QueueURL: "https://x/1/q", DeadLetterDir: "dl", MaxMessages: 11}, "max messages 11"},
		{"visibility", c, Options{QueueURL: "https://x/1/q", DeadLetterDir: "dl", VisibilityTimeout: time.Millisecond}, "visibility timeout 1ms"},
		{"negative", c, Options{QueueURL: "https://x/1/q", DeadLetterDir: "dl", MaxInFlight: -1}, "negative"},
	}
	for _, tc := range tests {
		p, err := New(tc.c, tc.o)
		if tc.wantErr == "" {
			if err != nil || p == nil {
				t.Errorf("%s: New = %v, %v", tc.name, p, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "sqssrc: ") {
			t.Errorf("%s: New error = %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}

// fakeClient satisfies Client for TestNew, which never polls.
type fakeClient struct{ Client }

func TestQueueURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, name, region string }{
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/vigil-events", "vigil-events", "eu-west-1"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo", "q.fifo", "cn-north-1"},
		{"https://eu-west-1.queue.amazonaws.com/123456789012/legacy", "legacy", "eu-west-1"},
		{"http://127.0.0.1:4566/000000000000/local/", "local", ""},
		{"", "", ""},
	} {
		if got := queueName(tc.url); got != tc.name {
			t.Errorf("queueName(%q) = %q, want %q", tc.url, got, tc.name)
		}
		if got := queueRegion(tc.url); got != tc.region {
			t.Errorf("queueRegion(%q) = %q, want %q", tc.url, got, tc.region)
		}
	}
}
