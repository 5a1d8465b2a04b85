package kernels

import "math"

// F16ToF32 converts an IEEE 754 half-precision bit pattern to float32 (exact).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0: // zero or subnormal: mant·2^−24
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case exp == 0x1f: // Inf or NaN
		if mant != 0 {
			return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
		}
		return math.Float32frombits(sign | 0x7f800000)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToF16 converts a float32 to IEEE 754 half precision, rounding to nearest even;
// values beyond the half range become ±Inf, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int(u>>23&0xff) - 127 + 15
	mant := u & 0x7fffff
	if u&0x7fffffff > 0x7f800000 {
		return sign | 0x7e00
	}
	if exp >= 0x1f {
		return sign | 0x7c00
	}
	if exp <= 0 { // subnormal half (or zero)
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		r := mant >> shift
		rem, half := mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(r)
}

// ConvertF16 writes src converted to half precision into dst[:len(src)] (for storing
// keys and values in a half-precision KV cache).
func ConvertF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = F32ToF16(v)
	}
}

// AttentionHeadF16 is AttentionHead over a KV cache stored in IEEE half precision
// (keys and values as bit patterns, converted exactly to float32 inside the kernels);
// q, out and scores stay float32. A half-precision cache halves the KV memory and the
// bytes each decode step reads.
func AttentionHeadF16(out, q []float32, keys, values []uint16, stride, n int, scale, slope float32, scores []float32) {
	d := len(q)
	checkAttention(d, len(out), n, stride, len(keys), len(values), len(scores))
	if n == 0 {
		clear(out)
		return
	}
	sc := scores[:n]
	active.attnScoresF16(q, keys, stride, n, sc)
	biasSoftmax(sc, scale, slope)
	active.attnWeightedSumF16(sc, values, stride, n, out)
}

func refAttnScoresF16(q []float32, keys []uint16, stride, n int, s []float32) {
	d := len(q)
	for j := range s[:n] {
		k := keys[j*stride : j*stride+d]
		var sum float32
		for i, qv := range q {
			sum += qv * F16ToF32(k[i])
		}
		s[j] = sum
	}
}

func refAttnWeightedSumF16(p []float32, values []uint16, stride, n int, out []float32) {
	clear(out)
	d := len(out)
	for j, pj := range p[:n] {
		v := values[j*stride : j*stride+d]
		for i := range out {
			out[i] += pj * F16ToF32(v[i])
		}
	}
}
