package btlm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

// forwarder is what generate.Sequence asks of a sequence.
type forwarder interface {
	Forward(ctx context.Context, ids []int) ([]float32, error)
	Len() int
}

// greedyRun decodes maxNew tokens greedily (no n-gram bans) and returns the ids and a
// copy of every step's logits.
func greedyRun(ctx context.Context, seq forwarder, prompt []int, maxNew int) ([]int, [][]float32, error) {
	var ids []int
	var all [][]float32
	logits, err := seq.Forward(ctx, prompt)
	for err == nil {
		all = append(all, append([]float32(nil), logits...))
		best := topK(logits, 1)[0]
		ids = append(ids, best)
		if len(ids) == maxNew {
			break
		}
		logits, err = seq.Forward(ctx, []int{best})
	}
	return ids, all, err
}

func maxDiff32(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// waitGoroutines waits until the goroutine count is back to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, want <= %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBatcherMatchesUnbatched generates from several prompts of different lengths at
// once through one Batcher and compares every step with unbatched Sequences: logits
// within float tolerance, greedy ids equal. It runs on the tiny golden model and on a
// synthetic model in q8_0; maxBatch below the number of sequences makes some wait.
func TestBatcherMatchesUnbatched(t *testing.T) {
	cfg := smallConfig()
	cfg.NEmbd, cfg.NHead, cfg.NInner, cfg.VocabSize, cfg.NPositions = 64, 4, 70, 300, 200
	synthetic := func(quant string) func(t *testing.T) *Model {
		return func(t *testing.T) *Model {
			m, err := FromTensors(cfg, SyntheticTensors(cfg, 8), Options{Threads: 2, Quant: quant})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	setups := []struct {
		name string
		load func(t *testing.T) *Model
	}{
		{"tiny", func(t *testing.T) *Model {
			m, err := Load(tinyDir(t), Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}},
		{"synthetic-none", synthetic("none")},
		{"synthetic-q8_0", synthetic("q8_0")},
	}
	for _, st := range setups {
		t.Run(st.name, func(t *testing.T) {
			m := st.load(t)
			base := runtime.NumGoroutine()
			prompts := [][]int{testIDs(23, 300), testIDs(1, 300), testIDs(70, 300)[5:], testIDs(9, 300), testIDs(3, 300)}
			const maxNew = 12
			type result struct {
				ids    []int
				logits [][]float32
			}
			want := make([]result, len(prompts))
			for i, p := range prompts {
				ids, logits, err := greedyRun(context.Background(), m.NewSequence(), p, maxNew)
				if err != nil {
					t.Fatal(err)
				}
				want[i] = result{ids, logits}
			}
			b := NewBatcher(m, 3)
			b.SetStepTokens(40) // the 65-token prompt needs two steps
			got := make([]result, len(prompts))
			var wg sync.WaitGroup
			errs := make([]error, len(prompts))
			for i, p := range prompts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i].ids, got[i].logits, errs[i] = greedyRun(context.Background(), b.NewSequence(), p, maxNew)
				}()
			}
			wg.Wait()
			for i := range prompts {
				if errs[i] != nil {
					t.Fatalf("sequence %d: %v", i, errs[i])
				}
				if !equalInts(got[i].ids, want[i].ids) {
					t.Errorf("sequence %d: batched ids %v, unbatched %v", i, got[i].ids, want[i].ids)
				}
				for s := range want[i].logits {
					if d := maxDiff32(got[i].logits[s], want[i].logits[s]); d > 1e-4 {
						t.Errorf("sequence %d step %d: logits differ by %g", i, s, d)
					}
				}
			}
			calls := int64(len(prompts) * maxNew)
			t.Logf("%d Forward calls in %d steps", calls, b.Steps())
			waitGoroutines(t, base)
		})
	}
}

// TestBatcherSharesSteps queues prompts of different lengths before the scheduler
// starts, so that one step must process all of them together, and checks the results.
func TestBatcherSharesSteps(t *testing.T) {
	cfg := smallConfig()
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 6), Options{Threads: 2, Quant: "q8_0"})
	if err != nil {
		t.Fatal(err)
	}
	prompts := [][]int{testIDs(7, cfg.VocabSize), testIDs(1, cfg.VocabSize), testIDs(13, cfg.VocabSize)}
	b := NewBatcher(m, 4)
	b.mu.Lock()
	b.running = true // hold the scheduler back until every request is queued
	b.mu.Unlock()
	got := make([][]float32, len(prompts))
	errs := make([]error, len(prompts))
	seqs := make([]*BatchSequence, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		seqs[i] = b.NewSequence()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l []float32
			l, errs[i] = seqs[i].Forward(context.Background(), p)
			got[i] = append([]float32(nil), l...)
		}()
	}
	for {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n == len(prompts) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	go b.loop()
	wg.Wait()
	if s := b.Steps(); s != 1 {
		t.Errorf("%d steps for %d queued prompts of %d tokens in all, want 1", s, len(prompts), 21)
	}
	for i, p := range prompts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		want, err := m.NewSequence().Forward(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff32(got[i], want); d > 1e-4 {
			t.Errorf("prompt %d: batched logits differ by %g", i, d)
		}
		if seqs[i].Len() != len(p) {
			t.Errorf("prompt %d: Len %d, want %d", i, seqs[i].Len(), len(p))
		}
	}
}

// TestBatcherCancellation cancels one of several concurrent generations mid-way (and
// gives another an expired deadline): the cancelled ones fail with their context's
// error and keep their length, the others produce exactly the unbatched results, and
// no goroutine is left behind.
func TestBatcherCancellation(t *testing.T) {
	cfg := smallConfig()
	cfg.NPositions = 100
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 7), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	prompts := [][]int{testIDs(5, cfg.VocabSize), testIDs(11, cfg.VocabSize), testIDs(2, cfg.VocabSize)}
	const maxNew = 20
	want := make([][]int, len(prompts))
	for i, p := range prompts {
		if want[i], _, err = greedyRun(context.Background(), m.NewSequence(), p, maxNew); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBatcher(m, 4)
	var wg sync.WaitGroup
	got := make([][]int, len(prompts))
	errs := make([]error, len(prompts))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := b.NewSequence()
	wg.Add(1)
	go func() { // cancels itself after 4 tokens
		defer wg.Done()
		logits, err := cancelled.Forward(ctx, prompts[0])
		for n := 1; err == nil; n++ {
			if n == 4 {
				cancel()
			}
			logits, err = cancelled.Forward(ctx, []int{topK(logits, 1)[0]})
		}
		errs[0] = err
	}()
	for i := 1; i < len(prompts); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, errs[i] = greedyRun(context.Background(), b.NewSequence(), prompts[i], maxNew)
		}()
	}
	expired, stop := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer stop()
	late := b.NewSequence()
	if _, err := late.Forward(expired, prompts[1]); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired deadline: %v", err)
	}
	wg.Wait()
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("cancelled sequence: error %v", errs[0])
	}
	if n := cancelled.Len(); n != len(prompts[0])+3 && n != len(prompts[0])+4 {
		t.Errorf("cancelled sequence has %d tokens, want %d", n, len(prompts[0])+3)
	}
	if late.Len() != 0 {
		t.Errorf("expired sequence has %d tokens", late.Len())
	}
	for i := 1; i < len(prompts); i++ {
		if errs[i] != nil {
			t.Fatalf("sequence %d: %v", i, errs[i])
		}
		if !equalInts(got[i], want[i]) {
			t.Errorf("sequence %d: %v, want %v", i, got[i], want[i])
		}
	}
	// A sequence cancelled mid-way can go on where it was.
	ids, _, err := greedyRun(context.Background(), cancelled, []int{1}, 2)
	if err != nil || len(ids) != 2 {
		t.Errorf("reuse after cancellation: %v %v", ids, err)
	}
	waitGoroutines(t, base)
}

// TestBatcherCancelWhileQueued cancels a request waiting for a batch slot behind a long
// prompt: it returns promptly, and Close fails later calls.
func TestBatcherCancelWhileQueued(t *testing.T) {
	cfg := smallConfig()
	cfg.NPositions = 1500
	cfg.NLayer = 6
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 7), Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	b := NewBatcher(m, 1)
	b.SetStepTokens(1) // the long prompt takes one step per token
	done := make(chan error, 1)
	go func() {
		_, err := b.NewSequence().Forward(context.Background(), testIDs(1500, cfg.VocabSize))
		done <- err
	}()
	for b.Steps() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = b.NewSequence().Forward(ctx, []int{1, 2})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued request: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("queued request returned after %v", el)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := b.NewSequence().Forward(context.Background(), []int{1}); !errors.Is(err, ErrBatcherClosed) {
		t.Errorf("after Close: %v", err)
	}
	waitGoroutines(t, base)
}

func ExampleBatcher() {
	cfg := BTLM3BConfig()
	cfg.NLayer, cfg.NEmbd, cfg.NHead, cfg.NInner, cfg.VocabSize, cfg.NPositions = 1, 64, 4, 128, 100, 64
	m, _ := FromTensors(cfg, SyntheticTensors(cfg, 1), Options{Quant: "q8_0"})
	b := NewBatcher(m, 8)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { // each request, e.g. generate.Generate(ctx, seq, ...)
			defer wg.Done()
			seq := b.NewSequence()
			logits, _ := seq.Forward(context.Background(), []int{1, 2, 3})
			_ = logits
		}()
	}
	wg.Wait()
	fmt.Println("done")
	// Output: done
}

// TestBatcherAbortMidStep cancels one request between the layers of a step it shares
// with others: it fails at once with its context's error and keeps its length; the
// others in the same step are unaffected.
func TestBatcherAbortMidStep(t *testing.T) {
	cfg := smallConfig()
	cfg.NLayer = 4
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 6), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	prompts := [][]int{testIDs(7, cfg.VocabSize), testIDs(4, cfg.VocabSize), testIDs(13, cfg.VocabSize)}
	b := NewBatcher(m, 4)
	b.mu.Lock()
	b.running = true
	b.mu.Unlock()
	got := make([][]float32, len(prompts))
	errs := make([]error, len(prompts))
	seqs := make([]*BatchSequence, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		seqs[i] = b.NewSequence()
		var ctx context.Context = context.Background()
		if i == 1 { // passes Forward's check, the step's check and one layer
			ctx = &cancelAfter{Context: context.Background(), limit: 3}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l []float32
			l, errs[i] = seqs[i].Forward(ctx, p)
			got[i] = append([]float32(nil), l...)
		}()
	}
	for {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n == len(prompts) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	go b.loop()
	wg.Wait()
	if !errors.Is(errs[1], context.Canceled) || seqs[1].Len() != 0 {
		t.Errorf("aborted request: error %v, Len %d", errs[1], seqs[1].Len())
	}
	for _, i := range []int{0, 2} {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		want, err := m.NewSequence().Forward(context.Background(), prompts[i])
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff32(got[i], want); d > 1e-4 {
			t.Errorf("prompt %d: logits differ by %g next to an aborted request", i, d)
		}
	}
	// The aborted sequence works afterwards.
	l, err := seqs[1].Forward(context.Background(), prompts[1])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.NewSequence().Forward(context.Background(), prompts[1])
	if d := maxDiff32(l, want); d > 1e-4 {
		t.Errorf("aborted sequence reused: logits differ by %g", d)
	}
}
