package testsrv

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// receive long-polls the queue once for up to wait.
func receive(ctx context.Context, t *testing.T, c *sqs.Client, queueURL string, wait int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), WaitTimeSeconds: wait, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

// TestMotoSQS checks the SQS calls Vigil's poller makes against Moto.
func TestMotoSQS(t *testing.T) {
	t.Parallel()
	m := Moto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := m.SQS()
	q := m.CreateQueue(t, "vigil", map[string]string{"VisibilityTimeout": "1"})

	start := time.Now()
	if msgs := receive(ctx, t, c, q, 1); len(msgs) != 0 {
		t.Fatalf("ReceiveMessage on an empty queue = %d messages", len(msgs))
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("a long poll of 1 s on an empty queue returned after %v", d)
	}

	go func() {
		time.Sleep(300 * time.Millisecond)
		c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(`{"n":1}`)})
	}()
	start = time.Now()
	msgs := receive(ctx, t, c, q, 10)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != `{"n":1}` {
		t.Fatalf("ReceiveMessage = %+v, want the message sent", msgs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a long poll returned %v after the message was sent, want at once", d)
	}
	if got := msgs[0].Attributes["ApproximateReceiveCount"]; got != "1" {
		t.Errorf("ApproximateReceiveCount = %q, want 1", got)
	}

	// Not deleted: it comes back after the visibility timeout, counted.
	msgs = receive(ctx, t, c, q, 5)
	if len(msgs) != 1 || msgs[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the visibility timeout, ReceiveMessage = %+v, want the message with ApproximateReceiveCount 2", msgs)
	}
	// Extended, it stays away.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 4,
	}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	if got := receive(ctx, t, c, q, 2); len(got) != 0 {
		t.Fatalf("ReceiveMessage after extending the visibility = %d messages, want none", len(got))
	}
	out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: msgs[0].ReceiptHandle},
	}})
	if err != nil || len(out.Successful) != 1 {
		t.Fatalf("DeleteMessageBatch = %+v, %v", out, err)
	}
	if v, f := m.QueueCounts(t, q); v != 0 || f != 0 {
		t.Errorf("after the delete: %d visible, %d in flight; want none", v, f)
	}
}

// TestMotoS3Notifications checks that Moto's S3 notifies a queue directly
// and through SNS, with S3's test event first and form-encoded keys.
func TestMotoS3Notifications(t *testing.T) {
	t.Parallel()
	m := Moto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := m.SQS()
	direct := m.CreateQueue(t, "direct", nil)
	viaSNS := m.CreateQueue(t, "via-sns", nil)
	topic := m.SubscribeQueue(t, "s3-events", m.QueueARN("via-sns"))
	m.CreateBucket(t, "trail")
	_, err := m.S3().PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String("trail"),
		NotificationConfiguration: &s3types.NotificationConfiguration{
			QueueConfigurations: []s3types.QueueConfiguration{{QueueArn: aws.String(m.QueueARN("direct")), Events: []s3types.Event{"s3:ObjectCreated:*"}}},
			TopicConfigurations: []s3types.TopicConfiguration{{TopicArn: aws.String(topic), Events: []s3types.Event{"s3:ObjectCreated:*"}}},
		},
	})
	if err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}
	m.PutObject(t, "trail", "a b+c é.json", []byte("{}"))

	type record struct {
		EventSource string
		S3          struct{ Object struct{ Key string } }
	}
	var bodies []struct {
		Event   string
		Records []record
	}
	for _, msg := range receive(ctx, t, c, direct, 2) {
		var b struct {
			Event   string
			Records []record
		}
		json.Unmarshal([]byte(aws.ToString(msg.Body)), &b)
		bodies = append(bodies, b)
	}
	if len(bodies) != 2 || bodies[0].Event != "s3:TestEvent" || len(bodies[1].Records) != 1 {
		t.Fatalf("direct queue got %+v, want s3:TestEvent and then one record", bodies)
	}
	if got, want := bodies[1].Records[0].S3.Object.Key, "a+b%2Bc+%C3%A9.json"; got != want {
		t.Errorf("notified key = %q, want %q", got, want)
	}

	msgs := receive(ctx, t, c, viaSNS, 2)
	var found bool
	for _, msg := range msgs {
		var env struct{ Type, TopicArn, Message string }
		if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &env); err != nil {
			t.Fatalf("SNS delivery is not JSON: %v", err)
		}
		if env.Type != "Notification" || env.TopicArn != topic {
			t.Errorf("SNS delivery = %+v, want a Notification from %s", env, topic)
		}
		found = found || json.Valid([]byte(env.Message))
	}
	if !found {
		t.Errorf("queue subscribed to SNS got %d messages, none a notification with a JSON Message", len(msgs))
	}
}
