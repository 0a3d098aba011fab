package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneBatch is the most alerts one Prune transaction removes, so that
// pruning a large store does not hold the writer lock, or memory, for
// long.
const pruneBatch = 5000

// Prune removes the alerts last seen more than the retention before now,
// and the oldest alerts (by first seen) beyond MaxAlerts. It returns how
// many it removed. It works in batches, each its own synced transaction;
// Put may run between them.
func (s *Store) Prune(now time.Time) (int, error) {
	cutoff := now.Add(-s.opts.Retention).UnixNano()
	total := 0
	for {
		n, err := s.pruneOnce(cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("alert store: prune: %w", err)
		}
		if n < s.pruneBatch {
			return total, nil
		}
	}
}

// pruneOnce removes up to s.pruneBatch alerts, oldest first.
func (s *Store) pruneOnce(cutoff int64) (int, error) {
	removed := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		recs, idx := tx.Bucket(bucketAlerts), tx.Bucket(bucketTime)
		n := getCount(tx)
		var doomed [][]byte
		c := idx.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < s.pruneBatch; k, v = c.Next() {
			over := s.opts.MaxAlerts > 0 && n > uint64(s.opts.MaxAlerts)
			if len(k) < 8 {
				return fmt.Errorf("index key %x: %w", k, errCorrupt)
			}
			if !over && int64(binary.BigEndian.Uint64(k)) >= cutoff {
				break // first seen, and so last seen, within the retention from here on
			}
			if last, _, _, _, ok := indexFields(v); ok && last >= cutoff && !over {
				continue // first seen long ago but seen again since
			}
			doomed = append(doomed, slices.Clone(k))
			n--
		}
		for _, k := range doomed {
			if err := idx.Delete(k); err != nil {
				return err
			}
			if err := recs.Delete(k[8:]); err != nil {
				return err
			}
		}
		removed = len(doomed)
		if removed == 0 {
			return nil
		}
		return putCount(tx, n)
	})
	return removed, err
}
