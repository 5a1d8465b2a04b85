package axon

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Job states.
const (
	jobQueued int32 = iota
	jobRunning
	jobCancelled
)

// job is one verified request waiting for, or running on, a forward worker.
type job struct {
	priority float64
	seq      uint64
	deadline time.Time
	run      func() // the forward call; runs on a worker
	drop     func() // called instead of run when the deadline cannot be met
	state    atomic.Int32
	index    int // heap index, -1 when not in the heap
}

// jobHeap orders by priority (highest first), then arrival (FIFO).
type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, k int) bool {
	if h[i].priority != h[k].priority {
		return h[i].priority > h[k].priority
	}
	return h[i].seq < h[k].seq
}
func (h jobHeap) Swap(i, k int) { h[i], h[k] = h[k], h[i]; h[i].index = i; h[k].index = k }
func (h *jobHeap) Push(x any)   { j := x.(*job); j.index = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.index = -1
	return j
}

// scheduler is a priority queue in front of a fixed pool of workers. Admission is
// two-step: reserve a queue slot (cheap, before the body is read), then submit the
// job or release the slot.
type scheduler struct {
	mu       sync.Mutex
	cond     sync.Cond
	queue    jobHeap
	reserved int // slots held by admitted jobs not yet taken by a worker
	capacity int
	seq      uint64
	closed   bool

	minTime time.Duration
	running atomic.Int64
	wg      sync.WaitGroup
}

func newScheduler(workers, capacity int, minTime time.Duration) *scheduler {
	s := &scheduler{capacity: capacity, minTime: minTime}
	s.cond.L = &s.mu
	s.wg.Add(workers)
	for range workers {
		go s.worker()
	}
	return s
}

var (
	errQueueFull    = serviceError("queue full")
	errShuttingDown = serviceError("shutting down")
)

type serviceError string

func (e serviceError) Error() string { return string(e) }

// reserve takes a queue slot or fails with errQueueFull / errShuttingDown.
func (s *scheduler) reserve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errShuttingDown
	case s.reserved >= s.capacity:
		return errQueueFull
	}
	s.reserved++
	return nil
}

// release gives back a slot whose job was never submitted.
func (s *scheduler) release() {
	s.mu.Lock()
	s.reserved--
	s.mu.Unlock()
}

// submit queues j on a reserved slot. After close it drops the job.
func (s *scheduler) submit(j *job) {
	s.mu.Lock()
	if s.closed {
		s.reserved--
		s.mu.Unlock()
		if j.state.CompareAndSwap(jobQueued, jobRunning) {
			j.drop()
		}
		return
	}
	s.seq++
	j.seq = s.seq
	heap.Push(&s.queue, j)
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *scheduler) worker() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		j := heap.Pop(&s.queue).(*job)
		s.reserved--
		s.mu.Unlock()
		if !j.state.CompareAndSwap(jobQueued, jobRunning) {
			continue // withdrawn by its request (deadline or client gone)
		}
		if time.Until(j.deadline) < s.minTime {
			j.drop()
			continue
		}
		s.running.Add(1)
		j.run()
		s.running.Add(-1)
	}
}

// withdraw removes a submitted job that no worker has started, freeing its slot at
// once; it reports false when a worker already took it.
func (s *scheduler) withdraw(j *job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !j.state.CompareAndSwap(jobQueued, jobCancelled) {
		return false
	}
	if j.index >= 0 {
		heap.Remove(&s.queue, j.index)
		s.reserved--
	}
	return true
}

// close stops admission; workers finish the queue and exit.
func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

// wait waits for the workers to exit or ctx to end.
func (s *scheduler) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats is a snapshot of the scheduler.
type Stats struct {
	Queued  int // admitted, waiting for a worker (includes bodies being read)
	Running int // forward calls in progress
}

func (s *scheduler) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Queued: s.reserved, Running: int(s.running.Load())}
}
