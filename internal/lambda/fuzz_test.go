package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vigil-sec/vigil/internal/lambda"
	"github.com/vigil-sec/vigil/internal/source"
)

// FuzzInvoke checks that no payload makes Invoke panic, and that it always
// answers with either an error or valid JSON.
func FuzzInvoke(f *testing.F) {
	for _, dir := range []string{"aws-lambda-go", "cloudwatch-logs", "cloudtrail"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	record := cloudTrailRecord(f)
	f.Add(sqsEvent(f, sqsMessage("a", string(s3Created(f, "logs", "a+b.json.gz"))), sqsMessage("b", string(record))))
	f.Add(sqsEvent(f, sqsMessage("c", string(mustJSON(f, snsMessage("s", string(s3ObjectCreated(f, "eb", "logs", "k"))))))))
	f.Add(snsEvent(f, snsMessage("n", string(s3Created(f, "logs", "%zz")))))
	f.Add(awslogs(f, readFile(f, "cloudwatch-logs/valid_cloudwatch_log.json")))
	f.Add(eventBridge(f, "e", "aws.cloudtrail", "AWS API Call via CloudTrail", record))
	f.Add([]byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":"{\"Type\":\"Notification\",\"Message\":\"{\\\"Event\\\":\\\"s3:TestEvent\\\"}\"}"}]}`))

	objects := &bucket{objects: map[string][]byte{"logs/a b.json.gz": []byte("x"), "logs/k": []byte("y")}}
	f.Fuzz(func(t *testing.T, event []byte) {
		// Payloads whose name contains "fail" fail in the pipeline.
		p := processorFunc(func(_ context.Context, jobs []source.Job) error {
			for _, j := range jobs {
				var err error
				if strings.Contains(j.Input.Name, "fail") {
					err = errors.New("fail")
				} else {
					_, err = readInput(j.Input)
				}
				j.Done(err)
			}
			return nil
		})
		h := &lambda.Handler{Processor: p, Objects: objects}
		resp, err := h.Invoke(context.Background(), event)
		if err != nil {
			if resp != nil {
				t.Errorf("Invoke returned %q with error %v", resp, err)
			}
			return
		}
		if !json.Valid(resp) {
			t.Fatalf("Invoke returned invalid JSON %q", resp)
		}
		if string(resp) == "null" {
			return
		}
		var r events.SQSEventResponse
		if err := json.Unmarshal(resp, &r); err != nil || r.BatchItemFailures == nil {
			t.Fatalf("response %s is not an SQS batch response: %v", resp, err)
		}
		for _, fl := range r.BatchItemFailures {
			if fl.ItemIdentifier == "" {
				t.Errorf("a failure without itemIdentifier in %s", resp)
			}
		}
	})
}
