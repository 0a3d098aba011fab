package inbox

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketFiles = []byte("files") // relative path (slash-separated) -> entry JSON

// state is where a file is in its processing.
type state string

const (
	inFlight state = "in-flight" // handed to the pipeline, not yet done
	done     state = "done"
	failed   state = "failed" // retried while attempts remain
)

// entry is what the ledger knows of one file.
type entry struct {
	// Size and MTime (unix ns) are the file's when it was last taken.
	Size  int64 `json:"size"`
	MTime int64 `json:"mtime_ns"`
	State state `json:"state"`
	// Attempts counts the times the file was taken since it last changed.
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
	// Retry is when a failed file may be taken again; zero once given up.
	Retry   time.Time `json:"retry,omitzero"`
	Updated time.Time `json:"updated"`
	// Gone is when the file was first found missing; zero while it is there.
	Gone time.Time `json:"gone,omitzero"`
}

// same reports whether the file's fingerprint is still f.
func (e *entry) same(f fingerprint) bool { return e.Size == f.size && e.MTime == f.mtime }

// fingerprint is what tells a file's versions apart.
type fingerprint struct {
	size, mtime int64
}

// loadLedger reads every entry.
func loadLedger(db *bolt.DB) (map[string]*entry, error) {
	files := map[string]*entry{}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketFiles)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			e := new(entry)
			if err := json.Unmarshal(v, e); err != nil {
				return fmt.Errorf("entry %q: %w", k, err)
			}
			files[string(k)] = e
			return nil
		})
	})
	return files, err
}

// write stores entries in one synced transaction; a nil entry removes the
// path.
func write(db *bolt.DB, changes map[string]*entry) error {
	if len(changes) == 0 {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		for rel, e := range changes {
			if e == nil {
				if err := b.Delete([]byte(rel)); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(rel), v); err != nil {
				return err
			}
		}
		return nil
	})
}
