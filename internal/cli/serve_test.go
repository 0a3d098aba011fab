package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-sec/vigil/internal/testsrv"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hookReceiver records the event ids of the alerts a webhook receives.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	ids map[string]int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{ids: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Alerts []struct {
				EventID string `json:"event_id"`
				Rule    string `json:"rule"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		for _, a := range p.Alerts {
			h.ids[a.EventID]++
		}
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) has(ids ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if h.ids[id] == 0 {
			return false
		}
	}
	return true
}

// publicACLRecord is a CloudTrail record that alerts (a bucket ACL made
// public), told apart by id.
func publicACLRecord(id string) string {
	return `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","userName":"bob"},` +
		`"eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"192.0.2.1","requestParameters":{"bucketName":"b-` + id + `","x-amz-acl":"public-read"},"eventID":"` + id + `","recipientAccountId":"111122223333"}`
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// awsEnv points the AWS SDK's standard chain at the test servers'
// credentials, as a deployment's role or environment would.
func awsEnv(t *testing.T, gw *testsrv.S3Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestServeSQS runs `vigil serve` against a real SQS-compatible server
// (Moto) and a real S3-compatible server (versitygw) on loopback: an
// EventBridge event sent to the queue, and an S3 notification of a new
// gzipped CloudTrail log file, both alert, and both messages are deleted.
func TestServeSQS(t *testing.T) {
	moto := testsrv.Moto(t)
	gw := testsrv.VersityGW(t)
	awsEnv(t, gw)
	gw.CreateBucket(t, "trail")
	key := "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/111122223333_CloudTrail_eu-west-1_20261120T0900Z_abc.json.gz"
	gw.PutObject(t, "trail", key, gzipped(t, `{"Records":[`+publicACLRecord("from-s3-1")+`,`+publicACLRecord("from-s3-2")+`]}`))
	queue := moto.CreateQueue(t, "vigil-cloudtrail", nil)
	recv := newHookReceiver(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.yaml")
	writeFile(t, cfg, fmt.Sprintf(`serve:
  listen: 127.0.0.1:0
  data_dir: %s
  inbox: {dir: "-"}
  sqs:
    - queue_url: %s
      endpoint: %s
      region: us-east-1
      visibility_timeout: 5s
  s3:
    endpoint: %s
    path_style: true
    region: us-east-1
notify:
  receivers:
    - name: hook
      webhook: {url: %s}
`, filepath.Join(dir, "data"), queue, moto.URL, gw.URL, recv.URL))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"vigil", "serve", "--config", cfg}, Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	}()

	sq := moto.SQS()
	send := func(body string) {
		if _, err := sq.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"version":"0","id":"eb-1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2026-11-20T09:00:00Z","region":"eu-west-1","resources":[],"detail":` + publicACLRecord("from-eventbridge") + `}`)
	send(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-20T09:05:00.000Z","eventName":"ObjectCreated:Put",` +
		`"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"trail","arn":"arn:aws:s3:::trail"},"object":{"key":"` + key + `","size":100}}}]}`)

	deadline := time.Now().Add(60 * time.Second)
	for !recv.has("from-eventbridge", "from-s3-1", "from-s3-2") {
		if time.Now().After(deadline) {
			t.Fatalf("alerts not delivered; got %v\nstderr:\n%s", recv.ids, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		visible, inFlight := moto.QueueCounts(t, queue)
		if visible == 0 && inFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages not deleted: %d visible, %d in flight", visible, inFlight)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("serve exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if n := strings.Count(stdout.String(), "\n"); n != 3 {
		t.Errorf("console printed %d alerts, want 3:\n%s", n, stdout.String())
	}
}

// TestScanS3 backfills from a real S3-compatible server: vigil scan
// s3://bucket/prefix reads every object under the prefix.
func TestScanS3(t *testing.T) {
	gw := testsrv.VersityGW(t)
	awsEnv(t, gw)
	gw.CreateBucket(t, "trail")
	for i := range 3 {
		gw.PutObject(t, "trail", fmt.Sprintf("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/f%d.json.gz", i),
			gzipped(t, `{"Records":[`+publicACLRecord(fmt.Sprintf("s3-%d", i))+`]}`))
	}
	gw.PutObject(t, "trail", "other/f.json.gz", gzipped(t, `{"Records":[`+publicACLRecord("outside")+`]}`))
	cfg := filepath.Join(t.TempDir(), "vigil.yaml")
	writeFile(t, cfg, fmt.Sprintf("serve:\n  s3: {endpoint: %s, path_style: true, region: us-east-1}\n", gw.URL))
	code, stdout, stderr := runCLI(t, "", "scan", "--config", cfg, "--format", "json", "s3://trail/AWSLogs/")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for i := range 3 {
		if !strings.Contains(stdout, fmt.Sprintf(`"event_id":"s3-%d"`, i)) || !strings.Contains(stdout, fmt.Sprintf(`"source":"s3://trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/f%d.json.gz"`, i)) {
			t.Errorf("object %d not scanned:\n%s", i, stdout)
		}
	}
	if strings.Contains(stdout, "outside") {
		t.Error("an object outside the prefix was scanned")
	}
	code, _, stderr = runCLI(t, "", "scan", "--config", cfg, "s3://trail/nothing-here/")
	if code != ExitError || !strings.Contains(stderr, "no objects") {
		t.Errorf("empty prefix: exit %d: %s", code, stderr)
	}
}
