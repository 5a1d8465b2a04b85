package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// sizes covers empty, sub-vector, block and vector boundaries, and BTLM's row lengths.
var sizes = []int{0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 80, 100, 127, 129, 2560, 6826}

func randF32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// levels returns every kernel set this machine can run, the generic one first.
func levels() []kernelSet {
	var ks []kernelSet
	for _, lv := range SupportedLevels() {
		ks = append(ks, kernelsFor(lv))
	}
	return ks
}

// within reports whether got is within a float32-accumulation tolerance of want,
// relative to mag = Σ|terms|.
func within(got float32, want, mag float64) bool {
	return math.Abs(float64(got)-want) <= 2e-6*mag+1e-6
}

// unaligned returns a copy of s starting off elements into a fresh buffer, so the
// kernels see slices that are not 16- or 64-byte aligned.
func unaligned[T any](s []T, off int) []T {
	buf := make([]T, len(s)+off)
	copy(buf[off:], s)
	return buf[off : off+len(s) : off+len(s)]
}

func TestSupportedLevels(t *testing.T) {
	lv := SupportedLevels()
	if lv[0] != LevelGeneric {
		t.Fatalf("first level %v, want generic", lv[0])
	}
	if os.Getenv("BTLM_NOSIMD") == "1" {
		if ActiveLevel() != LevelGeneric {
			t.Fatalf("BTLM_NOSIMD=1 but active level is %v", ActiveLevel())
		}
	} else if ActiveLevel() != lv[len(lv)-1] {
		t.Fatalf("active level %v, want best supported %v", ActiveLevel(), lv[len(lv)-1])
	}
	t.Logf("supported %v, active %v", lv, ActiveLevel())
}

func TestDotF32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ks := range levels() {
		for _, n := range sizes {
			for _, off := range []int{0, 1, 3} {
				w, x := unaligned(randF32(r, n), off), unaligned(randF32(r, n), (off+2)%4)
				var want, mag float64
				for i := range w {
					want += float64(w[i]) * float64(x[i])
					mag += math.Abs(float64(w[i]) * float64(x[i]))
				}
				if got := ks.dotF32(w, x); !within(got, want, mag) {
					t.Errorf("%v dotF32 n=%d off=%d: got %v want %v", ks.level, n, off, got, want)
				}
			}
		}
	}
}

func TestDotBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ks := range levels() {
		for _, n := range sizes {
			for _, off := range []int{0, 1, 3} {
				w := make([]uint16, n)
				for i := range w {
					w[i] = F32ToBF16(float32(r.NormFloat64()))
				}
				w = unaligned(w, off)
				x := unaligned(randF32(r, n), off)
				var want, mag float64
				for i := range w {
					p := float64(BF16ToF32(w[i])) * float64(x[i])
					want += p
					mag += math.Abs(p)
				}
				if got := ks.dotBF16(w, x); !within(got, want, mag) {
					t.Errorf("%v dotBF16 n=%d off=%d: got %v want %v", ks.level, n, off, got, want)
				}
			}
		}
	}
}

func TestDotX4(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, ks := range levels() {
		for _, n := range sizes {
			for _, pad := range []int{0, 3} {
				stride := n + pad
				w := unaligned(randF32(r, n), 1)
				wb := make([]uint16, n)
				for i := range wb {
					wb[i] = F32ToBF16(w[i])
				}
				x := unaligned(randF32(r, 3*stride+n), 2)
				got := ks.dotF32x4(w, x, stride)
				gotB := ks.dotBF16x4(wb, x, stride)
				for tk := 0; tk < 4; tk++ {
					var want, wantB, mag, magB float64
					for i := 0; i < n; i++ {
						xv := float64(x[tk*stride+i])
						want += float64(w[i]) * xv
						mag += math.Abs(float64(w[i]) * xv)
						wantB += float64(BF16ToF32(wb[i])) * xv
						magB += math.Abs(float64(BF16ToF32(wb[i])) * xv)
					}
					if !within(got[tk], want, mag) {
						t.Errorf("%v dotF32x4 n=%d stride=%d t=%d: got %v want %v", ks.level, n, stride, tk, got[tk], want)
					}
					if !within(gotB[tk], wantB, magB) {
						t.Errorf("%v dotBF16x4 n=%d stride=%d t=%d: got %v want %v", ks.level, n, stride, tk, gotB[tk], wantB)
					}
				}
			}
		}
	}
}

// q8Exact is the exact value of a q8 row · quantized activation row t in float64, and
// the sum of the absolute values of its terms.
func q8Exact(w []uint8, ws []float32, v *q8Vec, t int) (sum, mag float64) {
	xq, xs, _ := v.row(t)
	for b, d := range ws {
		var acc, absAcc int64
		for c := b * BlockSize; c < (b+1)*BlockSize; c++ {
			off := q8Offset(c)
			p := int64(int(w[off])-128) * int64(xq[off])
			acc += p
			absAcc += max(p, -p)
		}
		scale := float64(d) * float64(xs[b])
		sum += float64(acc) * scale
		mag += float64(absAcc) * scale
	}
	return sum, mag
}

func TestDotQ8(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range sizes {
		for _, extreme := range []bool{false, true} {
			wf := randF32(r, n)
			xf := randF32(r, 4*n)
			if extreme { // saturate every value at ±amax: q = ±127 everywhere
				for i := range wf {
					wf[i] = float32(1 - 2*(i%2))
				}
				for i := range xf {
					xf[i] = float32(2*((i/3)%2) - 1)
				}
			}
			m, _ := NewF32(1, n, wf)
			q, err := m.Quantize(Q8)
			if err != nil {
				t.Fatal(err)
			}
			var v q8Vec
			v.quantize(xf, 4, n)
			for _, ks := range levels() {
				xq, xs, xc := v.rows4(0)
				out := ks.dotQ8x4(q.Q8, q.Scales, xq, xs, xc)
				for tk := 0; tk < 4; tk++ {
					want, mag := q8Exact(q.Q8, q.Scales, &v, tk)
					xq, xs, xc := v.row(tk)
					if got := ks.dotQ8(q.Q8, q.Scales, xq, xs, xc); !within(got, want, mag) {
						t.Errorf("%v dotQ8 n=%d extreme=%v t=%d: got %v want %v", ks.level, n, extreme, tk, got, want)
					}
					if !within(out[tk], want, mag) {
						t.Errorf("%v dotQ8x4 n=%d extreme=%v t=%d: got %v want %v", ks.level, n, extreme, tk, out[tk], want)
					}
				}
			}
		}
	}
}

func TestAxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, ks := range levels() {
		for _, n := range sizes {
			x := unaligned(randF32(r, n), 1)
			y := unaligned(randF32(r, n+2), 3)
			want := make([]float64, len(y))
			for i := range y {
				want[i] = float64(y[i])
				if i < n {
					want[i] += 0.37 * float64(x[i])
				}
			}
			ks.axpy(0.37, x, y[:n])
			for i := range y {
				if math.Abs(float64(y[i])-want[i]) > 1e-6*(1+math.Abs(want[i])) {
					t.Fatalf("%v axpy n=%d i=%d: got %v want %v", ks.level, n, i, y[i], want[i])
				}
			}
		}
	}
}

func TestDotQ8TwoRows(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{1, 31, 513, 2560, 6826} {
		m, _ := NewF32(2, n, randF32(r, 2*n))
		q, _ := m.Quantize(Q8)
		var v q8Vec
		v.quantize(randF32(r, 4*n), 4, n)
		xq, xs, xc := v.rows4(0)
		nsc := q.Groups * GroupBlocks
		for _, ks := range levels() {
			out := ks.dotQ8x4r2(q.Q8, q.Scales, xq, xs, xc)
			for row := 0; row < 2; row++ {
				for tk := 0; tk < 4; tk++ {
					want, mag := q8Exact(q.Q8[row*q.Stride:(row+1)*q.Stride], q.Scales[row*nsc:(row+1)*nsc], &v, tk)
					if got := out[row*4+tk]; !within(got, want, mag) {
						t.Errorf("%v dotQ8x4r2 n=%d row=%d t=%d: got %v want %v", ks.level, n, row, tk, got, want)
					}
				}
			}
		}
	}
}

// TestQuantAct checks that every level quantizes activations exactly like the
// reference (same bytes, scales and corrections), including zero blocks, ties and
// partial last blocks.
func TestQuantAct(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, n := range []int{0, 1, 31, 32, 33, 511, 512, 513, 2560, 6826} {
		x := randF32(r, n)
		for i := 0; i < n && i < 32; i++ {
			x[i] = 0 // a zero block
		}
		if n > 64 {
			for i := 32; i < 64; i++ { // a block of exact ties after scaling by 127/127
				x[i] = float32(i%5) - 2.5
			}
			x[40] = 127
		}
		ng := q8Groups(n)
		var want q8Vec
		want.prepare(1, n)
		wq, ws, wc := want.row(0)
		refQuantAct(x, wq, ws, wc)
		for _, ks := range levels() {
			q := make([]int8, ng*groupBytes)
			for i := range q {
				q[i] = 99 // every byte must be written
			}
			s, c := make([]float32, ng*GroupBlocks), make([]int32, ng*GroupBlocks)
			ks.quantAct(x, q, s, c)
			for i := range q {
				if q[i] != wq[i] {
					t.Fatalf("%v n=%d: q[%d] = %d, want %d", ks.level, n, i, q[i], wq[i])
				}
			}
			for b := range s {
				if s[b] != ws[b] || c[b] != wc[b] {
					t.Fatalf("%v n=%d block %d: s=%v c=%d, want %v %d", ks.level, n, b, s[b], c[b], ws[b], wc[b])
				}
			}
		}
	}
}
