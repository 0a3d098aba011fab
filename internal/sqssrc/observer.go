package sqssrc

// Stage says where an error happened, for the errors metric's label.
type Stage string

// The stages of a message.
const (
	StageReceiving  Stage = "receiving"   // ReceiveMessage
	StageProcessing Stage = "processing"  // a message that cannot be handed on (no S3 client for a notification)
	StageExtending  Stage = "extending"   // ChangeMessageVisibility while jobs run, or for a retry delay
	StageDeleting   Stage = "deleting"    // DeleteMessageBatch
	StageDeadLetter Stage = "dead_letter" // writing or sending a poisoned message
)

// Observer is told what the poller does, for metrics: the daemon connects
// it to Prometheus counters. Its methods are called from the poller's
// goroutines, several at once, and must not block.
type Observer interface {
	// Received counts messages received.
	Received(n int)
	// Deleted counts messages deleted: processed, S3 test events, and
	// dead-lettered ones.
	Deleted(n int)
	// Failed counts messages left for redelivery because a job failed.
	Failed(n int)
	// DeadLettered counts messages dead-lettered.
	DeadLettered(n int)
	// Error counts an error at a stage; err is for logs, not labels.
	Error(stage Stage, err error)
}

// nopObserver is the default Observer.
type nopObserver struct{}

func (nopObserver) Received(int)       {}
func (nopObserver) Deleted(int)        {}
func (nopObserver) Failed(int)         {}
func (nopObserver) DeadLettered(int)   {}
func (nopObserver) Error(Stage, error) {}
