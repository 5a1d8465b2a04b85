package btlm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/checkpoint"
)

// smallConfig is a BTLM-like configuration small enough for the naive reference.
func smallConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead, c.NInner = 97, 40, 24, 2, 3, 37
	c.ActivationFunction, c.PositionEmbeddingType = "swiglu", "alibi"
	c.EmbeddingsScale, c.OutputLogitsScale, c.ScaleQKDotByD = 14.6, 2.22*0.1, true
	return c
}

func maxAbsDiff(a []float32, b []float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

func testIDs(n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*7919 + 13) % vocab
	}
	return ids
}

// TestForwardMatchesReference checks the cached float32 forward pass against the naive
// float64 reference over architecture variants the config allows.
func TestForwardMatchesReference(t *testing.T) {
	variants := []struct {
		name string
		edit func(*Config)
		// wholeOnly: compare whole-sequence passes only. With dynamic ALiBi scaling the
		// scale depends on the key length, so (as in Hugging Face with its cache) the
		// cached keys of earlier steps were computed with an earlier scale and a cached
		// run legitimately differs from a full recomputation.
		wholeOnly bool
	}{
		{"btlm", func(*Config) {}, false},
		{"sqrt-d scaling", func(c *Config) { c.ScaleQKDotByD = false }, false},
		{"inverse layer idx", func(c *Config) { c.ScaleAttnByInverseLayerIdx = true }, false},
		{"non-power-of-two heads", func(c *Config) { c.NHead, c.NEmbd = 6, 30 }, false},
		{"alibi factor", func(c *Config) { c.AlibiScaling = &AlibiScaling{Type: "linear", Factor: 2} }, false},
		{"alibi dynamic", func(c *Config) { c.AlibiScaling = &AlibiScaling{Type: "linear", TrainSeqLen: 5} }, true},
		{"learned gelu_new", func(c *Config) { c.PositionEmbeddingType, c.ActivationFunction = "learned", "gelu_new" }, false},
		{"relu", func(c *Config) { c.ActivationFunction = "relu" }, false},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			cfg := smallConfig()
			v.edit(&cfg)
			src := SyntheticTensors(cfg, 7)
			m, err := FromTensors(cfg, src, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			ids := testIDs(9, cfg.VocabSize)
			seq := m.NewSequence()
			// Prefill 4 tokens, then one at a time: every step against the reference.
			got, err := seq.Forward(context.Background(), ids[:4])
			if err != nil {
				t.Fatal(err)
			}
			for n := 4; ; n++ {
				want := referenceLogits(t, cfg, src, ids[:n])
				if d := maxAbsDiff(got, want); d > 1e-4 {
					t.Fatalf("after %d tokens: max |Δlogit| = %g", n, d)
				}
				if n == len(ids) {
					break
				}
				if v.wholeOnly {
					seq.Reset()
					got, err = seq.Forward(context.Background(), ids[:n+1])
				} else {
					got, err = seq.Forward(context.Background(), ids[n:n+1])
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestKVCacheEquivalence feeds the same tokens all at once, one at a time and in chunks.
func TestKVCacheEquivalence(t *testing.T) {
	m, err := Load(tinyDir(t), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	ids := loadGolden(t, tinyDir(t))[0].PromptIDs
	ctx := context.Background()
	all, err := m.NewSequence().Forward(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	all = append([]float32(nil), all...)
	for _, chunk := range []int{1, 2, 5} {
		seq := m.NewSequence()
		var got []float32
		for i := 0; i < len(ids); i += chunk {
			end := min(i+chunk, len(ids))
			if got, err = seq.Forward(ctx, ids[i:end]); err != nil {
				t.Fatal(err)
			}
		}
		if seq.Len() != len(ids) {
			t.Fatalf("Len() = %d, want %d", seq.Len(), len(ids))
		}
		for i := range all {
			if d := math.Abs(float64(all[i] - got[i])); d > 1e-5 {
				t.Fatalf("chunk %d: logit %d differs by %g", chunk, i, d)
			}
		}
	}
	// Reset reuses the sequence from position 0.
	seq := m.NewSequence()
	if _, err := seq.Forward(ctx, []int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	seq.Reset()
	got, err := seq.Forward(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range all {
		if all[i] != got[i] {
			t.Fatalf("after Reset: logit %d = %g, want %g", i, got[i], all[i])
		}
	}
}

func TestForwardErrors(t *testing.T) {
	cfg := smallConfig()
	cfg.NPositions = 8
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 1), Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seq := m.NewSequence()
	if _, err := seq.Forward(ctx, nil); err == nil {
		t.Error("no tokens: no error")
	}
	for _, id := range []int{-1, cfg.VocabSize} {
		if _, err := seq.Forward(ctx, []int{1, id}); err == nil || !strings.Contains(err.Error(), "vocabulary") {
			t.Errorf("token %d: error %v", id, err)
		}
	}
	if _, err := seq.Forward(ctx, testIDs(6, cfg.VocabSize)); err != nil {
		t.Fatal(err)
	}
	if _, err := seq.Forward(ctx, []int{1, 2, 3}); !errors.Is(err, ErrContextFull) {
		t.Errorf("past n_positions: error %v, want ErrContextFull", err)
	}
	if seq.Len() != 6 {
		t.Errorf("Len after failed calls = %d, want 6", seq.Len())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := seq.Forward(cancelled, []int{1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v", err)
	}
	if _, err := seq.Forward(ctx, []int{1, 2}); err != nil {
		t.Errorf("filling to exactly n_positions: %v", err)
	}
	if seq.Len() != 8 {
		t.Errorf("Len = %d, want 8", seq.Len())
	}
}

// memoryCopy copies every tensor of src into an in-memory source, renaming with rename.
func memoryCopy(t testing.TB, src TensorSource, rename func(string) string) *checkpoint.Memory {
	t.Helper()
	mem := checkpoint.NewMemory()
	for _, info := range src.Tensors() {
		data := make([]float32, info.NumElements())
		if err := src.ReadFloat32(info.Name, data); err != nil {
			t.Fatal(err)
		}
		if err := mem.Add(rename(info.Name), info.Shape, data); err != nil {
			t.Fatal(err)
		}
	}
	return mem
}

func TestBindingByName(t *testing.T) {
	cfg := smallConfig()
	src := SyntheticTensors(cfg, 3)
	ids := testIDs(5, cfg.VocabSize)
	want := referenceLogits(t, cfg, src, ids)
	logits := func(cfg Config, src TensorSource) ([]float32, error) {
		m, err := FromTensors(cfg, src, Options{Threads: 2})
		if err != nil {
			return nil, err
		}
		return m.NewSequence().Forward(context.Background(), ids)
	}

	t.Run("without transformer prefix", func(t *testing.T) {
		mem := memoryCopy(t, src, func(n string) string { return strings.TrimPrefix(n, "transformer.") })
		got, err := logits(cfg, mem)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, want); d > 1e-4 {
			t.Fatalf("max |Δ| = %g", d)
		}
	})
	t.Run("ignored buffers and tied lm_head", func(t *testing.T) {
		mem := memoryCopy(t, src, func(n string) string { return n })
		mask := make([]float32, cfg.NPositions*cfg.NPositions)
		mem.Add("transformer.h.0.attn.bias", []int{1, 1, cfg.NPositions, cfg.NPositions}, mask)
		mem.Add("transformer.h.0.attn.masked_bias", nil, []float32{-1e4})
		// A tied checkpoint may carry lm_head.weight; with tie_word_embeddings it is wte.
		mem.Add("lm_head.weight", []int{cfg.VocabSize, cfg.NEmbd}, make([]float32, cfg.VocabSize*cfg.NEmbd))
		got, err := logits(cfg, mem)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, want); d > 1e-4 {
			t.Fatalf("max |Δ| = %g", d)
		}
	})
	t.Run("untied lm_head", func(t *testing.T) {
		mem := memoryCopy(t, src, func(n string) string { return n })
		head := make([]float32, cfg.VocabSize*cfg.NEmbd)
		for i := range head {
			head[i] = float32(math.Sin(float64(i)))
		}
		mem.Add("lm_head.weight", []int{cfg.VocabSize, cfg.NEmbd}, head)
		untied := cfg
		untied.TieWordEmbeddings = false
		got, err := logits(untied, mem)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, referenceLogits(t, untied, mem, ids)); d > 1e-4 {
			t.Fatalf("max |Δ| = %g", d)
		}
		if d := maxAbsDiff(got, want); d < 1e-2 {
			t.Fatalf("untied head gave the tied logits (max |Δ| = %g)", d)
		}
	})
	t.Run("missing slopes use the analytic values", func(t *testing.T) {
		mem := memoryCopy(t, src, func(n string) string { return n })
		mem.Delete("transformer.relative_pe.slopes")
		got, err := logits(cfg, mem)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, want); d > 1e-4 {
			t.Fatalf("max |Δ| = %g", d)
		}
	})
}

func TestBindingErrors(t *testing.T) {
	cfg := smallConfig()
	src := SyntheticTensors(cfg, 3)
	cases := []struct {
		name string
		edit func(*checkpoint.Memory)
		want []string
	}{
		{"missing tensor", func(m *checkpoint.Memory) { m.Delete("transformer.h.1.mlp.c_fc2.weight") },
			[]string{"transformer.h.1.mlp.c_fc2.weight", "missing", "[24 37]"}},
		{"wrong shape", func(m *checkpoint.Memory) {
			m.Add("transformer.h.0.attn.c_attn.weight", []int{72, 24}, make([]float32, 72*24))
		}, []string{"transformer.h.0.attn.c_attn.weight", "expected shape [24 72]", "found [72 24]"}},
		{"wrong vocab", func(m *checkpoint.Memory) {
			m.Add("transformer.wte.weight", []int{96, 24}, make([]float32, 96*24))
		}, []string{"transformer.wte.weight", "[97 24]", "[96 24]"}},
		{"wrong slopes", func(m *checkpoint.Memory) {
			m.Add("transformer.relative_pe.slopes", []int{4, 1}, make([]float32, 4))
		}, []string{"relative_pe.slopes", "[3 1]", "[4 1]"}},
		{"missing bias", func(m *checkpoint.Memory) { m.Delete("transformer.ln_f.bias") },
			[]string{"transformer.ln_f.bias", "missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memoryCopy(t, src, func(n string) string { return n })
			c.edit(mem)
			_, err := FromTensors(cfg, mem, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestSwiGLUBranches swaps c_fc and c_fc2 in the tiny checkpoint: the golden logits must
// then be missed by far, so the branch order is really tested by TestGolden.
func TestSwiGLUBranches(t *testing.T) {
	dir := tinyDir(t)
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	cfg, err := LoadConfig(dir + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	mem := memoryCopy(t, ck, func(n string) string {
		switch {
		case strings.Contains(n, ".mlp.c_fc2."):
			return strings.Replace(n, ".mlp.c_fc2.", ".mlp.c_fc.", 1)
		case strings.Contains(n, ".mlp.c_fc."):
			return strings.Replace(n, ".mlp.c_fc.", ".mlp.c_fc2.", 1)
		}
		return n
	})
	m, err := FromTensors(cfg, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := loadGolden(t, dir)[0]
	logits, err := m.NewSequence().Forward(context.Background(), c.PromptIDs)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for _, e := range c.FirstStepTop5 {
		worst = math.Max(worst, math.Abs(float64(logits[int(e[0])])-e[1]))
	}
	if worst < 1e-3 {
		t.Fatalf("swapped SwiGLU branches still match the golden logits (max |Δ| %g)", worst)
	}
}

func TestAlibiSlopes(t *testing.T) {
	s := AlibiSlopes(32)
	for h, v := range s {
		if want := math.Pow(2, -float64(h+1)/4); math.Abs(float64(v)-want) > 1e-7 {
			t.Errorf("slope %d = %g, want %g", h, v, want)
		}
	}
	// 6 heads: the 4 power-of-two slopes, then every other slope of 8 heads.
	want6 := []float64{0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125}
	for i, v := range AlibiSlopes(6) {
		if math.Abs(float64(v)-want6[i]) > 1e-7 {
			t.Errorf("6 heads: slope %d = %g, want %g", i, v, want6[i])
		}
	}
}

func BenchmarkForwardStepTiny(b *testing.B) {
	m, err := Load(tinyDir(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	seq := m.NewSequence()
	prompt := testIDs(32, m.Config().VocabSize)
	if _, err := seq.Forward(ctx, prompt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if seq.Len() == m.Config().NPositions {
			b.StopTimer()
			seq.Reset()
			if _, err := seq.Forward(ctx, prompt); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := seq.Forward(ctx, []int{i % 50000}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrefillTiny(b *testing.B) {
	m, err := Load(tinyDir(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	prompt := testIDs(64, m.Config().VocabSize)
	seq := m.NewSequence()
	for i := 0; i < b.N; i++ {
		seq.Reset()
		if _, err := seq.Forward(context.Background(), prompt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBTLM3BShapes runs decode steps with the real BTLM-3B shapes (n_embd
// 2560, n_inner 6826, 32 heads, vocab 50257) but only 2 of the 32 layers, from
// synthetic weights, after a 64-token prompt. Per-token cost of the full model is about
// head + 32 × layer.
func BenchmarkDecodeBTLM3BShapes(b *testing.B) {
	cfg := BTLM3BConfig()
	cfg.NLayer = 2
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 1), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	seq := m.NewSequence()
	if _, err := seq.Forward(ctx, testIDs(64, cfg.VocabSize)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := seq.Forward(ctx, []int{i % cfg.VocabSize}); err != nil {
			b.Fatal(err)
		}
	}
}

// cancelAfter is a context whose Err starts failing after a number of calls, to cancel
// a Forward between layers deterministically.
type cancelAfter struct {
	context.Context
	calls, limit int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls > c.limit {
		return context.Canceled
	}
	return nil
}

func TestCancelBetweenLayersLeavesSequenceIntact(t *testing.T) {
	cfg := smallConfig()
	cfg.NLayer = 4
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 5), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	ids := testIDs(12, cfg.VocabSize)
	want, err := m.NewSequence().Forward(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)

	seq := m.NewSequence()
	if _, err := seq.Forward(context.Background(), ids[:5]); err != nil {
		t.Fatal(err)
	}
	ctx := &cancelAfter{Context: context.Background(), limit: 3} // passes the entry check and two layers
	if _, err := seq.Forward(ctx, ids[5:]); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if seq.Len() != 5 {
		t.Fatalf("Len after cancellation = %d, want 5", seq.Len())
	}
	got, err := seq.Forward(context.Background(), ids[5:])
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Fatalf("logit %d differs by %g after a cancelled call", i, d)
		}
	}
}

// TestLongSequenceCacheGrowth crosses the KV cache's growth steps token by token.
func TestLongSequenceCacheGrowth(t *testing.T) {
	cfg := smallConfig()
	cfg.NPositions = 150
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 9), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	ids := testIDs(cfg.NPositions, cfg.VocabSize)
	want, err := m.NewSequence().Forward(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	seq := m.NewSequence()
	var got []float32
	for i := range ids {
		if got, err = seq.Forward(context.Background(), ids[i:i+1]); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
			t.Fatalf("logit %d differs by %g", i, d)
		}
	}
	if _, err := seq.Forward(context.Background(), []int{0}); !errors.Is(err, ErrContextFull) {
		t.Fatalf("past n_positions: %v", err)
	}
}

// TestConcurrentSequences runs sequences of one model from several goroutines.
func TestConcurrentSequences(t *testing.T) {
	cfg := smallConfig()
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 2), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	ids := testIDs(10, cfg.VocabSize)
	want, err := m.NewSequence().Forward(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			seq := m.NewSequence()
			var got []float32
			var err error
			for i := range ids {
				if got, err = seq.Forward(context.Background(), ids[i:i+1]); err != nil {
					errs <- err
					return
				}
			}
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					errs <- fmt.Errorf("logit %d: %g, want %g", i, got[i], want[i])
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
