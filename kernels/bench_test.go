package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks on BTLM-3B's matrix shapes (rows = outputs, cols = inputs). Decode-like
// benchmarks stream: they rotate through enough copies of the matrix that the weights
// cannot stay in the last-level cache (streamBytes in all), as a real decode step reads
// 2.6 G weights once each. Reported metrics: GB/s of weight bytes read and GFLOP/s
// (2·rows·cols·n per call). Run e.g.
//
//	go test -run '^$' -bench 'MatVec' -benchtime 40x ./kernels/

// streamBytes is the total size of the rotated weight copies (well above any L3).
const streamBytes = 320 << 20

var benchShapes = [][2]int{{2560, 2560}, {7680, 2560}, {6826, 2560}, {2560, 6826}, {50257, 2560}}

// benchCopies builds one random rows×cols matrix in format f and enough copies of it
// (distinct memory) to exceed streamBytes.
func benchCopies(rows, cols int, f Format) []*Matrix {
	r := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
	data := make([]float32, rows*cols)
	for i := range data {
		data[i] = float32(r.NormFloat64() * 0.02)
	}
	base, _ := NewF32(rows, cols, data)
	m, _ := base.Quantize(f)
	base, data = nil, nil
	n := max(1, int((streamBytes+m.Bytes()-1)/m.Bytes()))
	copies := []*Matrix{m}
	for len(copies) < n {
		c := *m
		c.F32 = append([]float32(nil), m.F32...)
		c.BF16 = append([]uint16(nil), m.BF16...)
		c.Q8 = append([]uint8(nil), m.Q8...)
		c.Scales = append([]float32(nil), m.Scales...)
		copies = append(copies, &c)
	}
	return copies
}

func benchMatMul(b *testing.B, copies []*Matrix, n, threads int) {
	m := copies[0]
	p := NewPool(threads)
	defer p.Close()
	r := rand.New(rand.NewPCG(1, 1))
	x := randF32(r, n*m.Cols)
	y := make([]float32, n*m.Rows)
	MatMul(p, y, m, x, n) // grow scratch
	b.SetBytes(m.Bytes())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		MatMul(p, y, copies[i%len(copies)], x, n)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(m.Bytes())*float64(b.N)/sec/1e9, "GB/s")
	b.ReportMetric(2*float64(m.Rows)*float64(m.Cols)*float64(n)*float64(b.N)/sec/1e9, "GFLOP/s")
}

// BenchmarkMatVec is the decode product (one activation row), streaming from DRAM.
func BenchmarkMatVec(b *testing.B) {
	for _, f := range []Format{F32, BF16, Q8} {
		for _, sh := range benchShapes {
			b.Run(fmt.Sprintf("%v/%dx%d", f, sh[0], sh[1]), func(b *testing.B) {
				copies := benchCopies(sh[0], sh[1], f)
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("T%d", threads), func(b *testing.B) { benchMatMul(b, copies, 1, threads) })
				}
			})
		}
	}
}

// BenchmarkMatMul is the batched product: n = 8 (eight concurrent decode streams share
// one pass over the weights) and n = 128 (a 128-token prompt), on all threads.
func BenchmarkMatMul(b *testing.B) {
	for _, f := range []Format{F32, BF16, Q8} {
		for _, sh := range [][2]int{{2560, 2560}, {6826, 2560}, {2560, 6826}} {
			b.Run(fmt.Sprintf("%v/%dx%d", f, sh[0], sh[1]), func(b *testing.B) {
				copies := benchCopies(sh[0], sh[1], f)
				for _, n := range []int{8, 128} {
					b.Run(fmt.Sprintf("n%d", n), func(b *testing.B) { benchMatMul(b, copies, n, 0) })
				}
			})
		}
	}
}

// BenchmarkAttentionHead is one head (d = 80) of one query over a cached context, with
// the cache laid out position-major (stride 2560: all heads of a position together) and
// head-major (stride 80: one head's positions contiguous), in float32 and half
// precision. Heads are visited in turn, as one layer's attention does.
func BenchmarkAttentionHead(b *testing.B) {
	for _, kv := range []string{"f32", "f16"} {
		for _, n := range []int{128, 2048} {
			for _, stride := range []int{2560, 80} {
				b.Run(fmt.Sprintf("%s/ctx%d/stride%d", kv, n, stride), func(b *testing.B) {
					r := rand.New(rand.NewPCG(2, 2))
					d, heads := 80, 32
					keys, values := randF32(r, heads*n*d), randF32(r, heads*n*d)
					keysH, valuesH := make([]uint16, len(keys)), make([]uint16, len(values))
					ConvertF16(keysH, keys)
					ConvertF16(valuesH, values)
					q := randF32(r, d)
					out, scores := make([]float32, d), make([]float32, n)
					elem := int64(4)
					if kv == "f16" {
						elem = 2
					}
					b.SetBytes(2 * int64(n*d) * elem)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						h := i % heads
						base := h * d // position-major: head h's columns
						if stride == d {
							base = h * n * d // head-major: head h's block
						}
						if kv == "f16" {
							AttentionHeadF16(out, q, keysH[base:], valuesH[base:], stride, n, 1.0/80, 0.5, scores)
						} else {
							AttentionHead(out, q, keys[base:], values[base:], stride, n, 1.0/80, 0.5, scores)
						}
					}
					b.ReportMetric(4*float64(n*d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkQuantize is the load-time conversion of one 2560×2560 matrix.
func BenchmarkQuantize(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	m, _ := NewF32(2560, 2560, randF32(r, 2560*2560))
	for _, f := range []Format{BF16, Q8} {
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(m.Bytes())
			for i := 0; i < b.N; i++ {
				m.Quantize(f)
			}
		})
	}
}

// BenchmarkPoolParallel is the fixed cost of one parallel call (waking the workers and
// waiting for them) with an empty body.
func BenchmarkPoolParallel(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("T%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			fn := func(start, end int) {}
			for i := 0; i < b.N; i++ {
				p.Parallel(1024, fn)
			}
		})
	}
}

// BenchmarkDecodeStep streams the matrices of L distinct BTLM-3B layers (qkv, attention
// out, up, gate, down) through MatMul, as one decode step (n = 1), a batched step of 8
// sequences or a 128-token prefill would, and extrapolates to the whole model (32
// layers plus the tied 50257×2560 head, by bytes). Attention, norms and the rest of the
// step are not included: "tok/s" is the matmul-only bound. Run e.g.
//
//	go test -run '^$' -bench 'DecodeStep/q8_0' -benchtime 5x ./kernels/
func BenchmarkDecodeStep(b *testing.B) {
	const layers = 4 // distinct memory: 0.36 GB (q8) to 1.26 GB (f32), well above L3
	shapes := [][2]int{{7680, 2560}, {2560, 2560}, {6826, 2560}, {6826, 2560}, {2560, 6826}}
	const layerWeights, headWeights = 78643200.0, 50257 * 2560.0
	for _, f := range []Format{Q8, BF16, F32} {
		b.Run(f.String(), func(b *testing.B) {
			var mats []*Matrix
			for _, sh := range shapes {
				base := benchCopies(sh[0], sh[1], f)[0]
				for l := 0; l < layers; l++ {
					c := *base
					c.F32 = append([]float32(nil), base.F32...)
					c.BF16 = append([]uint16(nil), base.BF16...)
					c.Q8 = append([]uint8(nil), base.Q8...)
					c.Scales = append([]float32(nil), base.Scales...)
					mats = append(mats, &c)
				}
			}
			var bytes int64
			for _, m := range mats {
				bytes += m.Bytes()
			}
			r := rand.New(rand.NewPCG(4, 4))
			x := randF32(r, 128*6826)
			y := make([]float32, 128*7680)
			for _, n := range []int{1, 8, 128} {
				if n == 128 && f != Q8 {
					continue
				}
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("n%d/T%d", n, threads), func(b *testing.B) {
						p := NewPool(threads)
						defer p.Close()
						b.SetBytes(bytes)
						for i := 0; i < b.N; i++ {
							for _, m := range mats {
								MatMul(p, y[:n*m.Rows], m, x[:n*m.Cols], n)
							}
						}
						perLayer := b.Elapsed().Seconds() / float64(b.N) / layers
						step := perLayer * (32 + headWeights/layerWeights)
						b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
						b.ReportMetric(float64(n)/step, "tok/s")
					})
				}
			}
		})
	}
}
