package kernels

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
		ok   bool
	}{
		{"none", F32, true}, {"f32", F32, true}, {"fp32", F32, true}, {"bf16", BF16, true},
		{"q8_0", Q8, true}, {"q8", Q8, true}, {"", 0, false}, {"q4_0", 0, false}, {"BF16", 0, false},
	} {
		got, err := ParseFormat(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := NewF32(2, 3, make([]float32, 5)); err == nil {
		t.Error("NewF32 accepted 5 values for 2x3")
	}
	if _, err := NewBF16(-1, 3, nil); err == nil {
		t.Error("NewBF16 accepted a negative shape")
	}
	if _, err := NewF32(math.MaxInt/2, 3, nil); err == nil {
		t.Error("NewF32 accepted an overflowing shape")
	}
	m, err := NewF32(0, 0, nil)
	if err != nil || m.Rows != 0 {
		t.Errorf("NewF32(0,0) = %v, %v", m, err)
	}
	if _, err := m.Quantize(Format(9)); err == nil {
		t.Error("Quantize accepted an unknown format")
	}
}

func TestBF16Conversion(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1.0
		{0x3f808000, 0x3f80}, // halfway, even below: round down
		{0x3f818000, 0x3f82}, // halfway, odd below: round up
		{0x3f808001, 0x3f81}, // above halfway
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // −Inf
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
		{0x80000000, 0x8000}, // −0
	} {
		if got := F32ToBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("F32ToBF16(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
	if nan := BF16ToF32(F32ToBF16(float32(math.NaN()))); nan == nan {
		t.Error("NaN did not stay NaN")
	}
	if nan := BF16ToF32(F32ToBF16(math.Float32frombits(0x7f800001))); nan == nan {
		t.Error("NaN with a low payload became Inf")
	}
	for _, b := range []uint16{0, 0x3f80, 0xc2f7, 0x0001, 0x7f7f} {
		if got := F32ToBF16(BF16ToF32(b)); got != b {
			t.Errorf("bf16 round trip %#x → %#x", b, got)
		}
	}
}

// TestQuantizeQ8 checks the layout and the error bound |w − d·q| ≤ d/2 per weight.
func TestQuantizeQ8(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, cols := range []int{0, 1, 31, 32, 33, 100, 6826} {
		rows := 3
		data := randF32(r, rows*cols)
		if cols > 40 {
			for i := 0; i < 32; i++ { // an all-zero block
				data[i] = 0
			}
			data[40] = 1e6 // a block dominated by one outlier
		}
		m, _ := NewF32(rows, cols, data)
		q, err := m.Quantize(Q8)
		if err != nil {
			t.Fatal(err)
		}
		nb := (cols + 31) / 32
		ng := (cols + 511) / 512
		if q.Groups != ng || q.Stride != ng*512 || len(q.Q8) != rows*ng*512 || len(q.Scales) != rows*ng*16 {
			t.Fatalf("cols=%d: layout groups=%d stride=%d len=%d/%d", cols, q.Groups, q.Stride, len(q.Q8), len(q.Scales))
		}
		row := make([]float32, cols)
		for rr := 0; rr < rows; rr++ {
			q.Row(rr, row)
			real := make([]bool, q.Stride)
			for c := 0; c < cols; c++ {
				real[q8Offset(c)] = true
			}
			for off, isReal := range real {
				b := q.Q8[rr*q.Stride+off]
				if b == 0 {
					t.Fatalf("cols=%d: byte −128 stored", cols)
				}
				if !isReal && b != 128 {
					t.Fatalf("cols=%d: padding byte %d at %d, want 128", cols, b, off)
				}
			}
			for blk := 0; blk < ng*16; blk++ {
				d := q.Scales[rr*ng*16+blk]
				if blk >= nb {
					if d != 0 {
						t.Fatalf("cols=%d: padding block %d has scale %v", cols, blk, d)
					}
					continue
				}
				var amax float32
				for c := blk * 32; c < min(cols, blk*32+32); c++ {
					amax = max(amax, abs32(data[rr*cols+c]))
				}
				if d != amax/127 {
					t.Fatalf("cols=%d block %d: scale %v, want %v", cols, blk, d, amax/127)
				}
				for c := blk * 32; c < min(cols, blk*32+32); c++ {
					if err := math.Abs(float64(row[c] - data[rr*cols+c])); err > float64(d)/2*(1+1e-5) {
						t.Fatalf("cols=%d [%d][%d]: |%v − %v| = %v > d/2 = %v", cols, rr, c, row[c], data[rr*cols+c], err, d/2)
					}
				}
			}
		}
	}
}

func TestQ8Offset(t *testing.T) {
	// The layout is a bijection of [0, 512·g) and puts element 4k+j of block i of a
	// group at byte 64k+4i+j.
	seen := make([]bool, 1024)
	for c := 0; c < 1024; c++ {
		off := q8Offset(c)
		if seen[off] {
			t.Fatalf("offset %d used twice", off)
		}
		seen[off] = true
	}
	for _, tc := range [][2]int{{0, 0}, {1, 1}, {4, 64}, {32, 4}, {33, 5}, {36, 68}, {511, 511}, {512, 512}, {480, 60}, {31, 7*64 + 3}} {
		if got := q8Offset(tc[0]); got != tc[1] {
			t.Errorf("q8Offset(%d) = %d, want %d", tc[0], got, tc[1])
		}
	}
}

// TestQuantizeRoundTrip converts between all formats and checks the values.
func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	data := randF32(r, 5*37)
	m, _ := NewF32(5, 37, data)
	b, _ := m.Quantize(BF16)
	q, _ := b.Quantize(Q8)
	back, _ := q.Quantize(F32)
	if back.Format != F32 || len(back.F32) != len(data) {
		t.Fatalf("round trip layout: %v %d", back.Format, len(back.F32))
	}
	for i, v := range data {
		if b.BF16[i] != F32ToBF16(v) {
			t.Fatalf("bf16[%d] = %#x, want %#x", i, b.BF16[i], F32ToBF16(v))
		}
		if math.Abs(float64(back.F32[i]-v)) > 0.01*(1+math.Abs(float64(v)))+float64(q.Scales[(i/37)*q.Groups*16+(i%37)/32]) {
			t.Fatalf("f32→bf16→q8→f32 [%d]: %v → %v", i, v, back.F32[i])
		}
	}
	if m.Bytes() != int64(len(data))*4 || b.Bytes() != int64(len(data))*2 || q.Bytes() != 5*512+5*16*4 {
		t.Errorf("Bytes: %d %d %d", m.Bytes(), b.Bytes(), q.Bytes())
	}
}

// matmulWant computes the product in float64 from the float32 view of the weights
// (for Q8 the dequantized weights), plus the magnitude Σ|w·x| per output.
func matmulWant(m *Matrix, x []float32, n int) (want, mag []float64) {
	want = make([]float64, n*m.Rows)
	mag = make([]float64, n*m.Rows)
	row := make([]float32, m.Cols)
	for r := 0; r < m.Rows; r++ {
		m.Row(r, row)
		for t := 0; t < n; t++ {
			for c, w := range row {
				p := float64(w) * float64(x[t*m.Cols+c])
				want[t*m.Rows+r] += p
				mag[t*m.Rows+r] += math.Abs(p)
			}
		}
	}
	return want, mag
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	pools := []*Pool{nil, NewPool(1), NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, shape := range [][2]int{{0, 5}, {5, 0}, {1, 1}, {3, 31}, {17, 33}, {9, 64}, {13, 100}, {40, 6826}} {
		rows, cols := shape[0], shape[1]
		m32, _ := NewF32(rows, cols, randF32(r, rows*cols))
		for _, f := range []Format{F32, BF16, Q8} {
			m, _ := m32.Quantize(f)
			for _, n := range []int{0, 1, 2, 4, 5, 9} {
				x := randF32(r, n*cols)
				want, mag := matmulWant(m, x, n)
				for pi, p := range pools {
					y := make([]float32, n*rows)
					for i := range y {
						y[i] = float32(math.NaN()) // every output must be written
					}
					MatMul(p, y, m, x, n)
					for i := range y {
						tol := 2e-6*mag[i] + 1e-6
						if f == Q8 {
							// Activations are quantized too: |Δx| ≤ max|x_block|/254 per value.
							tol = 0.02*mag[i] + 1e-4
						}
						if !(math.Abs(float64(y[i])-want[i]) <= tol) {
							t.Fatalf("%v %dx%d n=%d pool#%d: y[%d] = %v, want %v (tol %v)", f, rows, cols, n, pi, i, y[i], want[i], tol)
						}
					}
					if n == 1 {
						y1 := make([]float32, rows)
						MatVec(p, y1, m, x)
						for i := range y1 {
							if y1[i] != y[i] {
								t.Fatalf("%v %dx%d: MatVec %v != MatMul %v at %d", f, rows, cols, y1[i], y[i], i)
							}
						}
					}
				}
			}
		}
	}
}

// TestMatMulQ8Exact checks the Q8 product against the exact product of the quantized
// weights with the quantized activations: only float rounding may differ.
func TestMatMulQ8Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	rows, cols, n := 23, 6826, 6
	m32, _ := NewF32(rows, cols, randF32(r, rows*cols))
	q, _ := m32.Quantize(Q8)
	x := randF32(r, n*cols)
	var v q8Vec
	v.quantize(x, n, cols)
	y := make([]float32, n*rows)
	p := NewPool(2)
	defer p.Close()
	MatMul(p, y, q, x, n)
	for rr := 0; rr < rows; rr++ {
		for tk := 0; tk < n; tk++ {
			nsc := q.Groups * 16
			want, mag := q8Exact(q.Q8[rr*q.Stride:(rr+1)*q.Stride], q.Scales[rr*nsc:(rr+1)*nsc], &v, tk)
			if !within(y[tk*rows+rr], want, mag) {
				t.Fatalf("[%d][%d] = %v, want %v", tk, rr, y[tk*rows+rr], want)
			}
		}
	}
}

// TestQ8Accuracy measures how close the 8-bit product is to fp32 on BTLM-like data.
func TestQ8Accuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	rows, cols := 64, 2560
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.02)
	}
	x := randF32(r, cols)
	m, _ := NewF32(rows, cols, w)
	q, _ := m.Quantize(Q8)
	y, yq := make([]float32, rows), make([]float32, rows)
	MatVec(nil, y, m, x)
	MatVec(nil, yq, q, x)
	var dot, n1, n2 float64
	for i := range y {
		dot += float64(y[i]) * float64(yq[i])
		n1 += float64(y[i]) * float64(y[i])
		n2 += float64(yq[i]) * float64(yq[i])
	}
	cos := dot / math.Sqrt(n1*n2)
	t.Logf("q8 vs f32 cosine similarity %.6f", cos)
	if cos < 0.9995 {
		t.Errorf("cosine similarity %v < 0.9995", cos)
	}
}

func TestMatMulPanicsOnBadLengths(t *testing.T) {
	m, _ := NewF32(2, 3, make([]float32, 6))
	defer func() {
		if recover() == nil {
			t.Error("MatMul with a short x did not panic")
		}
	}()
	MatMul(nil, make([]float32, 2), m, make([]float32, 2), 1)
}

func TestMatMulPanicsOnMalformedMatrix(t *testing.T) {
	for _, m := range []*Matrix{
		{Rows: 2, Cols: 3, Format: F32, F32: make([]float32, 5)},
		{Rows: 2, Cols: 3, Format: Format(7)},
		{Rows: 2, Cols: 3, Format: Q8, Groups: 1, Stride: 512, Q8: make([]uint8, 512), Scales: make([]float32, 32)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MatMul accepted malformed %v matrix", m.Format)
				}
			}()
			MatVec(nil, make([]float32, 2), m, make([]float32, 3))
		}()
	}
}

func TestMatVecNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	p := NewPool(2)
	defer p.Close()
	m32, _ := NewF32(64, 300, randF32(r, 64*300))
	x := randF32(r, 4*300)
	y := make([]float32, 4*64)
	for _, f := range []Format{F32, BF16, Q8} {
		m, _ := m32.Quantize(f)
		MatMul(p, y, m, x, 4) // grow the scratch buffers
		if a := testing.AllocsPerRun(20, func() { MatVec(p, y[:64], m, x[:300]); MatMul(p, y, m, x, 4) }); a != 0 {
			t.Errorf("%v: %v allocations per call", f, a)
		}
	}
}

func TestPoolParallel(t *testing.T) {
	for _, threads := range []int{0, 1, 2, 5} {
		p := NewPool(threads)
		if threads > 0 && p.Threads() != threads {
			t.Fatalf("Threads() = %d, want %d", p.Threads(), threads)
		}
		for _, n := range []int{-1, 0, 1, 2, 7, 100, 1001} {
			hits := make([]atomic.Int32, max(n, 0))
			p.Parallel(n, func(start, end int) {
				if start >= end {
					t.Errorf("empty range [%d,%d)", start, end)
				}
				for i := start; i < end; i++ {
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("threads=%d n=%d: index %d covered %d times", threads, n, i, h)
				}
			}
		}
		p.Close()
		p.Close() // idempotent
		ran := 0
		p.Parallel(10, func(s, e int) { ran += e - s })
		if ran != 10 {
			t.Fatalf("closed pool ran %d of 10", ran)
		}
	}
	var nilPool *Pool
	if nilPool.Threads() != 1 {
		t.Error("nil pool Threads() != 1")
	}
	sum := 0
	nilPool.Parallel(5, func(s, e int) { sum += e - s })
	if sum != 5 {
		t.Errorf("nil pool ran %d of 5", sum)
	}
}

func TestPoolUsesWorkers(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	// The chunk starting at 0 waits (up to a generous deadline, for a loaded machine)
	// until another chunk has started. While it waits its goroutine is busy, so another
	// chunk can only start on a worker goroutine.
	var started, sawOther atomic.Int32
	p.Parallel(8, func(start, end int) {
		started.Add(1)
		if start != 0 {
			return
		}
		deadline := time.Now().Add(20 * time.Second)
		for started.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Microsecond)
		}
		if started.Load() >= 2 {
			sawOther.Store(1)
		}
	})
	if sawOther.Load() == 0 {
		t.Error("no chunk ran beside the first one on a 2-thread pool")
	}
}

func TestPoolConcurrentCallers(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	p := NewPool(2)
	defer p.Close()
	m32, _ := NewF32(50, 70, randF32(r, 50*70))
	q, _ := m32.Quantize(Q8)
	x := randF32(r, 3*70)
	want := make([]float32, 3*50)
	MatMul(nil, want, q, x, 3)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y := make([]float32, 3*50)
			for it := 0; it < 50; it++ {
				MatMul(p, y, q, x, 3)
				for i := range y {
					if y[i] != want[i] {
						t.Errorf("concurrent MatMul differs at %d: %v vs %v", i, y[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestRoundClamp127(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want int
	}{
		{0, 0}, {0.49999997, 0}, {0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {1.4, 1}, {-1.6, -2},
		{126.5, 126}, {126.6, 127}, {127.4, 127}, {200, 127}, {-200, -127}, {-127.6, -127},
		{float32(math.NaN()), 0}, {float32(math.Inf(1)), 127}, {float32(math.Inf(-1)), -127},
	} {
		if got := roundClamp127(tc.in); got != tc.want {
			t.Errorf("roundClamp127(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
