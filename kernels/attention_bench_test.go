package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAttentionDecodeDRAM is the attention of one batched decode step over 8
// layers of 8 sequences (64 float32 KV caches of 144 positions × 2560, 189 MB, above any
// L3), every head of each: the strided, memory-bound access of decoding.
func BenchmarkAttentionDecodeDRAM(b *testing.B) {
	const S, n, E, d = 64, 144, 2560, 80
	r := rand.New(rand.NewPCG(3, 3))
	K := make([][]float32, S)
	V := make([][]float32, S)
	for i := range K {
		K[i], V[i] = randF32(r, n*E), randF32(r, n*E)
	}
	q := randF32(r, d)
	out, scores := make([]float32, d), make([]float32, n)
	b.SetBytes(int64(S * n * E * 8))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for s := 0; s < S; s++ {
			for h := 0; h < 32; h++ {
				AttentionHead(out, q, K[s][h*d:], V[s][h*d:], E, n, 1.0/80, 0.5, scores)
			}
		}
	}
}
