// Package lambda runs Vigil as an AWS Lambda function: it turns whatever
// event Lambda delivers (SQS, SNS, S3, EventBridge, CloudWatch Logs
// subscription) into payloads for the pipeline and reports back to Lambda
// which of them failed.
//
// One function may be subscribed to several triggers, so [Handler.Invoke]
// recognises the event from its JSON, in this order:
//
//   - {"Records":[...]} whose first record has eventSource "aws:sqs": an SQS
//     batch. Each message body is a payload named lambda:sqs/<messageId>,
//     unless the body points at S3 objects (below). The response is an
//     events.SQSEventResponse listing exactly the messages whose payloads
//     failed (partial batch response); the invocation itself succeeds.
//   - Records with EventSource "aws:sns": each Sns.Message is a payload
//     named lambda:sns/<MessageId>, unless it points at S3 objects.
//   - Records with eventSource "aws:s3": an S3 event notification; every
//     ObjectCreated:* record's object is read, as s3://bucket/key.
//   - {"awslogs":{"data":...}}: a CloudWatch Logs subscription; the payload
//     is the base64-decoded, gunzipped data (at most [MaxLogBytes]), named
//     lambda:cloudwatch-logs/<logGroup>/<logStream>/<first log event id>.
//   - An object with "detail-type" and "detail": an EventBridge event; the
//     payload is the whole envelope, named lambda:eventbridge/<id>, except
//     an S3 "Object Created" event, whose object is read instead.
//   - {"Event":"s3:TestEvent",...}: S3's test message; ignored.
//
// Anything else is an error naming what was received.
//
// A message body or SNS message points at S3 objects when it is an S3 event
// notification, an EventBridge S3 "Object Created" event, or either of these
// inside an SNS envelope (S3 → SNS → SQS). Records of other S3 event types
// (ObjectRemoved, lifecycle, restore...) are not read as objects: the
// message itself is handed on (for an S3 trigger, the event, named
// lambda:s3/<x-amz-request-id>), and decoders report those records as
// pointer events. S3 object keys arrive form-encoded ("+" for space) and are decoded
// as url.QueryUnescape does.
//
// Objects are streamed: the pipeline opens each one when its turn comes, and
// nothing in this package holds an object in memory.
//
// Failures and retries: for SQS, a failed message is listed in
// batchItemFailures and SQS delivers it again after its visibility timeout
// (then to the queue's dead-letter queue). For the asynchronous triggers
// (SNS, S3, EventBridge, CloudWatch Logs), any failed payload makes Invoke
// return an error, so Lambda retries the whole event and then sends it to
// the function's on-failure destination. Retried payloads that had already
// succeeded are evaluated again; the pipeline's dedup log keeps their alerts
// from being sent twice.
package lambda
