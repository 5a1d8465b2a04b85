package generate

import (
	"math/rand/v2"
	"testing"
)

// benchStep measures one decoding step (processors, warpers, choice) over a BTLM-sized
// vocabulary with a 1,000-token history.
func benchStep(b *testing.B, p Params) {
	const vocab = 50257
	rng := rand.New(rand.NewPCG(1, 1))
	logits := make([]float32, vocab)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	tokens := make([]int, 1000)
	for i := range tokens {
		tokens[i] = rng.IntN(vocab)
	}
	d := newDecoder(p)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.next(tokens, logits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStepGreedyNGram2(b *testing.B) { benchStep(b, DefaultParams()) }

func BenchmarkStepSampleTopK50(b *testing.B) {
	p := DefaultParams()
	p.DoSample = true
	benchStep(b, p)
}

func BenchmarkStepSampleTopK50TopP09(b *testing.B) {
	p := DefaultParams()
	p.DoSample, p.TopP = true, 0.9
	benchStep(b, p)
}

func BenchmarkStepSampleTopP09(b *testing.B) {
	p := DefaultParams()
	p.DoSample, p.TopK, p.TopP = true, 0, 0.9
	benchStep(b, p)
}
