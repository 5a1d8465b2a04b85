package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDotQ8TwoRowsBitIdentical checks that at every level the two-row kernel gives
// exactly (bit for bit) what the one-row, four-token kernel gives for each row, on
// sizes with partial blocks and groups: both sum the blocks' integer dot products
// exactly and share one float epilogue.
func TestDotQ8TwoRowsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, n := range []int{1, 33, 512, 1000, 2560, 6826} {
		m, _ := NewF32(2, n, randF32(r, 2*n))
		q, _ := m.Quantize(Q8)
		var v q8Vec
		v.quantize(randF32(r, 4*n), 4, n)
		xq, xs, xc := v.rows4(0)
		nsc := q.Groups * GroupBlocks
		for _, ks := range levels() {
			got := ks.dotQ8x4r2(q.Q8, q.Scales, xq, xs, xc)
			for row := 0; row < 2; row++ {
				want := ks.dotQ8x4(q.Q8[row*q.Stride:(row+1)*q.Stride], q.Scales[row*nsc:(row+1)*nsc], xq, xs, xc)
				for tk := 0; tk < 4; tk++ {
					if got[row*4+tk] != want[tk] {
						t.Errorf("%v n=%d row=%d t=%d: dotQ8x4r2 %v, dotQ8x4 %v", ks.level, n, row, tk, got[row*4+tk], want[tk])
					}
				}
			}
		}
	}
}

// BenchmarkDotQ8x4r2Hot measures the two-row kernel's compute rate with its operands
// in cache (one row pair, 8 activation rows as two calls, as MatMul runs a batched
// decode step), in GMAC/s: ng=5 is a 2560-column matrix, ng=14 a 6826-column one (its
// 8 activation rows no longer fit in L1).
func BenchmarkDotQ8x4r2Hot(b *testing.B) {
	for _, ng := range []int{5, 14} {
		r := rand.New(rand.NewPCG(1, 2))
		w := make([]uint8, 2*ng*groupBytes)
		for i := range w {
			w[i] = uint8(r.Uint32())
		}
		ws := randF32(r, 2*ng*GroupBlocks)
		var v q8Vec
		v.quantize(randF32(r, 8*ng*groupBytes), 8, ng*groupBytes)
		b.Run(fmt.Sprintf("ng%d", ng), func(b *testing.B) {
			var sink float32
			for i := 0; i < b.N; i++ {
				xq, xs, xc := v.rows4(0)
				o := active.dotQ8x4r2(w, ws, xq, xs, xc)
				xq, xs, xc = v.rows4(4)
				o2 := active.dotQ8x4r2(w, ws, xq, xs, xc)
				sink += o[0] + o2[0]
			}
			_ = sink
			macs := float64(2*8*ng*groupBytes) * float64(b.N)
			b.ReportMetric(macs/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}
