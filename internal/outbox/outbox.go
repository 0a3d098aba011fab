// Package outbox keeps notifications on disk until their destination has
// accepted them: a queue per destination ordered by when each item is due,
// the open group each new alert may join, the dead letters that ran out of
// attempts, and what was recently queued, so that an event delivered twice
// notifies once.
//
// Every change is one bbolt transaction, synced before it returns: an item
// added survives a crash, and an item is removed only after its delivery
// succeeded, so delivery is at least once. An entry may also come in after
// its notification was sent, or while it is being sent (see [Early]): the
// daemon sends single alerts from memory while it queues them here.
package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-sec/vigil/internal/alert"
)

// Item is one notification waiting for its destination.
type Item struct {
	ID       uint64 `json:"id"`
	Dest     string `json:"dest"`
	Receiver string `json:"receiver"`
	GroupKey string `json:"group_key"`
	Test     bool   `json:"test,omitempty"`
	// Alerts are the item's alerts; they are kept apart from the item
	// on disk, so that one joining a group is one write.
	Alerts  []*alert.Alert `json:"-"`
	NAlerts int            `json:"alerts"`
	Created time.Time      `json:"created"`
	// Due is when the item is next tried: the end of its group's wait,
	// then the end of each backoff.
	Due       time.Time `json:"due"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	// DeadAt is when the item was dead-lettered, zero while queued.
	DeadAt time.Time `json:"dead_at,omitzero"`

	// upTo is one past the index of the last alert read into Alerts:
	// Done removes those below it.
	upTo uint32
}

// Entry is one alert to queue for one destination.
type Entry struct {
	Dest, Receiver, GroupKey string
	Test                     bool
	Alert                    *alert.Alert
	// Wait is the group's wait: alerts of the same group added before it
	// ends go out in the same notification.
	Wait time.Duration
	// Repeat is how long an alert with the same dedup key is dropped for
	// this destination after it was queued; 0 never drops.
	Repeat time.Duration
	// Early, when set, is the entry's notification already on its way
	// (see [Early]): Add does not check Repeat for it (the sender did)
	// and queues it as its outcome says, in an item of its own.
	Early *Early
}

// Early is an entry's notification sent before the entry was queued: a
// dispatcher sends alerts that wait for no group straight from memory
// while they are being queued, so that an alert's way to its destination
// does not include a synced write. The two meet here. Add queues the
// entry as the send went: not at all when it was delivered, for a retry
// (or dead-lettered) when it failed, due at once when it was not tried,
// and as being sent while it is in flight, in which case the send's
// outcome settles the item like one Due handed out. Until Add has
// returned, the entry is safe only because its source has not been told
// it is done: a crash sends the alert again.
type Early struct {
	mu    sync.Mutex
	state earlyState
	err   error
	retry time.Time
	item  *Item
}

type earlyState uint8

const (
	earlySending earlyState = iota
	earlyTried
	earlyUntried
)

// Finish reports the send's outcome: err nil when the destination
// accepted it, otherwise when to retry (zero: dead-letter). It returns
// the item Add queued for the entry while it was in flight, to be settled
// with Done and this outcome, or nil when Add has not run yet (it will
// queue the entry as the outcome says).
func (e *Early) Finish(err error, retry time.Time) *Item {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state, e.err, e.retry = earlyTried, err, retry
	return e.item
}

// delivered reports whether e is an early send the destination accepted
// (false for nil).
func (e *Early) delivered() bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state == earlyTried && e.err == nil
}

// Untried reports that the notification was not sent (the sender
// stopped first). It returns the item Add queued meanwhile, to be given
// back with Release, or nil (Add will queue the entry due at once).
func (e *Early) Untried() *Item {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state = earlyUntried
	return e.item
}

// Result is the outcome of trying an item.
type Result struct {
	Item *Item
	// Err is nil when the destination accepted the item.
	Err error
	// Retry is when to try again; zero dead-letters the item.
	Retry time.Time
}

// Outbox is the on-disk store. It is safe for concurrent use.
type Outbox struct {
	db   *bolt.DB
	mu   sync.Mutex
	wake map[string]chan struct{}

	// sending holds the items Due handed out and Done (or Release) has
	// not yet settled, by destination: Due skips them and Add opens new
	// items rather than join them. It lives in memory: after a crash
	// nothing is being sent. (An alert that joins an item just as Due
	// reads it is not lost: Done removes only the alerts that were sent
	// and requeues the rest.)
	sending map[string]map[uint64]bool

	dueHook func() // tests: runs inside Due's read transaction
}

var (
	bucketSeq  = []byte("seq")
	bucketSent = []byte("sent") // dest \x00 dedup key -> queued at, repeat (unix ns, ns)
	// bucketExp orders the dedup records by when they expire, so that
	// pruning reads only those that have: expiry (unix ns, 8) + dest
	// \x00 dedup key -> nothing.
	bucketExp  = []byte("sent-exp")
	prefixQ    = "q/"    // q/<dest>: due (8) + id (8) -> item JSON
	prefixG    = "g/"    // g/<dest>: group key -> queue key (16) + alerts (4) of the open item
	prefixA    = "a/"    // a/<dest>: id (8) + index (4) -> alert JSON
	prefixDead = "dead/" // dead/<dest>: id (8) -> item JSON
)

// MaxGroup is the most alerts one item holds: a group that grows beyond
// it continues in a new item.
const MaxGroup = 500

// Open opens (creating) the outbox file at path.
func Open(path string) (*Outbox, error) {
	// The free list is rebuilt at open rather than written at each
	// commit (as etcd does): commits write less, which matters at one
	// commit per batch of alerts.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		InitialMmapSize: initialMmap})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("outbox %s: in use by another Vigil process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSeq, bucketSent} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketExp) != nil {
			return nil
		}
		// A file from before the expiry index: index what it has, once.
		exp, err := tx.CreateBucket(bucketExp)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketSent).ForEach(func(k, v []byte) error {
			if len(v) != 16 {
				return nil
			}
			return exp.Put(expKey(v, k), nil)
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return &Outbox{db: db, wake: map[string]chan struct{}{}, sending: map[string]map[uint64]bool{}}, nil
}

// Close closes the file.
func (o *Outbox) Close() error { return o.db.Close() }

// Wake returns a channel that receives when items are added for dest.
func (o *Outbox) Wake(dest string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.wakeLocked(dest)
}

// wakeUp tells dest's worker that it has items, without blocking.
func (o *Outbox) wakeUp(dest string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case o.wakeLocked(dest) <- struct{}{}:
	default:
	}
}

func (o *Outbox) wakeLocked(dest string) chan struct{} {
	c, ok := o.wake[dest]
	if !ok {
		c = make(chan struct{}, 1)
		o.wake[dest] = c
	}
	return c
}

func queueKey(due time.Time, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(due.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func alertKey(id uint64, i uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(make([]byte, 0, 12), id), i)
}

// readItem decodes the item stored under key k of bucket, with its alerts
// when withAlerts is set.
func readItem(tx *bolt.Tx, bucket string, k, v []byte, withAlerts bool) (*Item, error) {
	it := new(Item)
	if err := json.Unmarshal(v, it); err != nil {
		return nil, fmt.Errorf("item %x of %s: %w", k, bucket, err)
	}
	if withAlerts {
		if err := loadAlerts(tx, it); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// loadAlerts reads an item's alerts.
func loadAlerts(tx *bolt.Tx, it *Item) error {
	ab := tx.Bucket([]byte(prefixA + it.Dest))
	it.Alerts = it.Alerts[:0]
	if ab == nil {
		return nil
	}
	prefix := idKey(it.ID)
	c := ab.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		a := new(alert.Alert)
		if err := json.Unmarshal(v, a); err != nil {
			return fmt.Errorf("alert %x of %s: %w", k, it.Dest, err)
		}
		it.Alerts = append(it.Alerts, a)
		if len(k) == 12 {
			it.upTo = binary.BigEndian.Uint32(k[8:]) + 1
		}
	}
	it.NAlerts = len(it.Alerts)
	return nil
}

// deleteSent removes the alerts an item was sent with (those read into
// it: alerts join a group in index order) and returns how many it has
// beyond them: alerts that joined while it was being sent.
func deleteSent(tx *bolt.Tx, it *Item) (rest int, err error) {
	ab := tx.Bucket([]byte(prefixA + it.Dest))
	if ab == nil {
		return 0, nil
	}
	prefix := idKey(it.ID)
	sent := it.upTo
	var del [][]byte
	c := ab.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == 12 && binary.BigEndian.Uint32(k[8:]) < sent {
			del = append(del, slices.Clone(k))
		} else {
			rest++
		}
	}
	for _, k := range del {
		if err := ab.Delete(k); err != nil {
			return 0, err
		}
	}
	return rest, nil
}

// Add queues entries in one transaction and returns how many were
// queued. An entry joins the open item of its destination and group (one
// not yet tried) or opens one, due after the entry's Wait. An entry whose
// alert was queued for the same destination within its Repeat is dropped.
func (o *Outbox) Add(now time.Time, entries []Entry) (int, error) {
	added := 0
	dests := map[string]bool{}
	err := o.db.Update(func(tx *bolt.Tx) error {
		added = 0
		sent, exp := tx.Bucket(bucketSent), tx.Bucket(bucketExp)
		if err := pruneSent(sent, exp, now); err != nil {
			return err
		}
		for _, e := range entries {
			if e.Repeat > 0 && e.Alert.DedupKey != "" {
				if e.Early == nil && isRepeat(sent, e, now) {
					continue
				}
				if err := putSent(sent, exp, sentKey(e), now, e.Repeat); err != nil {
					return err
				}
			}
			if e.Early.delivered() {
				added++
				continue
			}
			q, err := tx.CreateBucketIfNotExists([]byte(prefixQ + e.Dest))
			if err != nil {
				return err
			}
			g, err := tx.CreateBucketIfNotExists([]byte(prefixG + e.Dest))
			if err != nil {
				return err
			}
			ab, err := tx.CreateBucketIfNotExists([]byte(prefixA + e.Dest))
			if err != nil {
				return err
			}
			av, err := json.Marshal(e.Alert)
			if err != nil {
				return fmt.Errorf("alert %s: %w", e.Alert.DedupKey, err)
			}
			if e.Early != nil {
				due, err := o.addEarly(tx, q, ab, e, av, now)
				if err != nil {
					return err
				}
				added++
				if due {
					dests[e.Dest] = true
				}
				continue
			}
			if gv := g.Get([]byte(e.GroupKey)); len(gv) == 20 && q.Get(gv[:16]) != nil && !o.isSending(e.Dest, binary.BigEndian.Uint64(gv[8:16])) {
				if n := binary.BigEndian.Uint32(gv[16:]); n < MaxGroup {
					id := binary.BigEndian.Uint64(gv[8:16])
					if err := ab.Put(alertKey(id, n), av); err != nil {
						return err
					}
					if err := g.Put([]byte(e.GroupKey), binary.BigEndian.AppendUint32(slices.Clone(gv[:16]), n+1)); err != nil {
						return err
					}
					added++
					dests[e.Dest] = true
					continue
				}
			}
			id, err := tx.Bucket(bucketSeq).NextSequence()
			if err != nil {
				return err
			}
			it := Item{ID: id, Dest: e.Dest, Receiver: e.Receiver, GroupKey: e.GroupKey, Test: e.Test,
				Created: now.UTC(), Due: now.Add(e.Wait).UTC()}
			key := queueKey(it.Due, id)
			if err := putJSON(q, key, &it); err != nil {
				return err
			}
			if err := ab.Put(alertKey(id, 0), av); err != nil {
				return err
			}
			if err := g.Put([]byte(e.GroupKey), binary.BigEndian.AppendUint32(key, 1)); err != nil {
				return err
			}
			added++
			dests[e.Dest] = true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: add: %w", err)
	}
	for d := range dests {
		o.wakeUp(d)
	}
	return added, nil
}

// addEarly queues an entry whose notification was sent early, as its
// outcome so far says (see [Early]). Its item is its own: it opens no
// group, so no later alert joins it. It reports whether the item is
// queued for the destination's worker to take (not tried, or to retry).
func (o *Outbox) addEarly(tx *bolt.Tx, q, ab *bolt.Bucket, e Entry, av []byte, now time.Time) (bool, error) {
	x := e.Early
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state == earlyTried && x.err == nil {
		return false, nil // delivered meanwhile: the alert is not needed
	}
	id, err := tx.Bucket(bucketSeq).NextSequence()
	if err != nil {
		return false, err
	}
	it := &Item{ID: id, Dest: e.Dest, Receiver: e.Receiver, GroupKey: e.GroupKey, Created: now.UTC(), Due: now.UTC()}
	if err := ab.Put(alertKey(id, 0), av); err != nil {
		return false, err
	}
	switch x.state {
	case earlyTried:
		it.Attempts, it.LastError = 1, x.err.Error()
		if x.retry.IsZero() {
			it.DeadAt = now.UTC()
			d, err := tx.CreateBucketIfNotExists([]byte(prefixDead + e.Dest))
			if err != nil {
				return false, err
			}
			return false, putJSON(d, idKey(id), it)
		}
		it.Due = x.retry.UTC()
	case earlySending:
		// Settled by the send's outcome: Finish hands the item over.
		it.Alerts, it.NAlerts, it.upTo = []*alert.Alert{e.Alert}, 1, 1
		x.item = it
		o.mu.Lock()
		if o.sending[e.Dest] == nil {
			o.sending[e.Dest] = map[uint64]bool{}
		}
		o.sending[e.Dest][id] = true
		o.mu.Unlock()
		return false, putJSON(q, queueKey(it.Due, id), it)
	}
	return true, putJSON(q, queueKey(it.Due, id), it)
}

func sentKey(e Entry) []byte { return append(append([]byte(e.Dest), 0), e.Alert.DedupKey...) }

// isRepeat reports whether e's alert was queued for its destination
// within e.Repeat before now.
func isRepeat(sent *bolt.Bucket, e Entry, now time.Time) bool {
	if e.Repeat <= 0 || e.Alert.DedupKey == "" {
		return false
	}
	v := sent.Get(sentKey(e))
	return len(v) == 16 && now.UnixNano()-int64(binary.BigEndian.Uint64(v)) < int64(e.Repeat)
}

// Repeats reports, for each entry, whether Add would drop it now as a
// repeat of an alert queued before (entries are not checked against each
// other). It only reads the file.
func (o *Outbox) Repeats(now time.Time, entries []Entry) ([]bool, error) {
	out := make([]bool, len(entries))
	err := o.db.View(func(tx *bolt.Tx) error {
		sent := tx.Bucket(bucketSent)
		for i, e := range entries {
			out[i] = isRepeat(sent, e, now)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return out, nil
}

// expKey is the expiry index's key of the dedup record k with value v.
func expKey(v, k []byte) []byte {
	at, repeat := int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(k)), uint64(at+repeat)), k...)
}

// putSent records that the alert of dedup record k was queued at now,
// replacing its earlier record and that record's place in the index.
func putSent(sent, exp *bolt.Bucket, k []byte, now time.Time, repeat time.Duration) error {
	if old := sent.Get(k); len(old) == 16 {
		if err := exp.Delete(expKey(old, k)); err != nil {
			return err
		}
	}
	v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(now.UnixNano())), uint64(repeat))
	if err := sent.Put(k, v); err != nil {
		return err
	}
	return exp.Put(expKey(v, k), nil)
}

// pruneSent forgets the dedup records whose repeat interval is over,
// reading only those (the index is in expiry order): nothing when none
// has expired.
func pruneSent(sent, exp *bolt.Bucket, now time.Time) error {
	var old [][]byte
	c := exp.Cursor()
	for k, _ := c.First(); k != nil && int64(binary.BigEndian.Uint64(k)) < now.UnixNano(); k, _ = c.Next() {
		old = append(old, slices.Clone(k))
	}
	for _, k := range old {
		if err := sent.Delete(k[8:]); err != nil {
			return err
		}
		if err := exp.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("item %d: %w", it.ID, err)
	}
	return b.Put(key, v)
}

// Due returns up to max items of dest due by now, earliest first, and
// marks them as being sent: Due does not return them again, and alerts
// added from now on open new items rather than join them, until Done or
// Release settles them. When none is due it returns when the next one
// will be (zero if the queue is empty). Each item stays queued on disk
// until Done reports it. Due only reads the file.
func (o *Outbox) Due(dest string, now time.Time, max int) ([]*Item, time.Time, error) {
	var items []*Item
	var next time.Time
	// The items being sent when the read begins: Done may settle one and
	// drop its mark while the read still sees the file as it was before
	// (the item still queued); skipping it by this copy keeps it from
	// being handed out, and sent, twice. Items marked after the copy are
	// caught by isSending.
	o.mu.Lock()
	before := maps.Clone(o.sending[dest])
	o.mu.Unlock()
	err := o.db.View(func(tx *bolt.Tx) error {
		if o.dueHook != nil {
			o.dueHook()
		}
		items, next = nil, time.Time{}
		q := tx.Bucket([]byte(prefixQ + dest))
		if q == nil {
			return nil
		}
		limit := queueKey(now, ^uint64(0))
		c := q.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if id := binary.BigEndian.Uint64(k[8:16]); before[id] || o.isSending(dest, id) {
				continue
			}
			if bytes.Compare(k, limit) > 0 {
				next = time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC()
				break
			}
			if len(items) == max {
				break
			}
			it, err := readItem(tx, prefixQ+dest, k, v, true)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox: %s: %w", dest, err)
	}
	o.mu.Lock()
	for _, it := range items {
		if o.sending[dest] == nil {
			o.sending[dest] = map[uint64]bool{}
		}
		o.sending[dest][it.ID] = true
	}
	o.mu.Unlock()
	return items, next, nil
}

func (o *Outbox) isSending(dest string, id uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sending[dest][id]
}

// Release gives back items Due handed out that were not tried (the
// sender stopped): they are due again as they were.
func (o *Outbox) Release(items []*Item) {
	o.mu.Lock()
	for _, it := range items {
		delete(o.sending[it.Dest], it.ID)
	}
	o.mu.Unlock()
	for _, it := range items {
		o.wakeUp(it.Dest)
	}
}

// Done records the outcomes of tried items in one transaction: accepted
// items are removed, failed ones rescheduled or dead-lettered.
func (o *Outbox) Done(now time.Time, results []Result) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		for _, r := range results {
			it := r.Item
			q := tx.Bucket([]byte(prefixQ + it.Dest))
			if q == nil || q.Get(queueKey(it.Due, it.ID)) == nil {
				// Not queued (an early item whose Add failed): there is
				// nothing to settle.
				continue
			}
			if err := q.Delete(queueKey(it.Due, it.ID)); err != nil {
				return err
			}
			if r.Err == nil {
				rest, err := deleteSent(tx, it)
				if err != nil {
					return err
				}
				if rest > 0 {
					// Alerts joined the item while it was being sent:
					// they are due at once, as an item of their own
					// (the group is closed: its entry points at the
					// old key).
					it.Due, it.NAlerts = now.UTC(), rest
					if err := putJSON(q, queueKey(it.Due, it.ID), it); err != nil {
						return err
					}
				}
				continue
			}
			it.Attempts++
			it.LastError = r.Err.Error()
			if r.Retry.IsZero() {
				it.DeadAt = now.UTC()
				d, err := tx.CreateBucketIfNotExists([]byte(prefixDead + it.Dest))
				if err != nil {
					return err
				}
				if err := putJSON(d, idKey(it.ID), it); err != nil {
					return err
				}
				continue
			}
			it.Due = r.Retry.UTC()
			if err := putJSON(q, queueKey(it.Due, it.ID), it); err != nil {
				return err
			}
		}
		return nil
	})
	// Settled either way: on success as recorded, on failure as they
	// were (to be handed out again).
	its := make([]*Item, len(results))
	for i, r := range results {
		its[i] = r.Item
	}
	o.Release(its)
	if err != nil {
		return fmt.Errorf("outbox: done: %w", err)
	}
	return nil
}

// Dests returns the destinations with queued or dead items, sorted.
func (o *Outbox) Dests() ([]string, error) {
	seen := map[string]bool{}
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			for _, p := range []string{prefixQ, prefixDead} { // a/ and g/ follow q/
				if d, ok := bytes.CutPrefix(name, []byte(p)); ok && b.Stats().KeyN > 0 {
					seen[string(d)] = true
				}
			}
			return nil
		})
	})
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, err
}

// Queued returns the items waiting for dest, earliest due first.
func (o *Outbox) Queued(dest string) ([]*Item, error) {
	return o.list(prefixQ + dest)
}

// Count returns how many items wait for dest and how many are dead, and
// the latest error of a waiting one, without reading their alerts.
func (o *Outbox) Count(dest string) (queued, dead int, lastErr string, err error) {
	err = o.db.View(func(tx *bolt.Tx) error {
		if d := tx.Bucket([]byte(prefixDead + dest)); d != nil {
			dead = d.Stats().KeyN
		}
		q := tx.Bucket([]byte(prefixQ + dest))
		if q == nil {
			return nil
		}
		return q.ForEach(func(k, v []byte) error {
			it, err := readItem(tx, prefixQ+dest, k, v, false)
			if err != nil {
				return err
			}
			queued++
			if it.LastError != "" {
				lastErr = it.LastError
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, "", fmt.Errorf("outbox: %w", err)
	}
	return queued, dead, lastErr, nil
}

// Dead returns the dead letters of dest, or of every destination when
// dest is empty, oldest first.
func (o *Outbox) Dead(dest string) ([]*Item, error) {
	if dest != "" {
		return o.list(prefixDead + dest)
	}
	dests, err := o.Dests()
	if err != nil {
		return nil, err
	}
	var all []*Item
	for _, d := range dests {
		items, err := o.list(prefixDead + d)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all, nil
}

func (o *Outbox) list(bucket string) ([]*Item, error) {
	var items []*Item
	err := o.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			it, err := readItem(tx, bucket, k, v, true)
			if err != nil {
				return err
			}
			items = append(items, it)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return items, nil
}

// Retry moves dead letters back to their queues, due now with their
// attempts reset: those with the given ids, or all when ids is empty. It
// returns the items moved.
func (o *Outbox) Retry(now time.Time, ids []uint64) ([]*Item, error) {
	want := map[uint64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var moved []*Item
	err := o.db.Update(func(tx *bolt.Tx) error {
		moved = nil
		var deadBuckets [][]byte
		err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if bytes.HasPrefix(name, []byte(prefixDead)) {
				deadBuckets = append(deadBuckets, slices.Clone(name))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range deadBuckets {
			d := tx.Bucket(name)
			var keys [][]byte
			err := d.ForEach(func(k, v []byte) error {
				if len(want) > 0 && !want[binary.BigEndian.Uint64(k)] {
					return nil
				}
				it, err := readItem(tx, string(name), k, v, true)
				if err != nil {
					return err
				}
				keys = append(keys, slices.Clone(k))
				moved = append(moved, it)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := d.Delete(k); err != nil {
					return err
				}
			}
		}
		for _, it := range moved {
			it.Attempts, it.DeadAt, it.Due = 0, time.Time{}, now.UTC()
			q, err := tx.CreateBucketIfNotExists([]byte(prefixQ + it.Dest))
			if err != nil {
				return err
			}
			if err := putJSON(q, queueKey(it.Due, it.ID), it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: retry: %w", err)
	}
	for _, it := range moved {
		o.wakeUp(it.Dest)
	}
	return moved, nil
}

// Expedite makes the items of dest that were never tried due at now,
// closing their groups: for a one-shot run that delivers everything
// before it exits.
func (o *Outbox) Expedite(dest string, now time.Time) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket([]byte(prefixQ + dest))
		if q == nil {
			return nil
		}
		if err := tx.DeleteBucket([]byte(prefixG + dest)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		limit := queueKey(now, ^uint64(0))
		var moved []*Item
		var old [][]byte
		c := q.Cursor()
		for k, v := c.Seek(limit); k != nil; k, v = c.Next() {
			it, err := readItem(tx, prefixQ+dest, k, v, false)
			if err != nil {
				return err
			}
			if it.Attempts == 0 {
				it.Due = now.UTC()
				moved = append(moved, it)
				old = append(old, slices.Clone(k))
			}
		}
		for i, it := range moved {
			if err := q.Delete(old[i]); err != nil {
				return err
			}
			if err := putJSON(q, queueKey(it.Due, it.ID), it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: %s: %w", dest, err)
	}
	return nil
}

// initialMmap is the file's first mapping: growing it remaps the file,
// which waits for every reader and stalls every writer, so a file that
// grows from nothing under load would remap a dozen times in its first
// seconds. Address space only: memory is used as pages are touched.
const initialMmap = 256 << 20
