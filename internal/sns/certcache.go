package sns

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"
	"time"
)

// certCache holds signing certificates by URL: at most size of them, each
// for at most ttl and never past its NotAfter. Concurrent requests for a
// URL share one fetch; a failed fetch is not kept, so the next message
// tries again. It is safe for concurrent use.
type certCache struct {
	size int
	ttl  time.Duration

	mu      sync.Mutex
	entries map[string]*certEntry
}

type certEntry struct {
	ready chan struct{} // closed once cert or err is set
	cert  *x509.Certificate
	err   error

	// Guarded by certCache.mu.
	expires time.Time
	used    time.Time
	done    bool
}

func newCertCache(size int, ttl time.Duration) *certCache {
	return &certCache{size: size, ttl: ttl, entries: make(map[string]*certEntry, size)}
}

// get returns the certificate cached for url, or fetches it with fetch.
// The fetch runs apart from ctx's cancellation (other messages may be
// waiting for it; the fetcher's client bounds it in time), but get returns
// as soon as ctx is done.
func (c *certCache) get(ctx context.Context, url string, now time.Time, fetch func(context.Context) (*x509.Certificate, error)) (*x509.Certificate, error) {
	c.mu.Lock()
	e := c.entries[url]
	if e != nil && e.done && !now.Before(e.expires) {
		delete(c.entries, url)
		e = nil
	}
	if e == nil {
		if !c.makeRoom(now) {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %d signing certificates already being fetched", ErrFetch, c.size)
		}
		e = &certEntry{ready: make(chan struct{})}
		c.entries[url] = e
		go c.fill(context.WithoutCancel(ctx), url, e, now, fetch)
	}
	e.used = now
	c.mu.Unlock()

	select {
	case <-e.ready:
		return e.cert, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fill runs fetch for e and publishes the result.
func (c *certCache) fill(ctx context.Context, url string, e *certEntry, now time.Time, fetch func(context.Context) (*x509.Certificate, error)) {
	cert, err := fetch(ctx)
	c.mu.Lock()
	e.cert, e.err, e.done = cert, err, true
	if err != nil {
		if c.entries[url] == e {
			delete(c.entries, url)
		}
	} else {
		e.expires = now.Add(c.ttl)
		if cert.NotAfter.Before(e.expires) {
			e.expires = cert.NotAfter
		}
	}
	c.mu.Unlock()
	close(e.ready)
}

// makeRoom ensures there is room for one more entry, dropping expired
// entries and then the least recently used finished one. It reports false
// when every entry is a fetch still in progress. c.mu must be held.
func (c *certCache) makeRoom(now time.Time) bool {
	if len(c.entries) < c.size {
		return true
	}
	var oldest string
	var oldestEntry *certEntry
	for url, e := range c.entries {
		if !e.done {
			continue
		}
		if !now.Before(e.expires) {
			delete(c.entries, url)
			continue
		}
		if oldestEntry == nil || e.used.Before(oldestEntry.used) {
			oldest, oldestEntry = url, e
		}
	}
	if len(c.entries) < c.size {
		return true
	}
	if oldestEntry == nil {
		return false
	}
	delete(c.entries, oldest)
	return true
}

// len returns the number of entries, for tests.
func (c *certCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
