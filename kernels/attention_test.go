package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func TestSoftmax(t *testing.T) {
	for _, tc := range [][]float32{
		{0}, {1, 2, 3}, {1000, -1000, 999}, {-1e30, -1e30}, {5, 5, 5, 5},
	} {
		x := append([]float32(nil), tc...)
		Softmax(x)
		var sum float64
		for i, p := range x {
			if !(p >= 0 && p <= 1) {
				t.Fatalf("Softmax(%v)[%d] = %v", tc, i, p)
			}
			sum += float64(p)
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("Softmax(%v) sums to %v", tc, sum)
		}
		// Ratios follow exp(x_i − x_j).
		if len(tc) == 3 && tc[0] == 1 {
			if r := float64(x[2] / x[1]); math.Abs(r-math.E) > 1e-5 {
				t.Errorf("p3/p2 = %v, want e", r)
			}
		}
	}
	Softmax(nil)
}

func TestAttentionHead(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, ks := range levels() {
		saved := active
		active = ks
		for _, d := range []int{1, 7, 16, 33, 80} {
			for _, n := range []int{0, 1, 2, 5, 100} {
				stride := d + 13
				q := randF32(r, d)
				keys := randF32(r, n*stride)
				values := randF32(r, n*stride)
				scale, slope := float32(1/math.Sqrt(float64(d))), float32(0.25)
				out := make([]float32, d)
				scores := make([]float32, n+3)
				AttentionHead(out, q, keys, values, stride, n, scale, slope, scores)

				// Float64 reference.
				s := make([]float64, n)
				mx := math.Inf(-1)
				for j := 0; j < n; j++ {
					var dot float64
					for i := 0; i < d; i++ {
						dot += float64(q[i]) * float64(keys[j*stride+i])
					}
					s[j] = float64(scale)*dot - float64(slope)*float64(n-1-j)
					mx = math.Max(mx, s[j])
				}
				var z float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					z += s[j]
				}
				for i := 0; i < d; i++ {
					var want float64
					for j := 0; j < n; j++ {
						want += s[j] / z * float64(values[j*stride+i])
					}
					if math.Abs(float64(out[i])-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("%v d=%d n=%d: out[%d] = %v, want %v", ks.level, d, n, i, out[i], want)
					}
				}
				for j := 0; j < n; j++ {
					if math.Abs(float64(scores[j])-s[j]/z) > 1e-5 {
						t.Fatalf("%v d=%d n=%d: p[%d] = %v, want %v", ks.level, d, n, j, scores[j], s[j]/z)
					}
				}
			}
		}
		active = saved
	}
}

func TestAttentionHeadNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	d, n := 80, 64
	q, keys, values := randF32(r, d), randF32(r, n*d), randF32(r, n*d)
	out, scores := make([]float32, d), make([]float32, n)
	if a := testing.AllocsPerRun(10, func() { AttentionHead(out, q, keys, values, d, n, 1.0/80, 0.5, scores) }); a != 0 {
		t.Errorf("%v allocations per call", a)
	}
}

func TestDotAxpyExported(t *testing.T) {
	a := []float32{1, 2, 3}
	b := []float32{4, 5, 6, 7}
	if got := Dot(a, b); got != 32 {
		t.Errorf("Dot = %v, want 32", got)
	}
	y := []float32{1, 1, 1, 9}
	Axpy(2, a, y)
	if y[0] != 3 || y[1] != 5 || y[2] != 7 || y[3] != 9 {
		t.Errorf("Axpy = %v", y)
	}
}

// FuzzKernelsAgree feeds arbitrary bytes as weights and activations to every kernel
// level and checks that all agree with the pure-Go reference.
func FuzzKernelsAgree(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(0))
	f.Add(make([]byte, 200), uint8(3))
	f.Add([]byte{0x7f, 0x80, 0xff, 0x01, 0x00, 0x80, 0x7f, 0x7f, 0x80, 0x80}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, pad uint8) {
		n := len(data) / 4
		if n > 3000 {
			n = 3000
		}
		w := make([]float32, n)
		x := make([]float32, 4*(n+int(pad%8)))
		for i := range w {
			w[i] = float32(int16(binary.LittleEndian.Uint16(data[4*i:]))) / 1024
		}
		for i := range x {
			j := i % max(n, 1)
			if n > 0 {
				x[i] = float32(int16(binary.LittleEndian.Uint16(data[4*j+2:]))+int16(i)) / 512
			}
		}
		stride := n + int(pad%8)
		wb := make([]uint16, n)
		for i := range wb {
			wb[i] = F32ToBF16(w[i])
		}
		m, _ := NewF32(1, n, w)
		q, _ := m.Quantize(Q8)
		var v q8Vec
		v.quantize(x[:4*n], 4, n)
		ref := kernelsFor(LevelGeneric)
		for _, ks := range levels() {
			for tk := 0; tk < 4; tk++ {
				var mag float64
				for i := 0; i < n; i++ {
					mag += math.Abs(float64(w[i]) * float64(x[tk*stride+i]))
				}
				want := float64(ref.dotF32(w, x[tk*stride:]))
				if got := ks.dotF32(w, x[tk*stride:]); !within(got, want, 2*mag) {
					t.Fatalf("%v dotF32 n=%d: %v vs %v", ks.level, n, got, want)
				}
				if got := ks.dotF32x4(w, x, stride)[tk]; !within(got, want, 2*mag) {
					t.Fatalf("%v dotF32x4 n=%d: %v vs %v", ks.level, n, got, want)
				}
				wantB := float64(ref.dotBF16(wb, x[tk*stride:]))
				if got := ks.dotBF16x4(wb, x, stride)[tk]; !within(got, wantB, 2*mag) {
					t.Fatalf("%v dotBF16x4 n=%d: %v vs %v", ks.level, n, got, wantB)
				}
				wantQ, magQ := q8Exact(q.Q8, q.Scales, &v, tk)
				xq, xs, xc := v.row(tk)
				if got := ks.dotQ8(q.Q8, q.Scales, xq, xs, xc); !within(got, wantQ, magQ) {
					t.Fatalf("%v dotQ8 n=%d: %v vs %v", ks.level, n, got, wantQ)
				}
			}
		}
	})
}

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88.5; x += 0.001 {
		got, want := float64(Exp32(float32(x))), math.Exp(float64(float32(x)))
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 3e-7 {
			t.Fatalf("Exp32(%v) = %v, want %v (rel %v)", x, got, want, rel)
		}
	}
	t.Logf("worst relative error %.3g", worst)
	for _, tc := range []struct{ in, want float32 }{
		{0, 1}, {-100, 0}, {float32(math.Inf(-1)), 0}, {100, float32(math.Inf(1))}, {float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := Exp32(tc.in); got != tc.want {
			t.Errorf("Exp32(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if nan := Exp32(float32(math.NaN())); nan == nan {
		t.Error("Exp32(NaN) is not NaN")
	}
}

// attnRef is AttentionHead in float64: the output and the probabilities.
func attnRef(q, keys, values []float32, stride, n int, scale, slope float64) (out, p []float64) {
	d := len(q)
	p = make([]float64, n)
	mx := math.Inf(-1)
	for j := 0; j < n; j++ {
		var dot float64
		for i := 0; i < d; i++ {
			dot += float64(q[i]) * float64(keys[j*stride+i])
		}
		p[j] = scale*dot - slope*float64(n-1-j)
		mx = math.Max(mx, p[j])
	}
	var z float64
	for j := range p {
		p[j] = math.Exp(p[j] - mx)
		z += p[j]
	}
	out = make([]float64, d)
	for j := range p {
		p[j] /= z
		for i := 0; i < d; i++ {
			out[i] += p[j] * float64(values[j*stride+i])
		}
	}
	return out, p
}

func TestAttentionHeadF16(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, ks := range levels() {
		saved := active
		active = ks
		for _, d := range []int{1, 7, 16, 33, 80} {
			for _, n := range []int{0, 1, 3, 100} {
				stride := d + 5
				q := randF32(r, d)
				kf, vf := randF32(r, n*stride), randF32(r, n*stride)
				kh, vh := make([]uint16, len(kf)), make([]uint16, len(vf))
				ConvertF16(kh, kf)
				ConvertF16(vh, vf)
				for i := range kf { // the reference sees exactly the stored values
					kf[i], vf[i] = F16ToF32(kh[i]), F16ToF32(vh[i])
				}
				out, scores := make([]float32, d), make([]float32, n)
				AttentionHeadF16(out, q, kh, vh, stride, n, 0.125, 0.3, scores)
				want, p := attnRef(q, kf, vf, stride, n, 0.125, 0.3)
				for i := range out {
					if math.Abs(float64(out[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
						t.Fatalf("%v d=%d n=%d: out[%d] = %v, want %v", ks.level, d, n, i, out[i], want[i])
					}
				}
				for j := range p {
					if math.Abs(float64(scores[j])-p[j]) > 1e-5 {
						t.Fatalf("%v d=%d n=%d: p[%d] = %v, want %v", ks.level, d, n, j, scores[j], p[j])
					}
				}
			}
		}
		active = saved
	}
}

func TestF16Conversion(t *testing.T) {
	// Every finite half value survives the round trip; NaNs stay NaN.
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			if back := F16ToF32(F32ToF16(f)); back == back {
				t.Fatalf("NaN %#x did not stay NaN", h)
			}
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("round trip %#x → %v → %#x", h, f, back)
		}
	}
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00},
		{5.960464477539063e-08, 0x0001}, {2.9802322387695312e-08, 0x0000}, // halfway to the smallest subnormal: even
		{8.940696716308594e-08, 0x0002},                // 1.5 × smallest: rounds to even (2)
		{1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02}, // ties to even in the normal range
	} {
		if got := F32ToF16(tc.in); got != tc.want {
			t.Errorf("F32ToF16(%v) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
	// Rounding is to the nearest half value.
	r := rand.New(rand.NewPCG(37, 38))
	for i := 0; i < 100000; i++ {
		f := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-25)))
		h := F32ToF16(f)
		if math.Abs(float64(f)) >= 65520 { // IEEE overflow threshold: Inf is right
			if h&0x7fff != 0x7c00 {
				t.Fatalf("F32ToF16(%v) = %#x, want ±Inf", f, h)
			}
			continue
		}
		got := math.Abs(float64(F16ToF32(h)) - float64(f))
		for _, nb := range []uint16{h - 1, h + 1} {
			if v := F16ToF32(nb); !math.IsInf(float64(v), 0) && v == v && math.Abs(float64(v)-float64(f)) < got {
				t.Fatalf("F32ToF16(%v) = %#x, but %#x is nearer", f, h, nb)
			}
		}
	}
}
