package btlm

import "sync"

// This file holds every weight-matrix product of the forward pass, so that faster or
// quantized kernels can replace them in one place.

// Linear is a dense layer y = W·x + B. W holds Out rows of In float32 values (row o is
// output o's weights), which is the transpose of Hugging Face's Conv1D [in, out] layout
// and the same as nn.Linear's [out, in]. B has Out entries, or is nil.
type Linear struct {
	In, Out int
	W       []float32
	B       []float32
}

// workers splits loops over goroutines.
type workers struct{ n int }

// run calls fn on contiguous chunks of [0, n), in parallel when n is large enough.
func (p workers) run(n, minChunk int, fn func(lo, hi int)) {
	k := p.n
	if minChunk < 1 {
		minChunk = 1
	}
	if max := n / minChunk; k > max {
		k = max
	}
	if k <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(k)
	for i := 0; i < k; i++ {
		lo, hi := i*n/k, (i+1)*n/k
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// linear computes out[t·Out+o] = Σ_i x[t·In+i]·W[o·In+i] + B[o] for the rows tokens of
// x, splitting the output units across the workers. Each weight row is read once for
// all tokens.
func linear(p workers, out, x []float32, w *Linear, rows int) {
	in, nOut := w.In, w.Out
	x = x[:rows*in]
	out = out[:rows*nOut]
	p.run(nOut, 16, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			wr := w.W[o*in : (o+1)*in]
			var b float32
			if w.B != nil {
				b = w.B[o]
			}
			for t := 0; t < rows; t++ {
				out[t*nOut+o] = dot(wr, x[t*in:(t+1)*in]) + b
			}
		}
	})
}

// dot returns Σ a[i]·b[i] with four independent accumulators.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// loadConv1D reads a Hugging Face Conv1D layer (weight [in, out], bias [out]) into a
// Linear, transposing the weight. scratch is reused between calls.
func (b *binder) loadConv1D(prefix string, in, out int) (Linear, error) {
	wName, err := b.resolve(prefix+".weight", []int{in, out})
	if err != nil {
		return Linear{}, err
	}
	if cap(b.scratch) < in*out {
		b.scratch = make([]float32, in*out)
	}
	tmp := b.scratch[:in*out]
	if err := b.src.ReadFloat32(wName, tmp); err != nil {
		return Linear{}, err
	}
	l := Linear{In: in, Out: out, W: make([]float32, in*out)}
	transpose(l.W, tmp, in, out)
	if l.B, err = b.vector(prefix+".bias", out); err != nil {
		return Linear{}, err
	}
	return l, nil
}

// loadLinearRows reads an [out, in] matrix (nn.Embedding or nn.Linear layout) without a
// bias.
func (b *binder) loadLinearRows(name string, out, in int) (Linear, error) {
	w, err := b.matrix(name, out, in)
	if err != nil {
		return Linear{}, err
	}
	return Linear{In: in, Out: out, W: w}, nil
}

// transpose writes the [rows][cols] matrix src into dst as [cols][rows], in tiles so
// that both sides stay in cache.
func transpose(dst, src []float32, rows, cols int) {
	const tile = 32
	for r0 := 0; r0 < rows; r0 += tile {
		r1 := min(r0+tile, rows)
		for c0 := 0; c0 < cols; c0 += tile {
			c1 := min(c0+tile, cols)
			for r := r0; r < r1; r++ {
				for c := c0; c < c1; c++ {
					dst[c*rows+r] = src[r*cols+c]
				}
			}
		}
	}
}
