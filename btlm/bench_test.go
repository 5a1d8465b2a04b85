package btlm

import (
	"context"
	"fmt"
	"testing"
)

// benchModel3B builds the real BTLM-3B shapes with only layers layers (synthetic
// weights) in format quant. Per-token cost of the full model is about head + 32 × layer.
func benchModel3B(b *testing.B, layers int, quant string) *Model {
	cfg := BTLM3BConfig()
	cfg.NLayer = layers
	m, err := FromTensors(cfg, SyntheticTensors(cfg, 1), Options{Quant: quant})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkFormats3BShapes measures, per weight format in one run (compare them as
// ratios), a 128-token prefill and decode steps after it on 2 layers of BTLM-3B's
// shapes plus the tied 50257-row head, and decode steps of 8 sequences batched.
func BenchmarkFormats3BShapes(b *testing.B) {
	ctx := context.Background()
	for _, quant := range []string{"none", "bf16", "q8_0"} {
		m := benchModel3B(b, 2, quant)
		vocab := m.Config().VocabSize
		prompt := testIDs(128, vocab)
		b.Run(fmt.Sprintf("prefill128/%s", quant), func(b *testing.B) {
			seq := m.NewSequence()
			for i := 0; i < b.N; i++ {
				seq.Reset()
				if _, err := seq.Forward(ctx, prompt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		b.Run(fmt.Sprintf("decode/%s", quant), func(b *testing.B) {
			seq := m.NewSequence()
			if _, err := seq.Forward(ctx, prompt[:16]); err != nil {
				b.Fatal(err)
			}
			next := []int{1}
			for i := 0; i < b.N; i++ {
				if seq.Len() >= 1000 {
					seq.Reset()
				}
				if _, err := seq.Forward(ctx, next); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		b.Run(fmt.Sprintf("decode8/%s", quant), func(b *testing.B) {
			bt := NewBatcher(m, 8)
			seqs := make([]*BatchSequence, 8)
			for i := range seqs {
				seqs[i] = bt.NewSequence()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				done := make(chan error, len(seqs))
				for _, s := range seqs {
					go func() {
						if s.Len() >= 1000 {
							s.Reset()
						}
						_, err := s.Forward(ctx, []int{1})
						done <- err
					}()
				}
				for range seqs {
					if err := <-done; err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		m.Close()
	}
}
