package kernels

import (
	"fmt"
	"math"
)

// Dot returns Σ a[i]·b[i] over len(a) elements; b must be at least as long.
func Dot(a, b []float32) float32 { return active.dotF32(a, b[:len(a)]) }

// Axpy computes y[i] += alpha·x[i] for i < len(x); y must be at least as long.
func Axpy(alpha float32, x, y []float32) { active.axpy(alpha, x, y[:len(x)]) }

// Softmax replaces x by softmax(x) = exp(x_i − max)/Σ exp(x_j − max), with Exp32 for
// the exponentials and a float64 sum. An empty x is left alone.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := Exp32(v - mx)
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// AttentionHead computes one attention head for one query against n cached positions:
//
//	s_j   = scale·(q·k_j) − slope·(n−1−j)      for j < n
//	p     = softmax(s)
//	out   = Σ_j p_j·v_j
//
// where k_j = keys[j*stride : j*stride+d], v_j likewise in values, and d = len(q) =
// len(out). The query is taken to sit at the last position (n−1), so causal masking is
// the caller choosing n; slope is an ALiBi-style linear distance penalty (0 disables
// it). scores is scratch of at least n values; on return scores[:n] holds p. Nothing
// is allocated. It panics if a slice is too short (a programming error).
func AttentionHead(out, q, keys, values []float32, stride, n int, scale, slope float32, scores []float32) {
	d := len(q)
	checkAttention(d, len(out), n, stride, len(keys), len(values), len(scores))
	if n == 0 {
		clear(out)
		return
	}
	sc := scores[:n]
	active.attnScores(q, keys, stride, n, sc)
	biasSoftmax(sc, scale, slope)
	active.attnWeightedSum(sc, values, stride, n, out)
}

func checkAttention(d, nOut, n, stride, nKeys, nValues, nScores int) {
	if nOut != d || n < 0 || nScores < n || (n > 0 && (stride < d || nKeys < (n-1)*stride+d || nValues < (n-1)*stride+d)) {
		panic(fmt.Sprintf("kernels.AttentionHead: d=%d len(out)=%d n=%d stride=%d len(keys)=%d len(values)=%d len(scores)=%d",
			d, nOut, n, stride, nKeys, nValues, nScores))
	}
}

// biasSoftmax turns raw scores q·k_j into softmax(scale·s_j − slope·(n−1−j)).
func biasSoftmax(sc []float32, scale, slope float32) {
	last := float32(len(sc) - 1)
	for j, s := range sc {
		sc[j] = scale*s - slope*(last-float32(j))
	}
	Softmax(sc)
}

// Exp32 returns e^x in float32 with a relative error below 3e-7 (range reduction by
// ln 2 and a degree-6 polynomial, as in Cephes expf): 0 below about −87.3 (where
// float32 results would be subnormal), +Inf above about 88.7, NaN for NaN.
func Exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	switch {
	case x != x:
		return x
	case x < -87.33654:
		return 0
	case x > 88.72283:
		return float32(math.Inf(1))
	}
	k := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - k*ln2hi - k*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	if k > 127 { // 2^128 is not a float32; x ≤ 88.72 means k ≤ 128
		p *= 2
		k--
	}
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}
