package kernels

import "fmt"

// tokenBlockBytes bounds the activation bytes one pass over a block of weight rows
// reads, so that a block of activations stays in L2 while the rows stream past.
const tokenBlockBytes = 512 << 10

// scratch holds the state of one product while the pool runs it.
type scratch struct {
	m        *Matrix
	x, y     []float32
	n        int
	tokBlock int
	q        q8Vec
	rangeFn  func(start, end int) // p.mulRange, bound once
	quantFn  func(start, end int) // p.quantRange, bound once
}

// MatVec computes y = W·x: y[r] = Σ_c W[r][c]·x[c], with len(x) == m.Cols and
// len(y) == m.Rows, splitting the rows over the pool's threads. For Q8 matrices x is
// first quantized to 8 bits per block (once, shared by all rows). It does not allocate
// once the pool's buffers have grown to the largest shape. It panics if the lengths do
// not match (a programming error, like an index out of range).
func MatVec(p *Pool, y []float32, m *Matrix, x []float32) {
	MatMul(p, y, m, x, 1)
}

// MatMul computes n products at once: for each activation row t < n,
// y[t*Rows + r] = Σ_c W[r][c]·x[t*Cols + c]. x holds n rows of m.Cols values and y n
// rows of m.Rows values. Each weight row is read from memory once per call and used
// for all n rows (in cache-sized blocks of activation rows), which is what prefill and
// batched decoding need. Rows are split over the pool's threads. It panics if the
// lengths do not match.
func MatMul(p *Pool, y []float32, m *Matrix, x []float32, n int) {
	if n < 0 || len(x) != n*m.Cols || len(y) != n*m.Rows {
		panic(fmt.Sprintf("kernels.MatMul: %dx%d matrix, n=%d, len(x)=%d, len(y)=%d", m.Rows, m.Cols, n, len(x), len(y)))
	}
	if err := m.check(); err != nil {
		panic("kernels.MatMul: " + err.Error())
	}
	if n == 0 || m.Rows == 0 {
		return
	}
	p = p.lock()
	defer p.mu.Unlock()
	s := &p.scratch
	if s.rangeFn == nil {
		s.rangeFn, s.quantFn = p.mulRange, p.quantRange
	}
	s.m, s.x, s.y, s.n = m, x, y, n
	tokenBytes, align := m.Cols*4, 1
	if m.Format == Q8 {
		align = 2 // the Q8 kernels take rows in pairs
		s.q.prepare(n, m.Cols)
		p.parallelLocked(n, 1, s.quantFn)
		tokenBytes = m.Groups * (groupBytes + 8*GroupBlocks)
	}
	s.tokBlock = max(4, tokenBlockBytes/max(1, tokenBytes)/4*4)
	p.parallelLocked(m.Rows, align, s.rangeFn)
	s.m, s.x, s.y = nil, nil, nil
}

// quantRange quantizes activation rows [start, end) of the product in p.scratch.
func (p *Pool) quantRange(start, end int) {
	s := &p.scratch
	cols := s.m.Cols
	for t := start; t < end; t++ {
		s.q.quantizeRow(t, s.x[t*cols:(t+1)*cols])
	}
}

// mulRange computes output rows [start, end) of the product described by p.scratch.
func (p *Pool) mulRange(start, end int) {
	s := &p.scratch
	m, n, rows, cols := s.m, s.n, s.m.Rows, s.m.Cols
	x, y := s.x, s.y
	k := &active
	for t0 := 0; t0 < n; t0 += s.tokBlock {
		t1 := min(t0+s.tokBlock, n)
		for r := start; r < end; r++ {
			t := t0
			switch m.Format {
			case F32:
				w := m.F32[r*cols : (r+1)*cols]
				for ; t+4 <= t1; t += 4 {
					out := k.dotF32x4(w, x[t*cols:(t+4)*cols], cols)
					y[t*rows+r], y[(t+1)*rows+r], y[(t+2)*rows+r], y[(t+3)*rows+r] = out[0], out[1], out[2], out[3]
				}
				for ; t < t1; t++ {
					y[t*rows+r] = k.dotF32(w, x[t*cols:(t+1)*cols])
				}
			case BF16:
				w := m.BF16[r*cols : (r+1)*cols]
				for ; t+4 <= t1; t += 4 {
					out := k.dotBF16x4(w, x[t*cols:(t+4)*cols], cols)
					y[t*rows+r], y[(t+1)*rows+r], y[(t+2)*rows+r], y[(t+3)*rows+r] = out[0], out[1], out[2], out[3]
				}
				for ; t < t1; t++ {
					y[t*rows+r] = k.dotBF16(w, x[t*cols:(t+1)*cols])
				}
			case Q8:
				nsc := m.Groups * GroupBlocks
				if r+1 < end && t1-t0 >= 4 { // two rows at once share the activation loads
					w2 := m.Q8[r*m.Stride : (r+2)*m.Stride]
					ws2 := m.Scales[r*nsc : (r+2)*nsc]
					// Token quads go forwards for even row pairs and backwards for odd
					// ones, so that each pair starts on the quad the last pair ended on,
					// still in L1 (wide matrices' 8 rows do not all fit).
					quads := (t1 - t0) / 4
					for qi := 0; qi < quads; qi++ {
						tq := t0 + 4*qi
						if (r-start)&2 != 0 {
							tq = t0 + 4*(quads-1-qi)
						}
						xq, xs, xc := s.q.rows4(tq)
						out := k.dotQ8x4r2(w2, ws2, xq, xs, xc)
						for i := 0; i < 4; i++ {
							y[(tq+i)*rows+r], y[(tq+i)*rows+r+1] = out[i], out[4+i]
						}
					}
					t += 4 * quads
					for ; t < t1; t++ {
						xq, xs, xc := s.q.row(t)
						y[t*rows+r] = k.dotQ8(w2[:m.Stride], ws2[:nsc], xq, xs, xc)
						y[t*rows+r+1] = k.dotQ8(w2[m.Stride:], ws2[nsc:], xq, xs, xc)
					}
					r++
					continue
				}
				w := m.Q8[r*m.Stride : (r+1)*m.Stride]
				ws := m.Scales[r*nsc : (r+1)*nsc]
				for ; t+4 <= t1; t += 4 {
					xq, xs, xc := s.q.rows4(t)
					out := k.dotQ8x4(w, ws, xq, xs, xc)
					y[t*rows+r], y[(t+1)*rows+r], y[(t+2)*rows+r], y[(t+3)*rows+r] = out[0], out[1], out[2], out[3]
				}
				for ; t < t1; t++ {
					xq, xs, xc := s.q.row(t)
					y[t*rows+r] = k.dotQ8(w, ws, xq, xs, xc)
				}
			}
		}
	}
}
