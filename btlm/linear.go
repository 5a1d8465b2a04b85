package btlm

import (
	"fmt"

	"github.com/btlm-miner/btlm-miner/kernels"
)

// This file holds every weight-matrix product of the forward pass and the conversion of
// checkpoint weights into the kernels' formats (fp32, bf16 or q8_0), done tensor by
// tensor at load time.

// Linear is a dense layer y = W·x + B. W holds Out rows of In weights (row o is output
// o's weights) in the model's weight format, which is the transpose of Hugging Face's
// Conv1D [in, out] layout and the same as nn.Linear's [out, in]. B has Out entries, or
// is nil.
type Linear struct {
	In, Out int
	W       *kernels.Matrix
	B       []float32
}

// linear computes out[t·Out+o] = Σ_i x[t·In+i]·W[o·In+i] + B[o] for the rows tokens of
// x. Each weight row is read once for all the rows (kernels.MatMul); the output units
// are split over the pool's threads.
func linear(p *kernels.Pool, out, x []float32, w *Linear, rows int) {
	out = out[:rows*w.Out]
	kernels.MatMul(p, out, w.W, x[:rows*w.In], rows)
	if w.B == nil {
		return
	}
	for t := 0; t < rows; t++ {
		addInPlace(out[t*w.Out:(t+1)*w.Out], w.B)
	}
}

// converter turns checkpoint tensors into kernels matrices of one format, reusing two
// float32 scratch buffers so that at most one tensor's float32 copy (plus its
// transpose) exists at a time.
type converter struct {
	format     kernels.Format
	pool       *kernels.Pool
	read, tran []float32
}

// matrix converts rows×cols float32 values (row-major, nn.Linear layout) into the
// converter's format. When the format is F32 and owned is true, data becomes the
// matrix without a copy.
func (c *converter) matrix(rows, cols int, data []float32, owned bool) (*kernels.Matrix, error) {
	f32, err := kernels.NewF32(rows, cols, data)
	if err != nil {
		return nil, err
	}
	if c.format == kernels.F32 {
		if owned {
			return f32, nil
		}
		return f32.Quantize(kernels.F32)
	}
	return f32.QuantizeParallel(c.pool, c.format)
}

func (c *converter) buffers(n int) (read, tran []float32) {
	if cap(c.read) < n {
		c.read = make([]float32, n)
	}
	if cap(c.tran) < n {
		c.tran = make([]float32, n)
	}
	return c.read[:n], c.tran[:n]
}

// release drops the scratch buffers (call after a large one-off tensor).
func (c *converter) release() { c.read, c.tran = nil, nil }

// loadConv1D reads a Hugging Face Conv1D layer (weight [in, out], bias [out]) into a
// Linear, transposing the weight and converting it to the model's format.
func (b *binder) loadConv1D(prefix string, in, out int) (Linear, error) {
	wName, err := b.resolve(prefix+".weight", []int{in, out})
	if err != nil {
		return Linear{}, err
	}
	read, tran := b.conv.buffers(in * out)
	if err := b.src.ReadFloat32(wName, read); err != nil {
		return Linear{}, err
	}
	owned := false
	if b.conv.format == kernels.F32 {
		tran, owned = make([]float32, in*out), true
	}
	parallelRange(out, 64, func(lo, hi int) { transposeCols(tran, read, in, out, lo, hi) })
	w, err := b.conv.matrix(out, in, tran, owned)
	if err != nil {
		return Linear{}, fmt.Errorf("convert %s: %w", wName, err)
	}
	l := Linear{In: in, Out: out, W: w}
	if l.B, err = b.vector(prefix+".bias", out); err != nil {
		return Linear{}, err
	}
	return l, nil
}

// loadLinearRows reads an [out, in] matrix (nn.Embedding or nn.Linear layout) without a
// bias, converting it to the model's format. Its float32 copy is freed afterwards (it
// is the largest tensor, the embedding).
func (b *binder) loadLinearRows(name string, out, in int) (Linear, error) {
	n, err := b.resolve(name, []int{out, in})
	if err != nil {
		return Linear{}, err
	}
	data := make([]float32, out*in)
	if err := b.src.ReadFloat32(n, data); err != nil {
		return Linear{}, err
	}
	w, err := b.conv.matrix(out, in, data, true)
	if err != nil {
		return Linear{}, fmt.Errorf("convert %s: %w", n, err)
	}
	return Linear{In: in, Out: out, W: w}, nil
}

// transposeCols writes columns [c0, c1) of the [rows][cols] matrix src into dst, which
// is src transposed ([cols][rows]), in tiles so that both sides stay in cache.
func transposeCols(dst, src []float32, rows, cols, cLo, cHi int) {
	const tile = 32
	for r0 := 0; r0 < rows; r0 += tile {
		r1 := min(r0+tile, rows)
		for c0 := cLo; c0 < cHi; c0 += tile {
			c1 := min(c0+tile, cHi)
			for r := r0; r < r1; r++ {
				for c := c0; c < c1; c++ {
					dst[c*rows+r] = src[r*cols+c]
				}
			}
		}
	}
}
