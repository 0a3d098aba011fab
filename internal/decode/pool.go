package decode

import (
	"context"
	"io"
	"sync/atomic"
	"unsafe"

	"github.com/vigil-sec/vigil/internal/event"
)

// A BufferPool lets Split reuse the buffers it reads payloads into.
//
// Frames alias the reader's buffers and events alias frames, so a buffer
// can be reused only when nothing decoded from it is in use: with a pool,
// the frames of each batch, and everything decoded from them, are valid
// only until the batch is given to [Release]. Whoever keeps an event, a
// finding or a string of one beyond that copies it (alert.New does; the
// rule engine's state keeps copies). Without a pool, buffers belong to the
// garbage collector and frames stay valid for good.
//
// A scan of a large corpus reads its whole decompressed size into buffers;
// reusing them saves the allocation, the zeroing and the page faults of
// that much memory, and the garbage collections it would cause.
type BufferPool struct {
	// free holds buffers ready for reuse. Not a sync.Pool: that drops its
	// contents at every other garbage collection, and a scan collects
	// often enough that the buffers would mostly be made anew.
	free chan *chunk
	// batches holds emptied batch slices, for the same reason (a new one
	// is fresh memory, which costs page faults to fill).
	batches chan []Frame
	// inflaters holds the outer layers' readers of finished payloads.
	inflaters chan *inflater
	// poison overwrites a buffer when it returns to the pool, so that a
	// test reading an event after its batch was released sees garbage.
	poison bool
}

// poolBuffers bounds the buffers a pool keeps: enough for the batches a
// pipeline has in flight (a few per worker, a few buffers per batch).
const poolBuffers = 64

// NewBufferPool returns an empty pool, which keeps at most 64 buffers
// (16 MiB) for reuse, with the events decoded from them (an arena each,
// of a few hundred KiB), their batch slices and 16 readers' gzip state.
func NewBufferPool() *BufferPool {
	return &BufferPool{free: make(chan *chunk, poolBuffers), batches: make(chan []Frame, poolBuffers), inflaters: make(chan *inflater, 16)}
}

func (p *BufferPool) inflater() *inflater {
	select {
	case inf := <-p.inflaters:
		return inf
	default:
		return new(inflater)
	}
}

func (p *BufferPool) putInflater(inf *inflater) {
	if inf.br != nil {
		inf.br.Reset(nil) // keep nothing of the payload's source
	}
	select {
	case p.inflaters <- inf:
	default:
	}
}

// batch returns an empty slice for a batch's frames.
func (p *BufferPool) batch() []Frame {
	select {
	case b := <-p.batches:
		return b
	default:
		return make([]Frame, 0, batchFrames)
	}
}

// Poison makes p overwrite each buffer that comes back to it, so that
// whatever still reads a released frame or an event decoded from one reads
// garbage: tests use it to show that nothing does.
func (p *BufferPool) Poison() { p.poison = true }

// Split is [Split] reading into buffers of p (see BufferPool).
func (p *BufferPool) Split(ctx context.Context, r io.Reader, source string, lim Limits, emit func([]Frame) error) (Info, error) {
	return split(ctx, r, source, lim, p, emit)
}

// chunk is a pooled buffer with a count of its holders: the reader while
// it reads into it, and each frame cut from it.
type chunk struct {
	b    []byte
	refs atomic.Int32
	pool *BufferPool
	// events holds the records the splitter decoded from b (Frame.ev),
	// reset and reused with it.
	events event.Arena
}

// chunkEvents is an arena block: about the records a buffer holds.
const chunkEvents = 128

func (p *BufferPool) get() *chunk {
	var c *chunk
	select {
	case c = <-p.free:
	default:
		c = &chunk{b: make([]byte, readChunk), pool: p}
		c.events.Block = chunkEvents
	}
	c.refs.Store(1)
	return c
}

func (c *chunk) release(n int32) {
	switch left := c.refs.Add(-n); {
	case left == 0:
		c.events.Reset()
		if c.pool.poison {
			for i := range c.b {
				c.b[i] = 0xA5
			}
		}
		select {
		case c.pool.free <- c:
		default: // the pool is full: the collector takes it
		}
	case left < 0:
		panic("decode: buffer released more often than held")
	}
}

// holds reports whether b lies in c's buffer.
func (c *chunk) holds(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(c.b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= start && p < start+uintptr(len(c.b))
}

// Release gives back the buffers a batch's frames hold, and the batch's
// slice itself (see BufferPool). Call it once per batch: the frames and
// what was decoded from them must not be used afterwards. Frames split
// without a pool hold nothing.
func Release(frames []Frame) {
	var pool *BufferPool
	for i := range frames {
		if c := frames[i].chunk; c != nil {
			pool = c.pool
			break
		}
	}
	var cur *chunk
	var n int32
	for i := range frames {
		c := frames[i].chunk
		if c == nil {
			continue
		}
		frames[i].chunk = nil
		if c != cur {
			if cur != nil {
				cur.release(n)
			}
			cur, n = c, 0
		}
		n++
	}
	if cur != nil {
		cur.release(n)
	}
	if pool != nil && cap(frames) == batchFrames {
		clear(frames)
		select {
		case pool.batches <- frames[:0]:
		default:
		}
	}
}
