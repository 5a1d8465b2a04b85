package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// chunksPerThread is how many pieces Parallel cuts its range into per thread, so that a
// thread slowed by other load on the machine does not hold the others up.
const chunksPerThread = 4

// Pool is a fixed set of worker goroutines that run the parts of one parallel call.
// It is created once (sized by the engine's thread setting) and reused for every
// product, so no goroutine is started and nothing is allocated per call.
//
// A Pool serializes its callers: Parallel and the products that use the pool may be
// called from several goroutines, but run one at a time. A function run by Parallel
// must not call Parallel (or a product) on the same pool: that deadlocks.
//
// A nil *Pool is valid and runs everything on the calling goroutine.
type Pool struct {
	threads int
	mu      sync.Mutex // held for one parallel call

	// The current call, written under mu before the workers are woken.
	fn     func(start, end int)
	n      int
	chunk  int
	next   atomic.Int64
	wake   []chan struct{}
	done   chan struct{}
	closed bool

	scratch scratch // buffers for the products; guarded by mu
}

// NewPool starts a pool of threads workers (the caller of Parallel counts as one, so
// threads-1 goroutines are started). threads <= 0 means runtime.GOMAXPROCS(0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, done: make(chan struct{}, threads)}
	p.wake = make([]chan struct{}, threads-1)
	for i := range p.wake {
		p.wake[i] = make(chan struct{}, 1)
		go p.worker(p.wake[i])
	}
	return p
}

// Threads reports how many threads the pool runs work on (1 for a nil pool).
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Close stops the workers. The pool must not be used afterwards, except that a closed
// pool still runs Parallel on the calling goroutine.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, w := range p.wake {
		close(w)
	}
}

func (p *Pool) worker(wake chan struct{}) {
	for range wake {
		p.runChunks()
		p.done <- struct{}{}
	}
}

// runChunks takes chunks of the current call until none are left.
func (p *Pool) runChunks() {
	for {
		c := int(p.next.Add(1) - 1)
		start := c * p.chunk
		if start >= p.n {
			return
		}
		p.fn(start, min(start+p.chunk, p.n))
	}
}

// Parallel calls fn on disjoint ranges [start, end) that together cover [0, n), using
// all the pool's threads, and returns when every call has returned. Ranges are handed
// out dynamically in about Threads()*4 pieces. n <= 0 does nothing.
func (p *Pool) Parallel(n int, fn func(start, end int)) {
	if n <= 0 {
		return
	}
	if p == nil {
		fn(0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parallelLocked(n, 1, fn)
}

// parallelLocked is Parallel for a caller that holds p.mu. Chunks are multiples of
// align (except the last).
func (p *Pool) parallelLocked(n, align int, fn func(start, end int)) {
	if p.threads == 1 || p.closed || n <= align {
		fn(0, n)
		return
	}
	pieces := p.threads * chunksPerThread
	chunk := (n + pieces - 1) / pieces
	chunk = (chunk + align - 1) / align * align
	numChunks := (n + chunk - 1) / chunk
	workers := min(len(p.wake), numChunks-1)
	p.fn, p.n, p.chunk = fn, n, chunk
	p.next.Store(0)
	for i := 0; i < workers; i++ {
		p.wake[i] <- struct{}{}
	}
	p.runChunks()
	for i := 0; i < workers; i++ {
		<-p.done
	}
	p.fn = nil
}

// lock takes the pool for one product; a nil pool uses a package-level serial pool.
func (p *Pool) lock() *Pool {
	if p == nil {
		p = serialPool
	}
	p.mu.Lock()
	return p
}

// serialPool stands in for a nil *Pool in products that need scratch buffers.
var serialPool = &Pool{threads: 1}
