// Package state keeps what stateful rules remember between events — counts
// in a window, values seen per entity, when an alert last fired — so that a
// restart neither forgets what was learnt nor alerts again on what was
// already reported.
//
// State lives in memory while Vigil runs and is written to an embedded
// database file (bbolt) on Flush and Close; Open reads it back. A Store
// opened with no path is memory-only.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store holds the state tables of every rule. It is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	db     *bolt.DB
	tables map[string]table
}

// table is what the store needs of a Table of any type.
type table interface {
	flush(tx *bolt.Tx) error
}

// Open opens the state file at path, creating it if needed. An empty path
// gives a memory-only store.
func Open(path string) (*Store, error) {
	s := &Store{tables: map[string]table{}}
	if path == "" {
		return s, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("state %s: in use by another Vigil process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

// Persistent reports whether the store writes to a file.
func (s *Store) Persistent() bool { return s.db != nil }

// Flush writes every change since the last Flush to the file.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, n := range names {
			if err := s.tables[n].flush(tx); err != nil {
				return fmt.Errorf("state: table %s: %w", n, err)
			}
		}
		return nil
	})
}

// Close flushes and closes the store.
func (s *Store) Close() error {
	err := s.Flush()
	if s.db != nil {
		if cerr := s.db.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Table is a map from string keys to values of type T that survives
// restarts. Values are stored as JSON. It is safe for concurrent use.
type Table[T any] struct {
	name    string
	mu      sync.Mutex
	m       map[string]*T
	dirty   map[string]bool
	deleted map[string]bool
}

// TableOf returns the table called name, reading its contents from the
// file the first time. Asking for the same name with another type is a
// programming error and panics.
func TableOf[T any](s *Store, name string) (*Table[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[name]; ok {
		return t.(*Table[T]), nil
	}
	t := &Table[T]{name: name, m: map[string]*T{}, dirty: map[string]bool{}, deleted: map[string]bool{}}
	if s.db != nil {
		err := s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte(name))
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				var val T
				if err := json.Unmarshal(v, &val); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				t.m[string(k)] = &val
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("state: read table %s: %w", name, err)
		}
	}
	s.tables[name] = t
	return t, nil
}

// Get returns the value at key. The value belongs to the table: change it
// only between Get and Put under the caller's own serialisation.
func (t *Table[T]) Get(key string) (*T, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[key]
	return v, ok
}

// Put stores v at key.
func (t *Table[T]) Put(key string, v *T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[key] = v
	t.dirty[key] = true
	delete(t.deleted, key)
}

// Delete removes key.
func (t *Table[T]) Delete(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; !ok {
		return
	}
	delete(t.m, key)
	delete(t.dirty, key)
	t.deleted[key] = true
}

// Prune removes every entry for which drop returns true.
func (t *Table[T]) Prune(drop func(key string, v *T) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.m {
		if drop(k, v) {
			delete(t.m, k)
			delete(t.dirty, k)
			t.deleted[k] = true
		}
	}
}

// Len returns the number of entries.
func (t *Table[T]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *Table[T]) flush(tx *bolt.Tx) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.dirty) == 0 && len(t.deleted) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists([]byte(t.name))
	if err != nil {
		return err
	}
	for k := range t.deleted {
		if err := b.Delete([]byte(k)); err != nil {
			return err
		}
	}
	for k := range t.dirty {
		v, err := json.Marshal(t.m[k])
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	clear(t.dirty)
	clear(t.deleted)
	return nil
}
