package sqssrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-sec/vigil/internal/source"
	"github.com/vigil-sec/vigil/internal/testsrv"
)

// trailFile is a real gzipped CloudTrail file (see testdata/README.md).
const trailFile = "testdata/650992545562_CloudTrail_ap-southeast-2_20220103T1930Z_l4XzuGS1OJvH48QP.json.gz"

// servers are the real servers the poller's tests share: Moto for SQS (and
// its S3 for the end-to-end notification test), versitygw for S3.
type servers struct {
	moto *testsrv.MotoServer
	s3   *testsrv.S3Server
}

// counter is an Observer that counts.
type counter struct {
	mu                                      sync.Mutex
	received, deleted, failed, deadLettered int
	errs                                    map[Stage][]error
}

func (c *counter) Received(n int)     { c.mu.Lock(); c.received += n; c.mu.Unlock() }
func (c *counter) Deleted(n int)      { c.mu.Lock(); c.deleted += n; c.mu.Unlock() }
func (c *counter) Failed(n int)       { c.mu.Lock(); c.failed += n; c.mu.Unlock() }
func (c *counter) DeadLettered(n int) { c.mu.Lock(); c.deadLettered += n; c.mu.Unlock() }
func (c *counter) Error(s Stage, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errs == nil {
		c.errs = map[Stage][]error{}
	}
	c.errs[s] = append(c.errs[s], err)
}

// counts are what a counter has counted.
type counts struct {
	Received, Deleted, Failed, DeadLettered int
	Errors                                  map[Stage]int // nil when none
}

// get returns the counts so far.
func (c *counter) get() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := counts{Received: c.received, Deleted: c.deleted, Failed: c.failed, DeadLettered: c.deadLettered}
	for s, e := range c.errs {
		if n.Errors == nil {
			n.Errors = map[Stage]int{}
		}
		n.Errors[s] = len(e)
	}
	return n
}

// run is a poller running for one test.
type run struct {
	t     *testing.T
	srv   *servers
	p     *Poller
	queue string // URL
	jobs  chan *source.Job
	obs   *counter
	stop  func() error // cancels Run and returns its error
}

// queueName returns a queue name for the test: its name, sanitized.
func testQueue(t *testing.T) string {
	n := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, t.Name())
	return n[max(0, len(n)-80):]
}

// start creates a queue for the test with the given visibility timeout and
// runs a poller on it with opts (QueueURL, DeadLetterDir, S3, Logger and
// Observer filled in when empty).
func (s *servers) start(t *testing.T, opts Options) *run {
	t.Helper()
	q := opts.QueueURL
	if q == "" {
		q = s.moto.CreateQueue(t, testQueue(t), nil)
		opts.QueueURL = q
	}
	if opts.DeadLetterDir == "" {
		opts.DeadLetterDir = t.TempDir()
	}
	switch opts.S3.(type) {
	case nil:
		opts.S3 = s.s3.S3()
	case noS3:
		opts.S3 = nil
	}
	obs := &counter{}
	if opts.Observer == nil {
		opts.Observer = obs
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := New(s.moto.SQS(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	jobs := make(chan *source.Job)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, jobs) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				runErr = errors.New("Run did not return within 10s of the cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
	return &run{t: t, srv: s, p: p, queue: q, jobs: jobs, obs: obs, stop: stop}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// send sends body to the run's queue.
func (r *run) send(body string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := r.srv.moto.SQS().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.queue), MessageBody: aws.String(body)})
	if err != nil {
		r.t.Fatalf("SendMessage: %v", err)
	}
}

// next waits up to timeout for the next job.
func (r *run) next(timeout time.Duration) *source.Job {
	r.t.Helper()
	select {
	case j := <-r.jobs:
		return j
	case <-time.After(timeout):
		r.t.Fatalf("no job within %v", timeout)
		return nil
	}
}

// none checks that no job comes for d.
func (r *run) none(d time.Duration) {
	r.t.Helper()
	select {
	case j := <-r.jobs:
		r.t.Fatalf("unexpected job %s", j.Input.Name)
	case <-time.After(d):
	}
}

// waitEmpty waits until the queue holds no message, visible or in flight.
func (r *run) waitEmpty(timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, f := r.srv.moto.QueueCounts(r.t, r.queue)
		if v == 0 && f == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("queue still holds %d visible and %d in-flight messages after %v", v, f, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCounts waits until the observer has counted exactly want: the
// poller reports a delete after SQS has done it.
func (r *run) waitCounts(want counts) {
	r.t.Helper()
	r.waitObserved(fmt.Sprintf("%+v", want), func(c counts) bool { return reflect.DeepEqual(c, want) })
}

// waitObserved waits up to 30s until ok holds for the observer's counts.
func (r *run) waitObserved(what string, ok func(counts) bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := r.obs.get()
		if ok(c) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("observed %+v, want %s", c, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counts returns how many messages the queue holds, visible and in flight.
func (r *run) counts() (visible, inFlight int) {
	r.t.Helper()
	return r.srv.moto.QueueCounts(r.t, r.queue)
}

// read opens a job's input and reads it whole.
func read(t *testing.T, j *source.Job) []byte {
	t.Helper()
	rc, err := j.Input.Open()
	if err != nil {
		t.Fatalf("open %s: %v", j.Input.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", j.Input.Name, err)
	}
	return b
}

// readFile returns a file of testdata.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// s3Notification returns an S3 event notification, after the real one in
// testdata/s3-event.json, with one ObjectCreated:Put record per key of
// bucket; keys are form-encoded as S3 encodes them.
func s3Notification(t *testing.T, bucket string, keys ...string) string {
	t.Helper()
	var tmpl struct {
		Records []map[string]any
	}
	if err := json.Unmarshal(readFile(t, "testdata/s3-event.json"), &tmpl); err != nil {
		t.Fatal(err)
	}
	var records []map[string]any
	for _, k := range keys {
		var rec map[string]any
		b, _ := json.Marshal(tmpl.Records[0])
		json.Unmarshal(b, &rec)
		s3 := rec["s3"].(map[string]any)
		s3["bucket"].(map[string]any)["name"] = bucket
		s3["bucket"].(map[string]any)["arn"] = "arn:aws:s3:::" + bucket
		s3["object"].(map[string]any)["key"] = url.QueryEscape(k)
		records = append(records, rec)
	}
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snsEnvelope wraps msg as SNS delivers it to SQS without raw delivery.
func snsEnvelope(msg string) string {
	b, _ := json.Marshal(map[string]string{
		"Type":             "Notification",
		"MessageId":        "4b1b1d6c-9d0e-5d6f-b5b3-5b7a2f3c8e11",
		"TopicArn":         "arn:aws:sns:ap-southeast-2:123456789122:cloudtrail-logs",
		"Subject":          "Amazon S3 Notification",
		"Message":          msg,
		"Timestamp":        "2022-01-03T19:35:00.000Z",
		"SignatureVersion": "1",
		"Signature":        "EXAMPLE",
		"SigningCertURL":   "https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
		"UnsubscribeURL":   "https://sns.ap-southeast-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=EXAMPLE",
	})
	return string(b)
}

// eventBridgeObjectCreated returns the EventBridge "Object Created" event
// of testdata for bucket/key.
func eventBridgeObjectCreated(t *testing.T, bucket, key string, size int) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, "testdata/eventbridge-s3-object-created.json"), &ev); err != nil {
		t.Fatal(err)
	}
	d := ev["detail"].(map[string]any)
	d["bucket"].(map[string]any)["name"] = bucket
	d["object"].(map[string]any)["key"] = key
	d["object"].(map[string]any)["size"] = size
	ev["resources"] = []string{"arn:aws:s3:::" + bucket}
	b, _ := json.Marshal(ev)
	return string(b)
}
