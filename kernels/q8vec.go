package kernels

// q8Vec holds n activation rows quantized for the Q8 kernels: each row is cut into nb
// blocks of BlockSize values (the last one zero-padded), quantized to int8 with one
// scale per block (max|x|/127). For the SIMD kernels each block's scale is also stored
// 8 times (one per 32-bit lane of a block: s), and so is the offset correction c: lane
// i of block b holds −128·(x[4i]+x[4i+1]+x[4i+2]+x[4i+3]) of that block, which cancels
// the +128 bias of the weight bytes when the dot product is taken with VPDPBUSD.
// Row t occupies q[t*nb*32:], s[t*nb*8:] and c[t*nb*8:].
type q8Vec struct {
	n, nb int
	q     []int8
	s     []float32
	c     []int32
}

// quantize fills v with the n rows of x (each cols long).
func (v *q8Vec) quantize(x []float32, n, cols int) {
	nb := (cols + BlockSize - 1) / BlockSize
	v.n, v.nb = n, nb
	v.q = grow(v.q, n*nb*BlockSize)
	v.s = grow(v.s, n*nb*8)
	v.c = grow(v.c, n*nb*8)
	for t := 0; t < n; t++ {
		row := x[t*cols : (t+1)*cols]
		q := v.q[t*nb*BlockSize : (t+1)*nb*BlockSize]
		s := v.s[t*nb*8 : (t+1)*nb*8]
		c := v.c[t*nb*8 : (t+1)*nb*8]
		for b := 0; b < nb; b++ {
			blk := row[b*BlockSize : min((b+1)*BlockSize, cols)]
			var amax float32
			for _, x := range blk {
				amax = max(amax, abs32(x))
			}
			d := amax / 127
			var inv float32
			if d != 0 {
				inv = 1 / d
			}
			qb := q[b*BlockSize : (b+1)*BlockSize]
			for i := range qb {
				qv := 0
				if i < len(blk) {
					qv = roundClamp127(blk[i] * inv)
				}
				qb[i] = int8(qv)
			}
			for l := 0; l < 8; l++ {
				s[b*8+l] = d
				c[b*8+l] = -128 * (int32(qb[4*l]) + int32(qb[4*l+1]) + int32(qb[4*l+2]) + int32(qb[4*l+3]))
			}
		}
	}
}

// row returns the slices of activation row t.
func (v *q8Vec) row(t int) (q []int8, s []float32, c []int32) {
	nb := v.nb
	return v.q[t*nb*BlockSize : (t+1)*nb*BlockSize], v.s[t*nb*8 : (t+1)*nb*8], v.c[t*nb*8 : (t+1)*nb*8]
}

// rows4 returns the slices of activation rows t..t+3.
func (v *q8Vec) rows4(t int) (q []int8, s []float32, c []int32) {
	nb := v.nb
	return v.q[t*nb*BlockSize : (t+4)*nb*BlockSize], v.s[t*nb*8 : (t+4)*nb*8], v.c[t*nb*8 : (t+4)*nb*8]
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
