package source

import (
	"bytes"
	"io"
	"time"
)

// Job is one payload from a live source (the spool, an SQS message, a
// watched folder, a Lambda invocation) together with what the source does
// once the pipeline has finished with it.
type Job struct {
	Input Input
	// Source names where the payload came from for metrics and logs:
	// "http", "sns", "sqs", "inbox", "lambda".
	Source string
	// Received is when Vigil took the payload in: latency from receipt to
	// alert is measured from it.
	Received time.Time
	// Done, if set, is called exactly once, after every event of the
	// payload has been evaluated and its alerts handed to delivery
	// durably. err is the payload's failure as a whole (it could not be
	// opened or read), nil when it was processed, even if some records in
	// it were bad: those are reported, not retried.
	Done func(err error)
}

// Bytes returns an input that reads b.
func Bytes(name string, b []byte) Input {
	return Input{Name: name, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}
