// Package decode turns payloads (files, S3 objects, queue messages, HTTP
// bodies) into events, whatever AWS format they hold.
//
// Decoding happens in two steps so that it can use every core even on one
// large file:
//
//   - [Split] reads a payload as a stream: it undoes gzip (with size and
//     ratio limits), sniffs the format from the content, and cuts the stream
//     into [Frame]s, one per record (an element of a CloudTrail Records
//     array, a line of NDJSON or of a flow log, a top-level JSON value). It
//     holds at most one record in memory beyond the batch it is filling, so
//     memory stays flat whatever the payload's size.
//   - [Decoder.Decode] decodes one frame: it validates the JSON, unwraps
//     envelopes (EventBridge, SNS, SQS, CloudWatch Logs subscriptions, API
//     responses) up to a depth limit, and calls the format's decoder
//     (cloudtrail, guardduty, accessanalyzer, flowlog). Frames are
//     independent, so batches can be decoded concurrently.
//
// A bad record never stops decoding: it is reported as a [*RecordError]
// naming its origin and, when known, the field, and its neighbours are still
// decoded. Records that are well formed but are not security events Vigil
// handles (a CloudTrail digest, an SNS subscription confirmation, an
// EventBridge event of another type) are reported as [*Unsupported].
package decode
