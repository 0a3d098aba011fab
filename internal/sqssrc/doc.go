// Package sqssrc polls an Amazon SQS queue and hands each message to the
// pipeline as [source.Job]s: the live source of `vigil serve` for
// CloudTrail, GuardDuty and other AWS events delivered to a queue.
//
// # What a message becomes
//
// Each message body is looked at once ([s3src.ParseNotification]):
//
//   - A message about S3 objects (an S3 event notification, directly or in
//     an SNS envelope, or an EventBridge "Object Created" event) becomes
//     one job per created object, named s3://bucket/key, whose input
//     streams the object from S3 through the decoders: this is how
//     CloudTrail's log files reach Vigil when the trail's bucket notifies a
//     queue. Records of other S3 event types in the same notification
//     (ObjectRemoved...) are handed on too, as one more job with the body.
//   - S3's test event (s3:TestEvent, sent when a notification
//     configuration is saved) is logged and deleted.
//   - A malformed message about S3 objects (a record without a bucket
//     name or key) can never succeed: it is dead-lettered at once.
//   - Anything else (an EventBridge event, an SNS notification, any payload
//     the decoders accept, and bodies that are not JSON at all) becomes one
//     job with the body as its input, named sqs://queue-name/message-id.
//     The poller does not judge what the decoders will make of it: a body
//     they cannot read fails its job (the pipeline's verdict for a payload
//     of no known format), the message is redelivered, and after
//     MaxReceives receives it is dead-lettered, where an operator can see
//     it. Bad records inside a readable payload are reported by the
//     pipeline and do not fail the job.
//
// # Acknowledgement
//
// A message is deleted only after every job it produced has been done
// with a nil error (Job.Done). If any job fails, the message is not
// deleted: it becomes visible again when its visibility timeout expires,
// or after Options.RetryDelay (doubled with each receive) when that is
// set, and SQS delivers it again. While a message's jobs are in flight
// the poller extends its visibility, so that a slow payload is not
// delivered twice. Deletes and visibility changes are batched (ten
// messages a call).
//
// A message received more than Options.MaxReceives times
// (ApproximateReceiveCount) is not processed again: it is written to
// Options.DeadLetterDir as one JSON file (body, attributes, receive count,
// reason, last error seen) and, when Options.DeadLetterQueueURL is set,
// sent to that queue; only then is it deleted. If SQS itself has a redrive
// policy on the queue with a lower maxReceiveCount, SQS moves the message
// first and the poller never sees it poisoned.
//
// # Delivery is at least once
//
// When Run's context is cancelled the poller stops receiving, deletes the
// messages whose jobs are all done, makes the messages still in flight
// visible again at once, and returns. A job done after that changes
// nothing: its message is received again later, by this process after a
// restart or by another. Any crash has the same outcome. The pipeline's
// dedup absorbs the repeats.
//
// # Flow control
//
// Options.Workers receive loops long-poll the queue concurrently. They
// stop receiving while Options.MaxInFlight jobs are outstanding, and a
// receive asks for no more messages than there are free slots (one
// notification may still name several objects). Receive errors are
// logged and retried with a backoff that doubles up to a minute; they
// never stop the poller.
package sqssrc
