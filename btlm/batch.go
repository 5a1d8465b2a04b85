package btlm

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBatcherClosed is returned by BatchSequence.Forward after Batcher.Close.
var ErrBatcherClosed = errors.New("btlm: batcher closed")

// DefaultStepTokens is the default bound on the tokens one batched step processes: one
// per decoding sequence, the rest filled with chunks of waiting prompts.
const DefaultStepTokens = 64

// gatherWait is how long the scheduler waits, after a step, for the sequences it has
// just answered to submit their next token, so that they share the next pass over the
// weights instead of each missing it by the time their caller takes to pick a token.
const gatherWait = 3 * time.Millisecond

// Batcher runs the Forward calls of many sequences of one Model together: each step is
// one forward pass over the weights for all in-flight requests (each sequence with its
// own KV cache and position), so that concurrent requests share the cost of reading the
// weights. Decoding sequences get one token per step; a new request's prompt is
// processed in chunks that fill the rest of the step (DefaultStepTokens), interleaved
// with the others' decoding.
//
// A scheduler goroutine runs while there is work and exits when there is none, so an
// idle Batcher holds no goroutine. Sequences are created with NewSequence and satisfy
// generate.Sequence.
type Batcher struct {
	m          *Model
	maxBatch   int
	stepTokens int

	mu      sync.Mutex
	queue   []*batchRequest  // submitted, not yet running
	away    []*BatchSequence // answered by the last step, not yet back (see gather)
	running bool             // a scheduler goroutine exists
	closed  bool
	kick    chan struct{} // a request was submitted

	// Owned by the scheduler goroutine.
	active []*batchRequest
	ws     workspace
	timer  *time.Timer
	steps  atomic.Int64 // passes run, for tests and metrics
}

// Steps reports how many batched forward passes the batcher has run.
func (b *Batcher) Steps() int64 { return b.steps.Load() }

// NewBatcher returns a Batcher running at most maxBatch sequences per step (values < 1
// mean 1). Sequences past maxBatch wait for a slot.
func NewBatcher(m *Model, maxBatch int) *Batcher {
	maxBatch = max(maxBatch, 1)
	b := &Batcher{m: m, maxBatch: maxBatch, stepTokens: max(DefaultStepTokens, maxBatch), kick: make(chan struct{}, 1)}
	b.ws.onAbort = b.abort
	return b
}

// SetStepTokens changes the bound on the tokens one step processes (at least the batch
// size). Call it before the first Forward.
func (b *Batcher) SetStepTokens(n int) { b.stepTokens = max(n, b.maxBatch) }

// Close fails every waiting and future Forward call with ErrBatcherClosed; a step in
// progress completes first.
func (b *Batcher) Close() {
	b.mu.Lock()
	b.closed = true
	q := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, r := range q {
		r.reply <- ErrBatcherClosed
	}
}

// BatchSequence is a sequence whose Forward calls run in its Batcher's shared steps. Like
// Sequence, it must not be used by two goroutines at once.
type BatchSequence struct {
	b      *Batcher
	kv     kvCache
	logits []float32
	req    batchRequest
}

// batchRequest is one Forward call in flight.
type batchRequest struct {
	seq   *BatchSequence
	ctx   context.Context
	ids   []int // a copy of the caller's ids
	pos   int   // the sequence's length when the call started
	done  int   // ids already processed
	dead  bool  // answered early (cancelled)
	reply chan error
}

// NewSequence returns an empty sequence served by b.
func (b *Batcher) NewSequence() *BatchSequence {
	s := &BatchSequence{b: b, kv: newKVCache(&b.m.cfg), logits: make([]float32, b.m.cfg.VocabSize)}
	s.req.seq = s
	s.req.reply = make(chan error, 1)
	return s
}

// Len returns the number of tokens processed so far.
func (s *BatchSequence) Len() int { return s.kv.n }

// Reset empties the sequence.
func (s *BatchSequence) Reset() { s.kv.n = 0 }

// Reserve allocates the KV cache for n positions now (see Sequence.Reserve). It must not
// be called while a Forward call is in flight.
func (s *BatchSequence) Reserve(n int) { s.kv.reserveExact(n) }

// CacheBytes reports the memory the sequence's KV cache holds.
func (s *BatchSequence) CacheBytes() int64 { return s.kv.bytes() }

// Forward appends ids and returns the logits of the last one, like Sequence.Forward,
// but runs in the batcher's next steps together with the other sequences' calls; it
// blocks until its last token has been processed. ctx is honoured while waiting for a
// slot and between layers of a step; on any error the sequence is left as it was.
func (s *BatchSequence) Forward(ctx context.Context, ids []int) ([]float32, error) {
	if err := s.b.m.checkIDs(s.kv.n, ids); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.kv.reserve(s.kv.n + len(ids))
	r := &s.req
	r.ctx, r.pos, r.done, r.dead = ctx, s.kv.n, 0, false
	r.ids = append(r.ids[:0], ids...)
	if err := s.b.submit(r); err != nil {
		return nil, err
	}
	var err error
	select {
	case err = <-r.reply:
	case <-ctx.Done():
		if s.b.withdraw(r) {
			err = ctx.Err()
		} else { // running: the scheduler answers within a layer
			err = <-r.reply
		}
	}
	r.ctx = nil
	if err != nil {
		return nil, err
	}
	s.kv.n += len(ids)
	return s.logits, nil
}

func (b *Batcher) submit(r *batchRequest) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBatcherClosed
	}
	b.queue = append(b.queue, r)
	for i, s := range b.away {
		if s == r.seq {
			b.away = append(b.away[:i], b.away[i+1:]...)
			break
		}
	}
	start := !b.running
	b.running = true
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	if start {
		go b.loop()
	}
	return nil
}

// withdraw removes r from the queue if it has not started; it reports whether it did.
func (b *Batcher) withdraw(r *batchRequest) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.queue {
		if q == r {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return true
		}
	}
	return false
}

// abort answers a request whose context ended during a step.
func (b *Batcher) abort(sg *segment) {
	r := sg.tag.(*batchRequest)
	if !r.dead {
		r.dead = true
		r.reply <- sg.err
	}
}

// loop is the scheduler: it admits queued requests, runs steps, answers finished
// requests, and exits when nothing is left.
func (b *Batcher) loop() {
	for {
		b.gather()
		b.mu.Lock()
		for len(b.queue) > 0 && len(b.active) < b.maxBatch {
			b.active = append(b.active, b.queue[0])
			b.queue = b.queue[1:]
		}
		if len(b.queue) == 0 {
			b.queue = nil // drop the backing array's stale pointers
		}
		if len(b.active) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.step()
	}
}

// gather waits up to gatherWait for the sequences the last step answered to submit
// their next call (or until the batch is full), so that streams stay in one phase and
// share every step. Sequences that do not come back in time (finished generations) are
// forgotten.
func (b *Batcher) gather() {
	b.mu.Lock()
	waiting := len(b.away) > 0 && len(b.active)+len(b.queue) < b.maxBatch
	b.mu.Unlock()
	if !waiting {
		return
	}
	if b.timer == nil {
		b.timer = time.NewTimer(gatherWait)
	} else {
		b.timer.Reset(gatherWait)
	}
	defer b.timer.Stop()
	for {
		select {
		case <-b.kick:
		case <-b.timer.C:
			b.mu.Lock()
			clear(b.away)
			b.away = b.away[:0]
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		waiting = len(b.away) > 0 && len(b.active)+len(b.queue) < b.maxBatch
		b.mu.Unlock()
		if !waiting {
			return
		}
	}
}

// step runs one batched forward pass.
func (b *Batcher) step() {
	// Drop requests cancelled while queued or between steps.
	live := b.active[:0]
	for _, r := range b.active {
		if err := r.ctx.Err(); err != nil {
			r.reply <- err
			continue
		}
		live = append(live, r)
	}
	clear(b.active[len(live):])
	b.active = live
	if len(live) == 0 {
		return
	}
	// One token for every request, then prompt chunks in arrival order.
	budget := b.stepTokens - len(live)
	ws := &b.ws
	ws.segs = ws.segs[:0]
	rows, outs := 0, 0
	for _, r := range live {
		n := 1 + min(budget, len(r.ids)-r.done-1)
		budget -= n - 1
		sg := segment{ctx: r.ctx, kv: &r.seq.kv, ids: r.ids[r.done : r.done+n], pos: r.pos + r.done,
			keyLen: r.pos + len(r.ids), tag: r}
		if r.done+n == len(r.ids) {
			sg.out = r.seq.logits
			outs++
		}
		ws.segs = append(ws.segs, sg)
		rows += n
	}
	ws.reserve(b.m, rows, outs)
	b.m.forward(ws)
	b.steps.Add(1)

	live = b.active[:0]
	for i := range ws.segs {
		sg := &ws.segs[i]
		if sg.err != nil { // answered by abort; the caller may already be reusing r
			continue
		}
		r := sg.tag.(*batchRequest)
		r.done += len(sg.ids)
		if r.done == len(r.ids) {
			b.mu.Lock()
			b.away = append(b.away, r.seq)
			b.mu.Unlock()
			r.reply <- nil
			continue
		}
		live = append(live, r)
	}
	clear(b.active[len(live):])
	b.active = live
	for i := range ws.segs {
		ws.segs[i] = segment{}
	}
}
