package decode

// Limits bound what one hostile payload can cost. The zero value of a field
// means its default.
type Limits struct {
	// MaxRecordBytes is the largest single record: one JSON value, one line.
	// Larger records are reported and skipped. Default 16 MiB; CloudTrail
	// records are at most a few hundred KiB.
	MaxRecordBytes int
	// MaxPayloadBytes is the largest decompressed payload. Default 64 GiB.
	MaxPayloadBytes int64
	// MaxGzipRatio is the largest allowed ratio of decompressed to
	// compressed bytes (after the first MiB), which stops gzip bombs
	// early. Default 1024; real AWS logs compress 5–30x.
	MaxGzipRatio int64
	// MaxNestedBytes bounds data decompressed from inside a record, such as
	// a CloudWatch Logs subscription's awslogs.data. Default 64 MiB.
	MaxNestedBytes int
	// MaxDepth bounds how deep envelopes may nest (SQS body holding an SNS
	// message holding an EventBridge event...). Default 8.
	MaxDepth int
}

// withDefaults returns l with zero fields set to their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxRecordBytes <= 0 {
		l.MaxRecordBytes = 16 << 20
	}
	if l.MaxPayloadBytes <= 0 {
		l.MaxPayloadBytes = 64 << 30
	}
	if l.MaxGzipRatio <= 0 {
		l.MaxGzipRatio = 1024
	}
	if l.MaxNestedBytes <= 0 {
		l.MaxNestedBytes = 64 << 20
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 8
	}
	return l
}
