package kernels

import (
	"fmt"
	"math"
)

// Dot returns Σ a[i]·b[i] over len(a) elements; b must be at least as long.
func Dot(a, b []float32) float32 { return active.dotF32(a, b[:len(a)]) }

// Axpy computes y[i] += alpha·x[i] for i < len(x); y must be at least as long.
func Axpy(alpha float32, x, y []float32) { active.axpy(alpha, x, y[:len(x)]) }

// Softmax replaces x by softmax(x) = exp(x_i − max)/Σ exp(x_j − max), computed in
// float64 for the exponentials and the sum. An empty x is left alone.
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
		e := math.Exp(float64(v - mx))
		x[i] = float32(e)
		sum += e
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
	if len(out) != d || n < 0 || len(scores) < n || (n > 0 && (stride < d || len(keys) < (n-1)*stride+d || len(values) < (n-1)*stride+d)) {
		panic(fmt.Sprintf("kernels.AttentionHead: d=%d len(out)=%d n=%d stride=%d len(keys)=%d len(values)=%d len(scores)=%d",
			d, len(out), n, stride, len(keys), len(values), len(scores)))
	}
	clear(out)
	if n == 0 {
		return
	}
	k := &active
	sc := scores[:n]
	last := float32(n - 1)
	for j := range sc {
		sc[j] = scale*k.dotF32(q, keys[j*stride:j*stride+d]) - slope*(last-float32(j))
	}
	Softmax(sc)
	for j, pj := range sc {
		k.axpy(pj, values[j*stride:j*stride+d], out)
	}
}
