// Package s3src reads payloads from Amazon S3 and S3-compatible servers:
// it lists the objects under a prefix as pipeline inputs ([List]), opens one
// object as a stream ([OpenObject], [ObjectInput]), and reads the S3 event
// messages that announce new objects ([ParseNotification]) for the SQS
// poller and the Lambda handler.
//
// Objects are never buffered whole: an input's Open returns the GetObject
// body, and the decoders undo gzip as they read. Opening is lazy, so
// listing a million objects costs one GetObject per object only when the
// pipeline reaches it.
//
// Everything talks to S3 through [Client], the two calls of the SDK's
// *s3.Client that it needs, so that tests can run against a real
// S3-compatible server or a fake. [NewClient] builds the SDK client with
// the standard credential chain, as the AWS CLI does.
package s3src
