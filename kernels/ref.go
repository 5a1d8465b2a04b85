package kernels

// Pure-Go reference kernels. They define what every SIMD kernel must compute (within
// float rounding) and run when the CPU has no supported SIMD or BTLM_NOSIMD=1.

func refDotF32(w, x []float32) float32 {
	x = x[:len(w)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += w[i] * x[i]
		s1 += w[i+1] * x[i+1]
		s2 += w[i+2] * x[i+2]
		s3 += w[i+3] * x[i+3]
	}
	for ; i < len(w); i++ {
		s0 += w[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func refDotF32x4(w, x []float32, stride int) (out [4]float32) {
	for t := range out {
		out[t] = refDotF32(w, x[t*stride:t*stride+len(w)])
	}
	return out
}

func refDotBF16(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += BF16ToF32(w[i]) * x[i]
		s1 += BF16ToF32(w[i+1]) * x[i+1]
		s2 += BF16ToF32(w[i+2]) * x[i+2]
		s3 += BF16ToF32(w[i+3]) * x[i+3]
	}
	for ; i < len(w); i++ {
		s0 += BF16ToF32(w[i]) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func refDotBF16x4(w []uint16, x []float32, stride int) (out [4]float32) {
	for t := range out {
		out[t] = refDotBF16(w, x[t*stride:t*stride+len(w)])
	}
	return out
}

// refDotQ8 is the dot product of a q8 row (interleaved biased bytes w, one scale per
// block in ws) with one quantized activation row (xq in the same layout, block scales
// xs); xc is unused here. Within a group, byte p belongs to block (p/4)%16.
func refDotQ8(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) float32 {
	var sum float32
	for g := 0; g < len(ws)/GroupBlocks; g++ {
		wg := w[g*groupBytes : (g+1)*groupBytes]
		xg := xq[g*groupBytes : (g+1)*groupBytes]
		var acc [GroupBlocks]int32
		for p, q := range wg {
			acc[(p/4)%GroupBlocks] += (int32(q) - 128) * int32(xg[p])
		}
		for b, a := range acc {
			sum += float32(a) * (ws[g*GroupBlocks+b] * xs[g*GroupBlocks+b])
		}
	}
	return sum
}

func refDotQ8x4(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) (out [4]float32) {
	nq, ns := len(ws)/GroupBlocks*groupBytes, len(ws)
	for t := range out {
		out[t] = refDotQ8(w, ws, xq[t*nq:], xs[t*ns:], xc[t*ns:])
	}
	return out
}

func refAxpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}
