package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// silu64 is silu in float64, the exact value the kernels approximate.
func silu64(g float64) float64 { return g / (1 + math.Exp(-g)) }

// TestSwiGLU compares every level's SwiGLU with float64 on random and edge-case gates
// (large magnitudes, the exp clamping range, zeros), lengths with odd tails and
// unaligned slices (near-zero results, where exp(−g) overflows, within 1e-30).
func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	edge := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1, -1, 20, -20, 87, -87, 87.5, -87.5,
		88.7, -88.7, 89, -89, 100, -100, 1e4, -1e4, 1e30, -1e30}
	for _, n := range []int{0, 1, 15, 16, 17, 33, 100, 6826, 8 * 6826} {
		for off := 0; off < 2; off++ {
			gate := randF32(r, n)
			for i := range gate {
				gate[i] *= 4
				if i < len(edge) && n < 1000 {
					gate[i] = edge[i]
				}
			}
			up := randF32(r, n)
			gate, up = unaligned(gate, off), unaligned(up, off)
			for _, ks := range levels() {
				got := append([]float32(nil), up...)
				ks.swiglu(got, gate)
				for i := range got {
					want := float64(up[i]) * silu64(float64(gate[i]))
					if d := math.Abs(float64(got[i]) - want); d > 4e-7*math.Abs(want)+1e-30 {
						t.Fatalf("%v n=%d i=%d gate=%v up=%v: got %v want %v", ks.level, n, i, gate[i], up[i], got[i], want)
					}
				}
			}
		}
	}
}

// TestSwiGLUNaN checks that a NaN gate gives NaN at every level, and that SwiGLU
// rejects a short gate.
func TestSwiGLUNaN(t *testing.T) {
	for _, ks := range levels() {
		gate := make([]float32, 33)
		up := make([]float32, 33)
		for i := range up {
			up[i] = 1
		}
		gate[3], gate[32] = float32(math.NaN()), float32(math.NaN())
		ks.swiglu(up, gate)
		if !math.IsNaN(float64(up[3])) || !math.IsNaN(float64(up[32])) || up[0] != 0 {
			t.Errorf("%v: NaN gate gave %v, %v; zero gate gave %v", ks.level, up[3], up[32], up[0])
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("SwiGLU with a short gate did not panic")
		}
	}()
	SwiGLU(make([]float32, 4), make([]float32, 3))
}

func BenchmarkSwiGLU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	gate, up := randF32(r, 8*6826), randF32(r, 8*6826)
	for _, ks := range levels() {
		b.Run(fmt.Sprint(ks.level), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ks.swiglu(up, gate)
			}
			b.ReportMetric(float64(len(up))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}
