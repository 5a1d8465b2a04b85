#include "textflag.h"
#include "asm_macros_amd64.h"

// AVX-512 VNNI kernels for the Q8 format (F, BW, VL, VNNI): dot products over the
// interleaved layout (see Matrix) and activation quantization. Every function ends
// with VZEROUPPER.

// func dotQ8VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, ng int) float32
// One 512-byte group per iteration: eight VPDPBUSD (unsigned weight bytes q+128 times
// signed activations) leave block i's sum in lane i. The offset trick: accumulator 0
// starts at xc = −128·Σx per block, cancelling the +128 bias exactly. Then the 16 lane
// sums are converted to float and scaled by ws·xs (16 contiguous scales each).
TEXT ·dotQ8VNNI(SB), NOSPLIT, $0-52
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ xc+32(FP), R10
	MOVQ ng+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q8group:
	TESTQ CX, CX
	JZ    q8reduce
	VMOVDQU32 (R10), Z2
	VPXORD    Z3, Z3, Z3
	VPXORD    Z4, Z4, Z4
	VPXORD    Z5, Z5, Z5
	VMOVDQU64 (SI), Z6
	VMOVDQU64 64(SI), Z7
	VMOVDQU64 128(SI), Z8
	VMOVDQU64 192(SI), Z9
	VPDPBUSD  (DI), Z6, Z2
	VPDPBUSD  64(DI), Z7, Z3
	VPDPBUSD  128(DI), Z8, Z4
	VPDPBUSD  192(DI), Z9, Z5
	VMOVDQU64 256(SI), Z10
	VMOVDQU64 320(SI), Z11
	VMOVDQU64 384(SI), Z12
	VMOVDQU64 448(SI), Z13
	VPDPBUSD  256(DI), Z10, Z2
	VPDPBUSD  320(DI), Z11, Z3
	VPDPBUSD  384(DI), Z12, Z4
	VPDPBUSD  448(DI), Z13, Z5
	VPADDD    Z3, Z2, Z2
	VPADDD    Z5, Z4, Z4
	VPADDD    Z4, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VMOVUPS   (R8), Z14
	VMULPS    (R9), Z14, Z14
	VFMADD231PS Z14, Z2, Z0
	ADDQ $512, SI
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	DECQ CX
	JMP  q8group

q8reduce:
	VADDPS Z1, Z0, Z0
	HSUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// Q8X4TOKEN does one group for one token: QI indexes the token's activation bytes
// (from DI), SI_ its scales and corrections (from R9, R10). Z16-Z23 hold the group's
// eight weight chunks, Z24 its weight scales.
#define Q8X4TOKEN(ACCA, ACCB, SUM, QI, SI_) \
	VMOVDQU32   (R10)(SI_), ACCA; \
	VPXORD      ACCB, ACCB, ACCB; \
	VPDPBUSD    (DI)(QI), Z16, ACCA; \
	VPDPBUSD    64(DI)(QI), Z17, ACCB; \
	VPDPBUSD    128(DI)(QI), Z18, ACCA; \
	VPDPBUSD    192(DI)(QI), Z19, ACCB; \
	VPDPBUSD    256(DI)(QI), Z20, ACCA; \
	VPDPBUSD    320(DI)(QI), Z21, ACCB; \
	VPDPBUSD    384(DI)(QI), Z22, ACCA; \
	VPDPBUSD    448(DI)(QI), Z23, ACCB; \
	VPADDD      ACCB, ACCA, ACCA; \
	VCVTDQ2PS   ACCA, ACCA; \
	VMULPS      (R9)(SI_), Z24, ACCB; \
	VFMADD231PS ACCB, ACCA, SUM

// func dotQ8x4VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, ng int, out *[4]float32)
// dotQ8VNNI for 4 activation rows at once; each weight group is loaded once.
// Activation row t starts t*ng*512 bytes into xq and t*ng*64 bytes into xs and xc.
TEXT ·dotQ8x4VNNI(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ xc+32(FP), R10
	MOVQ ng+40(FP), CX
	MOVQ CX, BX
	SHLQ $9, BX            // xq row stride: ng*512
	LEAQ (BX)(BX*2), R11   // 3 strides
	MOVQ CX, DX
	SHLQ $6, DX            // xs/xc row stride: ng*64
	LEAQ (DX)(DX*2), AX
	XORQ R12, R12
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

q8x4group:
	TESTQ CX, CX
	JZ    q8x4reduce
	VMOVDQU64 (SI), Z16
	VMOVDQU64 64(SI), Z17
	VMOVDQU64 128(SI), Z18
	VMOVDQU64 192(SI), Z19
	VMOVDQU64 256(SI), Z20
	VMOVDQU64 320(SI), Z21
	VMOVDQU64 384(SI), Z22
	VMOVDQU64 448(SI), Z23
	VMOVUPS   (R8), Z24
	Q8X4TOKEN(Z4, Z5, Z0, R12*1, R12*1)
	Q8X4TOKEN(Z6, Z7, Z1, BX*1, DX*1)
	Q8X4TOKEN(Z8, Z9, Z2, BX*2, DX*2)
	Q8X4TOKEN(Z10, Z11, Z3, R11*1, AX*1)
	ADDQ $512, SI
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	DECQ CX
	JMP  q8x4group

q8x4reduce:
	MOVQ out+48(FP), R8
	HSUM16(Z0, Y0, X0, Y9, X9)
	HSUM16(Z1, Y1, X1, Y9, X9)
	HSUM16(Z2, Y2, X2, Y9, X9)
	HSUM16(Z3, Y3, X3, Y9, X9)
	VMOVSS X0, (R8)
	VMOVSS X1, 4(R8)
	VMOVSS X2, 8(R8)
	VMOVSS X3, 12(R8)
	VZEROUPPER
	RET

// func dotQ8x4r2VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, ng int, out *[8]float32)
// dotQ8x4VNNI for two consecutive weight rows (the second starts ng*512 bytes after w,
// its scales ng*16 floats after ws): each activation chunk is loaded once for both
// rows. out[0:4] are row 0's four products, out[4:8] row 1's. The group is walked chunk
// by chunk with one integer accumulator per (row, token) pair (Z8-Z15, started at the
// token's correction xc), so the eight VPDPBUSD chains run side by side and no partial
// // sums need adding; the float epilogue is the same as dotQ8x4VNNI's, so the results
// are bit-identical to it. It prefetches the same group of the row pair 8 pairs ahead
// into L2 (PREFETCHT1), far enough ahead that the memory stream keeps running while
// the group is computed (on Zen 4 with 8 activation rows, BenchmarkDecodeStep/q8_0/n8:
// 20.6 → 18.3 ms against PREFETCHT0 of the next pair; PREFETCHT0 or NTA at the same
// distance gain nothing).
TEXT ·dotQ8x4r2VNNI(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ xc+32(FP), R10
	MOVQ ng+40(FP), CX
	MOVQ CX, BX
	SHLQ $9, BX            // xq row stride and weight row stride: ng*512
	LEAQ (BX)(BX*2), R11
	MOVQ CX, DX
	SHLQ $6, DX            // xs/xc row stride and scale row stride: ng*64
	LEAQ (DX)(DX*2), AX
	XORQ R12, R12
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

q8r2group:
	TESTQ CX, CX
	JZ    q8r2reduce
	VMOVDQU32 (R10)(R12*1), Z8
	VMOVDQA32 Z8, Z12
	VMOVDQU32 (R10)(DX*1), Z9
	VMOVDQA32 Z9, Z13
	VMOVDQU32 (R10)(DX*2), Z10
	VMOVDQA32 Z10, Z14
	VMOVDQU32 (R10)(AX*1), Z11
	VMOVDQA32 Z11, Z15
	VMOVDQU64 0(SI), Z16
	VMOVDQU64 0(SI)(BX*1), Z17
	IMUL3Q $16, BX, R13    // 8 row pairs ahead
	ADDQ SI, R13
	PREFETCHT1 0(R13)
	PREFETCHT1 0(R13)(BX*1)
	VMOVDQU64 0(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 0(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 0(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 0(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 64(SI), Z16
	VMOVDQU64 64(SI)(BX*1), Z17
	PREFETCHT1 64(R13)
	PREFETCHT1 64(R13)(BX*1)
	VMOVDQU64 64(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 64(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 64(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 64(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 128(SI), Z16
	VMOVDQU64 128(SI)(BX*1), Z17
	PREFETCHT1 128(R13)
	PREFETCHT1 128(R13)(BX*1)
	VMOVDQU64 128(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 128(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 128(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 128(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 192(SI), Z16
	VMOVDQU64 192(SI)(BX*1), Z17
	PREFETCHT1 192(R13)
	PREFETCHT1 192(R13)(BX*1)
	VMOVDQU64 192(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 192(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 192(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 192(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 256(SI), Z16
	VMOVDQU64 256(SI)(BX*1), Z17
	PREFETCHT1 256(R13)
	PREFETCHT1 256(R13)(BX*1)
	VMOVDQU64 256(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 256(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 256(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 256(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 320(SI), Z16
	VMOVDQU64 320(SI)(BX*1), Z17
	PREFETCHT1 320(R13)
	PREFETCHT1 320(R13)(BX*1)
	VMOVDQU64 320(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 320(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 320(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 320(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 384(SI), Z16
	VMOVDQU64 384(SI)(BX*1), Z17
	PREFETCHT1 384(R13)
	PREFETCHT1 384(R13)(BX*1)
	VMOVDQU64 384(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 384(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 384(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 384(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVDQU64 448(SI), Z16
	VMOVDQU64 448(SI)(BX*1), Z17
	PREFETCHT1 448(R13)
	PREFETCHT1 448(R13)(BX*1)
	VMOVDQU64 448(DI)(R12*1), Z18
	VPDPBUSD Z18, Z16, Z8
	VPDPBUSD Z18, Z17, Z12
	VMOVDQU64 448(DI)(BX*1), Z18
	VPDPBUSD Z18, Z16, Z9
	VPDPBUSD Z18, Z17, Z13
	VMOVDQU64 448(DI)(BX*2), Z18
	VPDPBUSD Z18, Z16, Z10
	VPDPBUSD Z18, Z17, Z14
	VMOVDQU64 448(DI)(R11*1), Z18
	VPDPBUSD Z18, Z16, Z11
	VPDPBUSD Z18, Z17, Z15
	VMOVUPS (R8), Z19
	VMOVUPS (R8)(DX*1), Z20
	VMOVUPS (R9)(R12*1), Z21
	VCVTDQ2PS Z8, Z8
	VCVTDQ2PS Z12, Z12
	VMULPS Z21, Z19, Z22
	VFMADD231PS Z22, Z8, Z0
	VMULPS Z21, Z20, Z23
	VFMADD231PS Z23, Z12, Z4
	VMOVUPS (R9)(DX*1), Z21
	VCVTDQ2PS Z9, Z9
	VCVTDQ2PS Z13, Z13
	VMULPS Z21, Z19, Z22
	VFMADD231PS Z22, Z9, Z1
	VMULPS Z21, Z20, Z23
	VFMADD231PS Z23, Z13, Z5
	VMOVUPS (R9)(DX*2), Z21
	VCVTDQ2PS Z10, Z10
	VCVTDQ2PS Z14, Z14
	VMULPS Z21, Z19, Z22
	VFMADD231PS Z22, Z10, Z2
	VMULPS Z21, Z20, Z23
	VFMADD231PS Z23, Z14, Z6
	VMOVUPS (R9)(AX*1), Z21
	VCVTDQ2PS Z11, Z11
	VCVTDQ2PS Z15, Z15
	VMULPS Z21, Z19, Z22
	VFMADD231PS Z22, Z11, Z3
	VMULPS Z21, Z20, Z23
	VFMADD231PS Z23, Z15, Z7
	ADDQ $512, SI
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	DECQ CX
	JMP q8r2group

q8r2reduce:
	MOVQ out+48(FP), R8
	HSUM16(Z0, Y0, X0, Y9, X9)
	HSUM16(Z1, Y1, X1, Y9, X9)
	HSUM16(Z2, Y2, X2, Y9, X9)
	HSUM16(Z3, Y3, X3, Y9, X9)
	HSUM16(Z4, Y4, X4, Y9, X9)
	HSUM16(Z5, Y5, X5, Y9, X9)
	HSUM16(Z6, Y6, X6, Y9, X9)
	HSUM16(Z7, Y7, X7, Y9, X9)
	VMOVSS X0, 0(R8)
	VMOVSS X1, 4(R8)
	VMOVSS X2, 8(R8)
	VMOVSS X3, 12(R8)
	VMOVSS X4, 16(R8)
	VMOVSS X5, 20(R8)
	VMOVSS X6, 24(R8)
	VMOVSS X7, 28(R8)
	VZEROUPPER
	RET

// func quantActAVX512(x *float32, nb int, q *int8, s *float32, c *int32)
// Quantizes nb full blocks of 32 activations into the interleaved Q8 layout: per
// block d = max|x|/127, inv = 1/d (0 when d = 0), q = x·inv rounded to nearest even
// (VCVTPS2DQ under the default MXCSR) and clamped to ≥ −127, s = d and
// c = −128·Σq. Matches q8Vec.quantizeRow's pure-Go path exactly for finite inputs.
TEXT ·quantActAVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ s+24(FP), R8
	MOVQ c+32(FP), R9
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z16          // abs mask
	MOVL $0x42fe0000, AX          // 127.0
	VPBROADCASTD AX, Z17
	MOVL $0x3f800000, AX          // 1.0
	VPBROADCASTD AX, Z18
	MOVL $-127, AX
	VPBROADCASTD AX, Z19
	VPXORD Z20, Z20, Z20
	XORQ R12, R12                 // block index within its group

qaBlock:
	TESTQ CX, CX
	JZ    qaDone
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VPANDD  Z16, Z0, Z2
	VPANDD  Z16, Z1, Z3
	VMAXPS  Z3, Z2, Z2
	VSHUFF64X2 $0x4e, Z2, Z2, Z3
	VMAXPS  Z3, Z2, Z2
	VSHUFF64X2 $0xb1, Z2, Z2, Z3
	VMAXPS  Z3, Z2, Z2
	VPERMILPS $0x4e, Z2, Z3
	VMAXPS  Z3, Z2, Z2
	VPERMILPS $0xb1, Z2, Z3
	VMAXPS  Z3, Z2, Z2            // amax in every lane
	VDIVPS  Z17, Z2, Z4           // d = amax/127
	VCMPPS  $4, Z20, Z4, K2       // d != 0
	VDIVPS.Z Z4, Z18, K2, Z5      // inv = 1/d, or 0
	VMULPS  Z5, Z0, Z0
	VMULPS  Z5, Z1, Z1
	VCVTPS2DQ Z0, Z0
	VCVTPS2DQ Z1, Z1
	VPMAXSD Z19, Z0, Z0
	VPMAXSD Z19, Z1, Z1
	// c = −128·Σq
	VPADDD  Z1, Z0, Z6
	VEXTRACTI64X4 $1, Z6, Y7
	VPADDD  Y7, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD  X7, X6, X6
	VPSHUFD $0x4e, X6, X7
	VPADDD  X7, X6, X6
	VPSHUFD $0xb1, X6, X7
	VPADDD  X7, X6, X6
	VMOVD   X6, AX
	IMULL   $-128, AX
	MOVL    AX, (R9)
	VMOVSS  X4, (R8)
	// q: element e of the block goes to byte (e/4)*64 + e%4 from the block's base.
	VPMOVSDB Z0, X0
	VPMOVSDB Z1, X1
	VMOVD    X0, (DI)
	VPEXTRD  $1, X0, 64(DI)
	VPEXTRD  $2, X0, 128(DI)
	VPEXTRD  $3, X0, 192(DI)
	VMOVD    X1, 256(DI)
	VPEXTRD  $1, X1, 320(DI)
	VPEXTRD  $2, X1, 384(DI)
	VPEXTRD  $3, X1, 448(DI)
	ADDQ $128, SI
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $4, DI
	INCQ R12
	CMPQ R12, $16
	JL   qaNext
	XORQ R12, R12
	ADDQ $448, DI                 // next group: 512 bytes on from the group's start

qaNext:
	DECQ CX
	JMP  qaBlock

qaDone:
	VZEROUPPER
	RET
