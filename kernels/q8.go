package kernels

import "unsafe"

// Q8 layout helpers and quantization (see Matrix for the layout).

// GroupBlocks is the number of Q8 blocks interleaved into one 512-byte group.
const GroupBlocks = 16

// groupBytes is the size of one Q8 group: GroupBlocks blocks of BlockSize bytes.
const groupBytes = GroupBlocks * BlockSize

// q8Groups is the number of Q8 groups a row of cols values needs.
func q8Groups(cols int) int { return (cols + groupBytes - 1) / groupBytes }

// q8Offset is the byte offset of element c within an interleaved Q8 row.
func q8Offset(c int) int {
	g, inGroup := c/groupBytes, c%groupBytes
	block, e := inGroup/BlockSize, inGroup%BlockSize
	return g*groupBytes + (e/4)*64 + block*4 + e%4
}

// blockOffset[e] is the offset of element e of a block from the block's first byte in
// the interleaved layout (chunk e/4, byte e%4 of the block's lane).
var blockOffset = func() (o [BlockSize]int) {
	for e := range o {
		o[e] = (e/4)*64 + e%4
	}
	return o
}()

// blockBase is the offset of block b's element 0 in an interleaved row.
func blockBase(b int) int { return (b/GroupBlocks)*groupBytes + (b%GroupBlocks)*4 }

// quantizeBlock quantizes one block (at most BlockSize values) with scale
// d = max|x|/127 and q = round(x/d) in −127…127, writing q into out[:len(blk)].
func quantizeBlock(blk []float32, out *[BlockSize]int8) (d float32) {
	var amax float32
	for _, v := range blk {
		amax = max(amax, abs32(v))
	}
	d = amax / 127
	var inv float32
	if d != 0 {
		inv = 1 / d
	}
	for i, v := range blk {
		out[i] = int8(roundClamp127(v * inv))
	}
	return d
}

// quantizeRow quantizes the weights x into the interleaved biased bytes q (Stride long;
// padding 128) and one scale per block (Groups*GroupBlocks long; padding 0), using the
// activation quantizer (same rounding) and then adding the +128 bias. c is scratch of
// len(scales).
func quantizeRow(q []uint8, scales []float32, x []float32, c []int32) {
	if len(q) == 0 {
		return
	}
	active.quantAct(x, unsafe.Slice((*int8)(unsafe.Pointer(&q[0])), len(q)), scales, c)
	for i, b := range q {
		q[i] = b ^ 0x80
	}
}

// q8Vec holds n activation rows quantized for the Q8 kernels, in the same interleaved
// layout as the weights (ng groups per row, padding zero). Per block it keeps the scale
// s and the offset correction c = −128·Σ q over the block, which cancels the +128 bias
// of the weight bytes when the dot product is taken with VPDPBUSD. Row t occupies
// q[t*ng*512:], s[t*ng*16:] and c[t*ng*16:].
type q8Vec struct {
	n, ng int
	q     []int8
	s     []float32
	c     []int32
}

// quantize fills v with the n rows of x (each cols long).
func (v *q8Vec) quantize(x []float32, n, cols int) {
	v.prepare(n, cols)
	for t := 0; t < n; t++ {
		v.quantizeRow(t, x[t*cols:(t+1)*cols])
	}
}

// prepare sizes v for n rows of cols values; quantizeRow then fills each row.
func (v *q8Vec) prepare(n, cols int) {
	ng := q8Groups(cols)
	v.n, v.ng = n, ng
	v.q = grow(v.q, n*ng*groupBytes)
	v.s = grow(v.s, n*ng*GroupBlocks)
	v.c = grow(v.c, n*ng*GroupBlocks)
}

// quantizeRow quantizes activation row t from x.
func (v *q8Vec) quantizeRow(t int, x []float32) {
	q, s, c := v.row(t)
	active.quantAct(x, q, s, c)
}

// refQuantAct quantizes one activation row x into q (interleaved, len(s)*32 bytes), s
// (block scales) and c (−128·Σq per block); blocks past len(x) are zero.
func refQuantAct(x []float32, q []int8, s []float32, c []int32) { quantActFrom(x, q, s, c, 0) }

// quantActFrom is refQuantAct for blocks from b0 on.
func quantActFrom(x []float32, q []int8, s []float32, c []int32, b0 int) {
	var tmp [BlockSize]int8
	for b := b0; b < len(s); b++ {
		lo := b * BlockSize
		dst := q[blockBase(b):]
		if lo >= len(x) {
			s[b], c[b] = 0, 0
			for e := range BlockSize {
				dst[blockOffset[e]] = 0
			}
			continue
		}
		blk := x[lo:min(lo+BlockSize, len(x))]
		s[b] = quantizeBlock(blk, &tmp)
		var sum int32
		for e := range BlockSize {
			var v int8
			if e < len(blk) {
				v = tmp[e]
			}
			dst[blockOffset[e]] = v
			sum += int32(v)
		}
		c[b] = -128 * sum
	}
}

// row returns the slices of activation row t.
func (v *q8Vec) row(t int) (q []int8, s []float32, c []int32) {
	qn, sn := v.ng*groupBytes, v.ng*GroupBlocks
	return v.q[t*qn : (t+1)*qn], v.s[t*sn : (t+1)*sn], v.c[t*sn : (t+1)*sn]
}

// rows4 returns the slices of activation rows t..t+3.
func (v *q8Vec) rows4(t int) (q []int8, s []float32, c []int32) {
	qn, sn := v.ng*groupBytes, v.ng*GroupBlocks
	return v.q[t*qn : (t+4)*qn], v.s[t*sn : (t+4)*sn], v.c[t*sn : (t+4)*sn]
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
