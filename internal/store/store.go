package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/detect"
)

// Stored is one alert as the store keeps it.
type Stored struct {
	Alert *alert.Alert `json:"alert"`
	// Event is the raw record that triggered the alert (event.Event.Raw),
	// as JSON; a record that is not JSON (a flow-log line) is a JSON
	// string. List leaves it out; Get returns it.
	Event json.RawMessage `json:"event,omitempty"`

	// The fields below are kept by the store; Put ignores them.

	// FirstSeen is when the alert was first stored, LastSeen when it was
	// last stored again.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Count is how many distinct events raised the alert: a replayed
	// event is not counted again. With the dedup key of alert.New, which
	// includes the event, it is 1.
	Count int `json:"count"`
	// Deliveries is how many times the alert was stored, replays
	// included.
	Deliveries int `json:"deliveries"`
}

// FromFinding builds what the store keeps of a finding: its alert and a
// copy of its event's raw record, which may alias a buffer the pipeline
// reuses.
func FromFinding(f *detect.Finding) Stored {
	return Stored{Alert: alert.New(f), Event: bytes.Clone(f.Event.Raw)}
}

// Options tune a Store. Zero values mean defaults.
type Options struct {
	// Retention is how long an alert is kept after it was last seen;
	// default 30 days.
	Retention time.Duration
	// MaxAlerts, if positive, is the most alerts kept: Prune removes the
	// oldest (by first seen) beyond it.
	MaxAlerts int
}

// DefaultRetention is the retention of a zero Options.
const DefaultRetention = 30 * 24 * time.Hour

// Store is the alert store. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options
	now  func() time.Time

	pruneBatch int // pruneBatch, but for tests

	mu     sync.Mutex // serialises Put's use of newest
	newest int64      // the latest first-seen time given out, unix ns
}

var (
	bucketAlerts = []byte("alerts")
	bucketTime   = []byte("time")
	bucketMeta   = []byte("meta")
	keyCount     = []byte("count")
)

// recordVersion is the first byte of every record, for a later format.
const recordVersion = 1

// keepEventIDs is how many of an alert's latest event ids its record keeps
// to recognise a replayed event.
const keepEventIDs = 8

// Open opens (creating) the alert store at path.
func Open(path string, o Options) (*Store, error) {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("alert store %s: %w", path, err)
		}
	}
	// The free list is rebuilt at open rather than written at each
	// commit (as etcd does): commits write less, which matters at one
	// commit per batch of alerts.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		InitialMmapSize: initialMmap})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("alert store %s: in use by another Vigil process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("alert store %s: %w", path, err)
	}
	s := &Store{db: db, opts: o, now: time.Now, pruneBatch: pruneBatch}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAlerts, bucketTime, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if k, _ := tx.Bucket(bucketTime).Cursor().Last(); len(k) >= 8 {
			s.newest = int64(binary.BigEndian.Uint64(k))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("alert store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Len returns how many alerts the store holds.
func (s *Store) Len() (int, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = getCount(tx)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("alert store: %w", err)
	}
	return int(n), nil
}

// Put stores alerts in one synced transaction. An alert whose dedup key
// is already stored updates that record: its first-seen time stays, its
// last-seen time, deliveries and latest alert and event are replaced, and
// its count grows only if the event id is not one it has seen. An alert
// without a dedup key is a caller's bug: the whole batch is refused.
func (s *Store) Put(alerts []Stored) error {
	if len(alerts) == 0 {
		return nil
	}
	// Encode outside the transaction, which holds the writer lock.
	enc := make([]encoded, len(alerts))
	for i, st := range alerts {
		if st.Alert == nil || st.Alert.DedupKey == "" {
			return fmt.Errorf("alert store: put: alert %d has no dedup key", i)
		}
		e, err := encode(st)
		if err != nil {
			return fmt.Errorf("alert store: put: alert %s: %w", st.Alert.DedupKey, err)
		}
		enc[i] = e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	newest := s.newest
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs, idx := tx.Bucket(bucketAlerts), tx.Bucket(bucketTime)
		n := getCount(tx)
		newest = s.newest
		for i := range enc {
			e := &enc[i]
			key := []byte(e.key)
			var r record
			if old := recs.Get(key); old != nil {
				if err := r.decode(old, true); err != nil {
					return fmt.Errorf("alert %s: %w", e.key, err)
				}
				r.last = max(now, r.first)
				r.deliveries++
				if !slices.Contains(r.eventIDs, e.eventID) {
					r.count++
					r.eventIDs = append(r.eventIDs, e.eventID)
					if len(r.eventIDs) > keepEventIDs {
						r.eventIDs = r.eventIDs[len(r.eventIDs)-keepEventIDs:]
					}
				}
				// The latest alert and event replace the stored ones; an
				// update without an event keeps the stored event (r.event
				// aliases old until r.append below copies it).
				r.alert = e.alert
				if len(e.event) > 0 {
					r.event = e.event
				}
			} else {
				// Each new alert a distinct first-seen time, later than all before.
				newest = max(now, newest+1)
				r = record{first: newest, last: newest, count: 1, deliveries: 1,
					eventIDs: []string{e.eventID}, alert: e.alert, event: e.event}
				n++
			}
			if err := recs.Put(key, r.append(nil)); err != nil {
				return err
			}
			if err := idx.Put(indexKey(r.first, e.key), indexValue(r.last, e)); err != nil {
				return err
			}
		}
		return putCount(tx, n)
	})
	if err != nil {
		return fmt.Errorf("alert store: put: %w", err)
	}
	s.newest = newest
	return nil
}

// Get returns the alert with the given id (its dedup key) and its event.
func (s *Store) Get(id string) (Stored, bool, error) {
	var st Stored
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAlerts).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		var err error
		st, err = decodeStored(v, true)
		return err
	})
	if err != nil {
		return Stored{}, false, fmt.Errorf("alert store: alert %s: %w", id, err)
	}
	return st, found, nil
}

// encoded is an alert to store, encoded.
type encoded struct {
	key, eventID, rule, account string
	severity                    detect.Severity
	alert, event                []byte
}

func encode(st Stored) (encoded, error) {
	a := st.Alert
	b, err := a.AppendJSON(nil)
	if err != nil { // a value the fast encoder leaves to encoding/json
		if b, err = json.Marshal(a); err != nil {
			return encoded{}, err
		}
	}
	ev := []byte(st.Event)
	if len(ev) > 0 && !json.Valid(ev) {
		// A record that is not JSON (a flow-log line) is kept as a string.
		if ev, err = json.Marshal(string(ev)); err != nil {
			return encoded{}, err
		}
	}
	return encoded{key: a.DedupKey, eventID: a.EventID, rule: a.Rule, account: a.Account,
		severity: a.Severity, alert: b, event: ev}, nil
}

// record is an alert as it is kept in the alerts bucket:
//
//	version (1) | first seen (8) | last seen (8) | count (uvarint) |
//	deliveries (uvarint) | event ids (uvarint n, then n × uvarint length + bytes) |
//	alert JSON (uvarint length + bytes) | raw event (the rest)
type record struct {
	first, last       int64
	count, deliveries uint64
	eventIDs          []string
	alert, event      []byte // alias the decoded value
}

func (r *record) append(b []byte) []byte {
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.first))
	b = binary.BigEndian.AppendUint64(b, uint64(r.last))
	b = binary.AppendUvarint(b, r.count)
	b = binary.AppendUvarint(b, r.deliveries)
	b = binary.AppendUvarint(b, uint64(len(r.eventIDs)))
	for _, id := range r.eventIDs {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.alert)))
	b = append(b, r.alert...)
	return append(b, r.event...)
}

var errCorrupt = errors.New("corrupt record")

// decode reads a record; the event ids are read only when ids is set.
func (r *record) decode(b []byte, ids bool) error {
	if len(b) < 17 || b[0] != recordVersion {
		return errCorrupt
	}
	r.first = int64(binary.BigEndian.Uint64(b[1:]))
	r.last = int64(binary.BigEndian.Uint64(b[9:]))
	b = b[17:]
	var ok bool
	if r.count, b, ok = uvarint(b); !ok {
		return errCorrupt
	}
	if r.deliveries, b, ok = uvarint(b); !ok {
		return errCorrupt
	}
	var n uint64
	if n, b, ok = uvarint(b); !ok || n > uint64(len(b)) {
		return errCorrupt
	}
	r.eventIDs = nil
	for range n {
		var l uint64
		if l, b, ok = uvarint(b); !ok || l > uint64(len(b)) {
			return errCorrupt
		}
		if ids {
			r.eventIDs = append(r.eventIDs, string(b[:l]))
		}
		b = b[l:]
	}
	var l uint64
	if l, b, ok = uvarint(b); !ok || l > uint64(len(b)) {
		return errCorrupt
	}
	r.alert, r.event = b[:l], b[l:]
	return nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

// decodeStored decodes a record, with a copy of its event when withEvent
// is set.
func decodeStored(v []byte, withEvent bool) (Stored, error) {
	var r record
	if err := r.decode(v, false); err != nil {
		return Stored{}, err
	}
	a := new(alert.Alert)
	if err := json.Unmarshal(r.alert, a); err != nil {
		return Stored{}, fmt.Errorf("alert JSON: %w", err)
	}
	st := Stored{Alert: a, FirstSeen: time.Unix(0, r.first).UTC(), LastSeen: time.Unix(0, r.last).UTC(),
		Count: int(r.count), Deliveries: int(r.deliveries)}
	if withEvent && len(r.event) > 0 {
		st.Event = bytes.Clone(r.event)
	}
	return st, nil
}

// indexKey is an alert's key in the time index.
func indexKey(first int64, key string) []byte {
	b := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(b, uint64(first))
	return append(b, key...)
}

// indexValue is an alert's value in the time index, what List filters on
// and Prune reads:
//
//	last seen (8) | severity (1) | rule (uvarint length + bytes) | account (the rest)
func indexValue(last int64, e *encoded) []byte {
	b := make([]byte, 0, 8+1+1+len(e.rule)+len(e.account))
	b = binary.BigEndian.AppendUint64(b, uint64(last))
	b = append(b, byte(e.severity))
	b = binary.AppendUvarint(b, uint64(len(e.rule)))
	b = append(b, e.rule...)
	return append(b, e.account...)
}

// indexFields splits an index value.
func indexFields(v []byte) (last int64, sev detect.Severity, rule, account []byte, ok bool) {
	if len(v) < 10 {
		return 0, 0, nil, nil, false
	}
	last, sev = int64(binary.BigEndian.Uint64(v)), detect.Severity(v[8])
	l, rest, ok := uvarint(v[9:])
	if !ok || l > uint64(len(rest)) {
		return 0, 0, nil, nil, false
	}
	return last, sev, rest[:l], rest[l:], true
}

func getCount(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyCount); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putCount(tx *bolt.Tx, n uint64) error {
	return tx.Bucket(bucketMeta).Put(keyCount, binary.BigEndian.AppendUint64(nil, n))
}

// initialMmap is the file's first mapping: growing it remaps the file,
// which waits for every reader and stalls every writer, so a file that
// grows from nothing under load would remap a dozen times in its first
// seconds. Address space only: memory is used as pages are touched.
const initialMmap = 256 << 20
