package btlm

import (
	"context"
	"math"
	"testing"

	"github.com/btlm-miner/btlm-miner/kernels"
)

// cosine returns the cosine similarity of a and b.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestQuantizedGoldens runs the tiny model's golden cases with bf16 and q8_0 weights.
// The tiny model's logits have near-ties (golden min_top2_gap down to 1e-4), which any
// quantization may flip, so the check is teacher-forced: along fp32's greedy path, at
// every step the quantized logits must have cosine >= minCos to fp32's, and wherever
// fp32's top-2 gap exceeds twice the largest logit difference the quantized argmax must
// equal fp32's (a step quantization provably cannot flip). Free-running greedy agreement
// (steps equal before the first divergence) is logged for the report.
func TestQuantizedGoldens(t *testing.T) {
	dir := tinyDir(t)
	cases := loadGolden(t, dir)
	f32, err := Load(dir, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		quant  string
		minCos float64
	}{{"bf16", 0.99999}, {"q8_0", 0.995}} {
		t.Run(q.quant, func(t *testing.T) {
			m, err := Load(dir, Options{Threads: 2, Quant: q.quant})
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := kernels.ParseFormat(q.quant); m.Format() != want {
				t.Fatalf("format %v, want %v", m.Format(), want)
			}
			prefix, total, decisive, forcedSame, worstCos := 0, 0, 0, 0, 1.0
			for i, c := range cases {
				want, _ := greedy(t, f32, c.PromptIDs, c.MaxNewTokens, c.NoRepeatNgramSize)
				got, _ := greedy(t, m, c.PromptIDs, c.MaxNewTokens, c.NoRepeatNgramSize)
				n := 0
				for n < len(got) && n < len(want) && got[n] == want[n] {
					n++
				}
				prefix += n
				total += len(want)

				ref, qs := f32.NewSequence(), m.NewSequence()
				tokens := append([]int(nil), c.PromptIDs...)
				next := c.PromptIDs
				for step := range want {
					a, err := ref.Forward(context.Background(), next)
					if err != nil {
						t.Fatal(err)
					}
					b, err := qs.Forward(context.Background(), next)
					if err != nil {
						t.Fatal(err)
					}
					worstCos = math.Min(worstCos, cosine(a, b))
					sa := append([]float32(nil), a...)
					sb := append([]float32(nil), b...)
					for _, id := range bannedNgramTokens(tokens, c.NoRepeatNgramSize) {
						sa[id], sb[id] = float32(math.Inf(-1)), float32(math.Inf(-1))
					}
					top := topK(sa, 2)
					var maxDiff float64
					for j := range sa {
						if !math.IsInf(float64(sa[j]), 0) {
							maxDiff = math.Max(maxDiff, math.Abs(float64(sa[j]-sb[j])))
						}
					}
					if topK(sb, 1)[0] == top[0] {
						forcedSame++ // same greedy choice given the same history
					}
					if float64(sa[top[0]]-sa[top[1]]) > 2*maxDiff {
						decisive++
						if got := topK(sb, 1)[0]; got != top[0] {
							t.Errorf("case %d step %d: argmax %d, fp32 %d with gap %.3g > 2×max|Δ| %.3g",
								i, step, got, top[0], sa[top[0]]-sa[top[1]], maxDiff)
						}
					}
					tokens = append(tokens, want[step])
					next = want[step : step+1]
				}
			}
			t.Logf("%s: logits cosine to fp32 >= %.6f over all teacher-forced steps; greedy choice equal to fp32's on %d/%d teacher-forced steps; %d decisive steps all agree; free-running greedy equal to fp32 for %d/%d steps before the first divergence",
				q.quant, worstCos, forcedSame, total, decisive, prefix, total)
			if worstCos < q.minCos {
				t.Errorf("logits cosine %.6f < %g", worstCos, q.minCos)
			}
			if 2*forcedSame <= total { // issue 6: equal to fp32 "for most steps"
				t.Errorf("greedy choice equal to fp32's on only %d/%d teacher-forced steps", forcedSame, total)
			}
		})
	}
}

// TestQuantizedSynthetic compares quantized and fp32 logits on a synthetic model with
// awkward sizes (n_inner not a multiple of the q8 block) and checks the embedding
// lookup dequantizes the tied table's rows.
func TestQuantizedSynthetic(t *testing.T) {
	cfg := smallConfig()
	cfg.NEmbd, cfg.NHead, cfg.NInner, cfg.VocabSize = 64, 4, 70, 300
	ids := testIDs(9, cfg.VocabSize)
	ref, err := FromTensors(cfg, SyntheticTensors(cfg, 3), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.NewSequence().Forward(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		quant  string
		minCos float64
	}{{"none", 1 - 1e-12}, {"", 1 - 1e-12}, {"fp32", 1 - 1e-12}, {"bf16", 0.9995}, {"q8_0", 0.999}} {
		m, err := FromTensors(cfg, SyntheticTensors(cfg, 3), Options{Threads: 3, Quant: q.quant})
		if err != nil {
			t.Fatalf("%s: %v", q.quant, err)
		}
		seq := m.NewSequence()
		got, err := seq.Forward(context.Background(), ids[:4])
		if err == nil {
			got, err = seq.Forward(context.Background(), ids[4:])
		}
		if err != nil {
			t.Fatalf("%s: %v", q.quant, err)
		}
		if c := cosine(got, want); c < q.minCos {
			t.Errorf("%s: cosine to fp32 %.7f < %g", q.quant, c, q.minCos)
		}
	}
	// With rows a multiple of the q8 group (512) the formats' sizes are exact.
	wide := smallConfig()
	wide.NEmbd, wide.NHead, wide.NInner, wide.VocabSize, wide.NLayer = 512, 4, 1024, 100, 1
	var bytes [3]int64
	for i, quant := range []string{"none", "bf16", "q8_0"} {
		m, err := FromTensors(wide, SyntheticTensors(wide, 3), Options{Threads: 1, Quant: quant})
		if err != nil {
			t.Fatal(err)
		}
		bytes[i] = m.WeightBytes()
	}
	if r := float64(bytes[1]) / float64(bytes[0]); r < 0.5 || r > 0.51 {
		t.Errorf("bf16 weights are %.4f of fp32, want about 0.5", r)
	}
	if r := float64(bytes[2]) / float64(bytes[0]); r < 1.125/4 || r > 1.15/4 {
		t.Errorf("q8_0 weights are %.4f of fp32, want about 1.125/4", r)
	}
	if _, err := FromTensors(cfg, SyntheticTensors(cfg, 3), Options{Quant: "q4"}); err == nil {
		t.Error("unknown quant accepted")
	}
}

// TestForwardNoAllocs checks that a decode step allocates nothing once the sequence's
// buffers exist.
func TestForwardNoAllocs(t *testing.T) {
	cfg := smallConfig()
	for _, quant := range []string{"none", "q8_0"} {
		m, err := FromTensors(cfg, SyntheticTensors(cfg, 4), Options{Threads: 2, Quant: quant})
		if err != nil {
			t.Fatal(err)
		}
		seq := m.NewSequence()
		ctx := context.Background()
		if _, err := seq.Forward(ctx, testIDs(3, cfg.VocabSize)); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := seq.Forward(ctx, []int{5}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per decode step, want 0", quant, allocs)
		}
	}
}

// TestReserve checks that a reserved cache is used without growing and gives the same
// logits.
func TestReserve(t *testing.T) {
	cfg := smallConfig()
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 4), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	ids := testIDs(30, cfg.VocabSize)
	want, _ := m.NewSequence().Forward(context.Background(), ids)
	seq := m.NewSequence()
	seq.Reserve(1000) // capped at n_positions
	if got := seq.CacheBytes(); got != int64(2*cfg.NLayer*cfg.NPositions*cfg.NEmbd*4) {
		t.Fatalf("reserved %d bytes", got)
	}
	if _, err := seq.Forward(context.Background(), ids[:10]); err != nil {
		t.Fatal(err)
	}
	seq.Reserve(5) // no-op
	got, err := seq.Forward(context.Background(), ids[10:])
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff32(got, want); d > 1e-5 {
		t.Errorf("logits differ by %g", d)
	}
	bs := NewBatcher(m, 2).NewSequence()
	bs.Reserve(35)
	if got, err = bs.Forward(context.Background(), ids); err != nil || maxDiff32(got, want) > 1e-4 || bs.CacheBytes() != int64(2*cfg.NLayer*35*cfg.NEmbd*4) {
		t.Errorf("batch sequence after Reserve: %v, %d bytes", err, bs.CacheBytes())
	}
}
