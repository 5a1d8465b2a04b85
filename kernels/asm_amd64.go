package kernels

// Go-assembly kernels (asm_avx512*_amd64.s, asm_avx2*_amd64.s). Each takes raw pointers
// and counts; the wrappers below check lengths, handle empty inputs and, for the AVX2
// float kernels, the last n%8 elements.

const haveAsm = true

//go:noescape
func dotF32AVX512(w, x *float32, n int) float32

//go:noescape
func dotF32x4AVX512(w, x *float32, stride, n int, out *[4]float32)

//go:noescape
func dotBF16AVX512(w *uint16, x *float32, n int) float32

//go:noescape
func dotBF16x4AVX512(w *uint16, x *float32, stride, n int, out *[4]float32)

//go:noescape
func dotQ8VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, ng int) float32

//go:noescape
func dotQ8x4VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, ng int, out *[4]float32)

//go:noescape
func attnScoresAVX512(q, k *float32, stride, n, d int, s *float32)

//go:noescape
func attnWeightedSumAVX512(p, v *float32, stride, n, d int, out *float32)

//go:noescape
func dotQ8x4r2VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, ng int, out *[8]float32)

//go:noescape
func attnScoresF16AVX512(q *float32, k *uint16, stride, n, d int, s *float32)

//go:noescape
func attnWeightedSumF16AVX512(p *float32, v *uint16, stride, n, d int, out *float32)

//go:noescape
func quantActAVX512(x *float32, nb int, q *int8, s *float32, c *int32)

//go:noescape
func swigluAVX512(up, gate *float32, n int)

//go:noescape
func dotF32AVX2(w, x *float32, n int) float32

//go:noescape
func dotF32x4AVX2(w, x *float32, stride, n int, out *[4]float32)

//go:noescape
func dotBF16AVX2(w *uint16, x *float32, n int) float32

//go:noescape
func dotBF16x4AVX2(w *uint16, x *float32, stride, n int, out *[4]float32)

//go:noescape
func dotQ8AVX2(w *uint8, ws *float32, xq *int8, xs *float32, ng int) float32

//go:noescape
func dotQ8x4AVX2(w *uint8, ws *float32, xq *int8, xs *float32, ng int, out *[4]float32)

//go:noescape
func axpyAVX2(a float32, x, y *float32, n int)

func asmKernels(lv Level, ks *kernelSet) {
	if lv < LevelAVX2 {
		return
	}
	ks.level = LevelAVX2
	ks.dotF32 = avx2DotF32
	ks.dotF32x4 = avx2DotF32x4
	ks.dotBF16 = avx2DotBF16
	ks.dotBF16x4 = avx2DotBF16x4
	ks.dotQ8 = avx2DotQ8
	ks.dotQ8x4 = avx2DotQ8x4
	ks.axpy = avx2Axpy
	if lv < LevelAVX512 {
		return
	}
	ks.level = LevelAVX512
	ks.dotF32 = avx512DotF32
	ks.dotF32x4 = avx512DotF32x4
	ks.dotBF16 = avx512DotBF16
	ks.dotBF16x4 = avx512DotBF16x4
	ks.dotQ8 = vnniDotQ8
	ks.dotQ8x4 = vnniDotQ8x4
	ks.dotQ8x4r2 = vnniDotQ8x4r2
	ks.attnScores = avx512AttnScores
	ks.attnWeightedSum = avx512AttnWeightedSum
	ks.quantAct = avx512QuantAct
	ks.attnScoresF16 = avx512AttnScoresF16
	ks.attnWeightedSumF16 = avx512AttnWeightedSumF16
	ks.swiglu = avx512SwiGLU
}

// avx512SwiGLU runs the assembly on the multiple-of-16 prefix and the reference on
// the rest.
func avx512SwiGLU(up, gate []float32) {
	n := len(up)
	gate = gate[:n]
	m := n &^ 15
	if m > 0 {
		swigluAVX512(&up[0], &gate[0], m)
	}
	refSwiGLU(up[m:], gate[m:])
}

func avx512QuantAct(x []float32, q []int8, s []float32, c []int32) {
	full := min(len(x)/BlockSize, len(s))
	if full > 0 {
		_, _, _ = q[blockBase(full-1)+7*64+3], s[full-1], c[full-1]
		quantActAVX512(&x[0], full, &q[0], &s[0], &c[0])
	}
	quantActFrom(x, q, s, c, full)
}

func avx512AttnScoresF16(q []float32, keys []uint16, stride, n int, s []float32) {
	d := len(q)
	if n == 0 || d == 0 {
		clear(s[:n])
		return
	}
	_, _ = keys[(n-1)*stride+d-1], s[n-1]
	attnScoresF16AVX512(&q[0], &keys[0], stride, n, d, &s[0])
}

func avx512AttnWeightedSumF16(p []float32, values []uint16, stride, n int, out []float32) {
	d := len(out)
	if n == 0 || d == 0 {
		clear(out)
		return
	}
	_, _ = values[(n-1)*stride+d-1], p[n-1]
	attnWeightedSumF16AVX512(&p[0], &values[0], stride, n, d, &out[0])
}

func avx512AttnScores(q, keys []float32, stride, n int, s []float32) {
	d := len(q)
	if n == 0 || d == 0 {
		clear(s[:n])
		return
	}
	_, _ = keys[(n-1)*stride+d-1], s[n-1]
	attnScoresAVX512(&q[0], &keys[0], stride, n, d, &s[0])
}

func avx512AttnWeightedSum(p, values []float32, stride, n int, out []float32) {
	d := len(out)
	if n == 0 || d == 0 {
		clear(out)
		return
	}
	_, _ = values[(n-1)*stride+d-1], p[n-1]
	attnWeightedSumAVX512(&p[0], &values[0], stride, n, d, &out[0])
}

func avx512DotF32(w, x []float32) float32 {
	if len(w) == 0 {
		return 0
	}
	x = x[:len(w)]
	return dotF32AVX512(&w[0], &x[0], len(w))
}

func avx512DotF32x4(w, x []float32, stride int) (out [4]float32) {
	if len(w) == 0 {
		return out
	}
	_ = x[3*stride+len(w)-1]
	dotF32x4AVX512(&w[0], &x[0], stride, len(w), &out)
	return out
}

func avx512DotBF16(w []uint16, x []float32) float32 {
	if len(w) == 0 {
		return 0
	}
	x = x[:len(w)]
	return dotBF16AVX512(&w[0], &x[0], len(w))
}

func avx512DotBF16x4(w []uint16, x []float32, stride int) (out [4]float32) {
	if len(w) == 0 {
		return out
	}
	_ = x[3*stride+len(w)-1]
	dotBF16x4AVX512(&w[0], &x[0], stride, len(w), &out)
	return out
}

func vnniDotQ8(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) float32 {
	ng := len(ws) / GroupBlocks
	if ng == 0 {
		return 0
	}
	_, _, _, _ = w[ng*groupBytes-1], xq[ng*groupBytes-1], xs[ng*GroupBlocks-1], xc[ng*GroupBlocks-1]
	return dotQ8VNNI(&w[0], &ws[0], &xq[0], &xs[0], &xc[0], ng)
}

func vnniDotQ8x4(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) (out [4]float32) {
	ng := len(ws) / GroupBlocks
	if ng == 0 {
		return out
	}
	_, _, _, _ = w[ng*groupBytes-1], xq[4*ng*groupBytes-1], xs[4*ng*GroupBlocks-1], xc[4*ng*GroupBlocks-1]
	dotQ8x4VNNI(&w[0], &ws[0], &xq[0], &xs[0], &xc[0], ng, &out)
	return out
}

func vnniDotQ8x4r2(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) (out [8]float32) {
	ng := len(ws) / (2 * GroupBlocks)
	if ng == 0 {
		return out
	}
	_, _, _, _ = w[2*ng*groupBytes-1], xq[4*ng*groupBytes-1], xs[4*ng*GroupBlocks-1], xc[4*ng*GroupBlocks-1]
	dotQ8x4r2VNNI(&w[0], &ws[0], &xq[0], &xs[0], &xc[0], ng, &out)
	return out
}

func avx2DotF32(w, x []float32) float32 {
	n := len(w)
	x = x[:n]
	var s float32
	m := n &^ 7
	if m > 0 {
		s = dotF32AVX2(&w[0], &x[0], m)
	}
	for i := m; i < n; i++ {
		s += w[i] * x[i]
	}
	return s
}

func avx2DotF32x4(w, x []float32, stride int) (out [4]float32) {
	n := len(w)
	if n == 0 {
		return out
	}
	_ = x[3*stride+n-1]
	m := n &^ 7
	if m > 0 {
		dotF32x4AVX2(&w[0], &x[0], stride, m, &out)
	}
	for t := range out {
		xt := x[t*stride : t*stride+n]
		for i := m; i < n; i++ {
			out[t] += w[i] * xt[i]
		}
	}
	return out
}

func avx2DotBF16(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	var s float32
	m := n &^ 7
	if m > 0 {
		s = dotBF16AVX2(&w[0], &x[0], m)
	}
	for i := m; i < n; i++ {
		s += BF16ToF32(w[i]) * x[i]
	}
	return s
}

func avx2DotBF16x4(w []uint16, x []float32, stride int) (out [4]float32) {
	n := len(w)
	if n == 0 {
		return out
	}
	_ = x[3*stride+n-1]
	m := n &^ 7
	if m > 0 {
		dotBF16x4AVX2(&w[0], &x[0], stride, m, &out)
	}
	for t := range out {
		xt := x[t*stride : t*stride+n]
		for i := m; i < n; i++ {
			out[t] += BF16ToF32(w[i]) * xt[i]
		}
	}
	return out
}

func avx2DotQ8(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) float32 {
	ng := len(ws) / GroupBlocks
	if ng == 0 {
		return 0
	}
	_, _, _ = w[ng*groupBytes-1], xq[ng*groupBytes-1], xs[ng*GroupBlocks-1]
	return dotQ8AVX2(&w[0], &ws[0], &xq[0], &xs[0], ng)
}

func avx2DotQ8x4(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) (out [4]float32) {
	ng := len(ws) / GroupBlocks
	if ng == 0 {
		return out
	}
	_, _, _ = w[ng*groupBytes-1], xq[4*ng*groupBytes-1], xs[4*ng*GroupBlocks-1]
	dotQ8x4AVX2(&w[0], &ws[0], &xq[0], &xs[0], ng, &out)
	return out
}

func avx2Axpy(a float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	m := n &^ 7
	if m > 0 {
		axpyAVX2(a, &x[0], &y[0], m)
	}
	for i := m; i < n; i++ {
		y[i] += a * x[i]
	}
}
