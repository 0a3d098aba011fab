package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/lambda"
	"github.com/vigil-sec/vigil/internal/notify"
	"github.com/vigil-sec/vigil/internal/outbox"
	"github.com/vigil-sec/vigil/internal/rules"
)

// noObjects is an S3 without the objects asked for: in these tests S3
// notifications name objects that are missing (the real S3 path is
// tested in internal/sqssrc and internal/s3src).
type noObjects struct{}

func (noObjects) OpenObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	return nil, errors.New("NoSuchKey: " + bucket + "/" + key)
}

func lambdaHandler(t *testing.T, url string) *lambda.Handler {
	t.Helper()
	engine, err := detect.New(rules.All())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	cfg := config.Notify{RetryInitial: 50 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Receivers: []config.Receiver{{Name: "hook", Webhook: &config.WebhookReceiver{URL: url}}}}
	disp, err := notify.NewDispatcher(cfg, ob, notify.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &lambda.Handler{Processor: &Batch{Engine: engine, Dispatcher: disp, Logger: slog.New(slog.DiscardHandler)}, Objects: noObjects{}}
}

func sqsEvent(bodies map[string]string, order []string) []byte {
	var ev events.SQSEvent
	for _, id := range order {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, Body: bodies[id], EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:eu-west-1:111122223333:vigil"})
	}
	b, _ := json.Marshal(ev)
	return b
}

// TestLambdaSQS runs an SQS batch through the Lambda handler and the real
// pipeline: the events' alerts are delivered before the invocation
// returns, and only the message whose object is missing is reported for
// retry.
func TestLambdaSQS(t *testing.T) {
	recv := newReceiver(t)
	h := lambdaHandler(t, recv.srv.URL)
	s3note := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/111122223333/CloudTrail/x.json.gz","size":10}}}]}`
	bodies := map[string]string{"m1": publicACL("lambda-1"), "m2": s3note, "m3": publicACL("lambda-3")}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Invoke(ctx, sqsEvent(bodies, []string{"m1", "m2", "m3"}))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Errorf("failures %+v, want only m2", resp.BatchItemFailures)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.got["lambda-1"] != 1 || recv.got["lambda-3"] != 1 || len(recv.got) != 2 {
		t.Errorf("delivered before returning: %v", recv.got)
	}
}

// TestLambdaUndelivered: with the receiver down, a message whose alert
// could not be delivered before the deadline is reported for retry; a
// message that raised nothing is not.
func TestLambdaUndelivered(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	h := lambdaHandler(t, down.URL)
	h.Reserve = 500 * time.Millisecond
	quiet := strings.Replace(strings.Replace(publicACL("quiet"), "PutBucketAcl", "GetBucketAcl", 1), `"x-amz-acl":"public-read"`, `"acl":""`, 1)
	bodies := map[string]string{"alerting": publicACL("down-1"), "quiet": quiet}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := h.Invoke(ctx, sqsEvent(bodies, []string{"alerting", "quiet"}))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	json.Unmarshal(out, &resp)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "alerting" {
		t.Errorf("failures %+v, want only the alerting message", resp.BatchItemFailures)
	}
}
