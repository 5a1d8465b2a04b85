package kernels

import (
	"fmt"
	"math"
)

// Format is how a Matrix stores its weights.
type Format int

const (
	// F32 stores IEEE float32 weights: 4 bytes per weight.
	F32 Format = iota
	// BF16 stores bfloat16 weights (the upper 16 bits of a float32): 2 bytes per weight,
	// converted to float32 exactly inside the kernels.
	BF16
	// Q8 stores 8-bit block-quantized weights: per row, blocks of BlockSize weights share
	// one float32 scale d, and w ≈ d·q with q in −127…127 (round to nearest, ties to
	// even). 1.125 bytes per weight, plus in-memory padding of each row to a multiple
	// of 512 weights (none for 2560 columns, 5% for 6826).
	Q8
)

// BlockSize is the number of weights that share one scale in the Q8 format.
const BlockSize = 32

func (f Format) String() string {
	switch f {
	case F32:
		return "f32"
	case BF16:
		return "bf16"
	case Q8:
		return "q8_0"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat maps a --btlm.quant style name to a Format: "none", "f32" or "fp32" →
// F32; "bf16" → BF16; "q8_0" or "q8" → Q8.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "none", "f32", "fp32", "float32":
		return F32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "q8_0", "q8":
		return Q8, nil
	}
	return 0, fmt.Errorf("unknown weight format %q (want none, bf16 or q8_0)", s)
}

// Matrix is a row-major weight matrix [Rows][Cols] in one of the Formats. Only the
// fields of its Format are set.
//
// Q8 layout (structure of arrays, interleaved for VPDPBUSD): each row is cut into
// blocks of BlockSize weights, and the blocks into groups of GroupBlocks (16) blocks.
// A group is 512 bytes: eight 64-byte chunks, where chunk k holds, for each block
// i < 16 of the group, its weights 4k..4k+3 at bytes 4i..4i+3. So one 512-bit
// multiply-add over the eight chunks leaves block i's dot product in 32-bit lane i.
// Weight bytes are stored biased, q+128 (128 means 0). Row r occupies
// Q8[r*Stride : (r+1)*Stride] with Stride = Groups*512, and its scales
// Scales[r*Groups*16 : (r+1)*Groups*16], one per block. Blocks past the end of the row
// (when Cols is not a multiple of 512) and weights past Cols in the last, partial block
// are zero (byte 128, scale 0): the padding exists only in memory, never in a
// checkpoint, and a partial block's scale comes from its real weights only.
type Matrix struct {
	Rows, Cols int
	Format     Format

	F32  []float32 // F32: Rows*Cols weights
	BF16 []uint16  // BF16: Rows*Cols bfloat16 bit patterns

	Q8     []uint8   // Q8: Rows*Stride biased, interleaved bytes
	Scales []float32 // Q8: Rows*Groups*GroupBlocks block scales
	Groups int       // Q8: groups per row, ceil(Cols/(GroupBlocks*BlockSize))
	Stride int       // Q8: bytes per row in Q8, Groups*GroupBlocks*BlockSize
}

func checkShape(rows, cols, have int) error {
	if rows < 0 || cols < 0 {
		return fmt.Errorf("kernels: negative matrix shape %dx%d", rows, cols)
	}
	if rows != 0 && cols > math.MaxInt/rows {
		return fmt.Errorf("kernels: matrix shape %dx%d overflows", rows, cols)
	}
	if have != rows*cols {
		return fmt.Errorf("kernels: %dx%d matrix needs %d values, got %d", rows, cols, rows*cols, have)
	}
	return nil
}

// NewF32 wraps data (row-major, rows*cols values, not copied) as an F32 matrix.
func NewF32(rows, cols int, data []float32) (*Matrix, error) {
	if err := checkShape(rows, cols, len(data)); err != nil {
		return nil, err
	}
	return &Matrix{Rows: rows, Cols: cols, Format: F32, F32: data}, nil
}

// NewBF16 wraps data (row-major bfloat16 bit patterns, rows*cols values, not copied)
// as a BF16 matrix.
func NewBF16(rows, cols int, data []uint16) (*Matrix, error) {
	if err := checkShape(rows, cols, len(data)); err != nil {
		return nil, err
	}
	return &Matrix{Rows: rows, Cols: cols, Format: BF16, BF16: data}, nil
}

// check reports whether m's fields are consistent with its Format and shape.
func (m *Matrix) check() error {
	ok := false
	switch m.Format {
	case F32:
		ok = len(m.F32) == m.Rows*m.Cols
	case BF16:
		ok = len(m.BF16) == m.Rows*m.Cols
	case Q8:
		ok = m.Groups == q8Groups(m.Cols) && m.Stride == m.Groups*groupBytes &&
			len(m.Q8) == m.Rows*m.Stride && len(m.Scales) == m.Rows*m.Groups*GroupBlocks
	}
	if !ok {
		return fmt.Errorf("malformed %v matrix %dx%d", m.Format, m.Rows, m.Cols)
	}
	return nil
}

// Bytes reports the memory the matrix's weights occupy.
func (m *Matrix) Bytes() int64 {
	return int64(len(m.F32))*4 + int64(len(m.BF16))*2 + int64(len(m.Q8)) + int64(len(m.Scales))*4
}

// Row writes row r of the matrix, converted to float32, into dst[:Cols] and returns it.
// Q8 rows come back dequantized (d·q).
func (m *Matrix) Row(r int, dst []float32) []float32 {
	dst = dst[:m.Cols]
	switch m.Format {
	case F32:
		copy(dst, m.F32[r*m.Cols:(r+1)*m.Cols])
	case BF16:
		for c, v := range m.BF16[r*m.Cols : (r+1)*m.Cols] {
			dst[c] = BF16ToF32(v)
		}
	case Q8:
		q := m.Q8[r*m.Stride:]
		s := m.Scales[r*m.Groups*GroupBlocks:]
		for c := range dst {
			dst[c] = s[c/BlockSize] * float32(int(q[q8Offset(c)])-128)
		}
	}
	return dst
}

// Quantize returns a copy of m stored in format f (f == m.Format gives a copy too).
// F32 → BF16 rounds to nearest even; → Q8 quantizes each block with scale
// max|w|/127 and rounds to nearest (ties to even). It converts row by row, so the peak extra memory is
// the new matrix plus one row per thread. It is QuantizeParallel with a nil pool.
func (m *Matrix) Quantize(f Format) (*Matrix, error) { return m.QuantizeParallel(nil, f) }

// QuantizeParallel is Quantize with the rows split over the pool's threads (for
// load-time conversion of large matrices).
func (m *Matrix) QuantizeParallel(p *Pool, f Format) (*Matrix, error) {
	out := &Matrix{Rows: m.Rows, Cols: m.Cols, Format: f}
	switch f {
	case F32:
		out.F32 = make([]float32, m.Rows*m.Cols)
	case BF16:
		out.BF16 = make([]uint16, m.Rows*m.Cols)
	case Q8:
		out.Groups = q8Groups(m.Cols)
		out.Stride = out.Groups * groupBytes
		out.Q8 = make([]uint8, m.Rows*out.Stride)
		out.Scales = make([]float32, m.Rows*out.Groups*GroupBlocks)
	default:
		return nil, fmt.Errorf("kernels: cannot convert to %v", f)
	}
	p.Parallel(m.Rows, func(start, end int) {
		row := make([]float32, m.Cols)
		var corr []int32
		if f == Q8 {
			corr = make([]int32, out.Groups*GroupBlocks)
		}
		for r := start; r < end; r++ {
			m.Row(r, row)
			switch f {
			case F32:
				copy(out.F32[r*m.Cols:], row)
			case BF16:
				dst := out.BF16[r*m.Cols : (r+1)*m.Cols]
				for c, v := range row {
					dst[c] = F32ToBF16(v)
				}
			case Q8:
				nsc := out.Groups * GroupBlocks
				quantizeRow(out.Q8[r*out.Stride:(r+1)*out.Stride], out.Scales[r*nsc:(r+1)*nsc], row, corr)
			}
		}
	})
	return out, nil
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// roundClamp127 rounds to nearest, ties to even (what VCVTPS2DQ does), and clamps to
// −127…127 (never −128, which the SIMD sign tricks cannot represent). NaN maps to 0.
func roundClamp127(v float32) int {
	f := math.RoundToEven(float64(v))
	switch {
	case f >= 127:
		return 127
	case f <= -127:
		return -127
	case f == f:
		return int(f)
	}
	return 0 // NaN
}

// BF16ToF32 converts a bfloat16 bit pattern to float32 (exact).
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToBF16 converts a float32 to bfloat16 with round-to-nearest-even; NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 { // NaN: keep it a (quiet) NaN
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}
