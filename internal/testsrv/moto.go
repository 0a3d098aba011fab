package testsrv

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Moto's fixed account and the region its clients are given.
const (
	motoAccount = "123456789012"
	motoRegion  = "us-east-1"
)

// MotoServer is a running Moto server (moto_server), an emulator of AWS
// that serves SQS, S3, SNS and the rest on one port, with all its state in
// memory. It is stopped when the test ends. Moto is a Python program, so
// tools/go.mod cannot pin it: it comes with the machine (Moto 5.2.1 here),
// and scripts/tools.sh writes the moto_server wrapper that runs it.
//
// Moto was checked here with aws-sdk-go-v2 (SQS's JSON protocol): SQS
// long polling (WaitTimeSeconds, returning as soon as a message is
// visible), MaxNumberOfMessages, visibility timeouts and redelivery,
// ApproximateReceiveCount, ChangeMessageVisibility and its batch form,
// DeleteMessageBatch, SendMessage with message attributes,
// GetQueueAttributes; S3 ListObjectsV2 with a prefix and
// continuation tokens, GetObject, and bucket notifications to SQS and SNS
// (with s3:TestEvent, and keys form-encoded as S3 does); SNS to SQS in the
// SNS envelope. What it does not do, or does differently from AWS:
//
//   - No authentication: any credentials are accepted, signatures are not
//     checked, and there are no IAM or queue policies.
//   - Time has a granularity of about a second: a long poll rechecks for
//     messages whose visibility has expired once a second, and visibility
//     timeouts are whole seconds as in SQS.
//   - The account is always 123456789012; the region is the one the client
//     signs with (us-east-1 here).
//   - SNS envelopes are signed with a certificate that only Moto serves.
type MotoServer struct {
	awsEndpoint
	AccountID string // the account in every ARN, 123456789012

	proc *process
}

// Moto starts a Moto server on 127.0.0.1 and waits until it answers. It
// stops the server when the test ends and prints its log if the test
// failed. Moto takes about two seconds to start, so tests that need many
// queues should share one server and give each test its own queue.
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	bin := Binary(t, "moto_server")
	dir := t.TempDir()
	m := &MotoServer{AccountID: motoAccount}
	m.Region = motoRegion
	m.AccessKey, m.SecretKey = "AKIAMOTOTEST", "moto-test-secret"
	m.proc = &process{name: "moto_server", path: bin, dir: dir, logPath: filepath.Join(dir, "moto.log")}
	m.proc.manage(t)
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		m.URL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		m.proc.args = []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}
		if err := m.proc.start(); err != nil {
			t.Fatalf("testsrv: %v", err)
		}
		err := poll(startTimeout, 50*time.Millisecond, func() error { return httpReady(m.URL + "/moto-api/") }, m.proc)
		if err == nil {
			return m
		}
		m.proc.stop(true)
		if attempt < 3 && strings.Contains(strings.ToLower(m.proc.tail(20)), "address already in use") {
			t.Logf("testsrv: moto_server: the port was taken, retrying with another")
			continue
		}
		t.Fatalf("testsrv: moto_server did not start: %v\n%s", err, m.proc.logReport())
	}
}

// QueueARN returns the ARN of the queue called name.
func (m *MotoServer) QueueARN(name string) string {
	return "arn:aws:sqs:" + m.Region + ":" + m.AccountID + ":" + name
}

// CreateQueue creates a standard queue with the given attributes (for
// example "VisibilityTimeout": "2") and returns its URL.
func (m *MotoServer) CreateQueue(t testing.TB, name string, attrs map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := m.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("testsrv: moto: create queue %q: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

// QueueCounts returns how many messages the queue holds that are visible
// and how many are in flight (received, neither deleted nor visible again).
func (m *MotoServer) QueueCounts(t testing.TB, queueURL string) (visible, inFlight int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := m.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("testsrv: moto: queue attributes of %s: %v", queueURL, err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight
}

// SubscribeQueue creates the SNS topic called topic (if it does not exist
// yet) and subscribes the queue with ARN queueARN to it, without raw
// message delivery, so that the queue receives each message in SNS's JSON
// envelope as AWS delivers it. It returns the topic's ARN. It speaks SNS's
// Query protocol directly: Vigil's module has no SNS client.
func (m *MotoServer) SubscribeQueue(t testing.TB, topic, queueARN string) string {
	t.Helper()
	var created struct {
		TopicArn string `xml:"CreateTopicResult>TopicArn"`
	}
	m.snsCall(t, url.Values{"Action": {"CreateTopic"}, "Name": {topic}}, &created)
	if created.TopicArn == "" {
		t.Fatalf("testsrv: moto: CreateTopic %q returned no TopicArn", topic)
	}
	var sub struct {
		SubscriptionArn string `xml:"SubscribeResult>SubscriptionArn"`
	}
	m.snsCall(t, url.Values{
		"Action": {"Subscribe"}, "TopicArn": {created.TopicArn},
		"Protocol": {"sqs"}, "Endpoint": {queueARN},
	}, &sub)
	if sub.SubscriptionArn == "" {
		t.Fatalf("testsrv: moto: Subscribe %s to %s returned no SubscriptionArn", queueARN, created.TopicArn)
	}
	return created.TopicArn
}

// snsCall posts one SNS Query API call and decodes its XML response into v.
func (m *MotoServer) snsCall(t testing.TB, form url.Values, v any) {
	t.Helper()
	form.Set("Version", "2010-03-31")
	req, err := http.NewRequest(http.MethodPost, m.URL+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("testsrv: moto: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Moto routes by the service named in the credential scope.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+m.AccessKey+"/20260101/"+m.Region+"/sns/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("testsrv: moto: SNS %s: %v", form.Get("Action"), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testsrv: moto: SNS %s: %v", form.Get("Action"), err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testsrv: moto: SNS %s: %s: %s", form.Get("Action"), resp.Status, b)
	}
	if err := xml.Unmarshal(b, v); err != nil {
		t.Fatalf("testsrv: moto: SNS %s: %v in %s", form.Get("Action"), err, b)
	}
}
