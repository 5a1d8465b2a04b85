#include "textflag.h"

// AVX-512 kernels (F, BW, VL, VNNI). Go assembler operand order: sources first,
// destination last. Every function ends with VZEROUPPER.

// HSUM16 reduces the 16 floats of Z to their sum in the low lane of X (clobbers T).
#define HSUM16(Z, Y, X, TY, TX) \
	VEXTRACTF64X4 $1, Z, TY; \
	VADDPS        TY, Y, Y; \
	VEXTRACTF128  $1, Y, TX; \
	VADDPS        TX, X, X; \
	VHADDPS       X, X, X; \
	VHADDPS       X, X, X

// tailMask sets K1 to the low CX bits (CX < 16). Clobbers AX.
#define TAILMASK \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1

// func dotF32AVX512(w, x *float32, n int) float32
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

f32loop64:
	CMPQ CX, $64
	JL   f32loop16
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  f32loop64

f32loop16:
	CMPQ CX, $16
	JL   f32tail
	VMOVUPS     (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  f32loop16

f32tail:
	TESTQ CX, CX
	JZ    f32reduce
	TAILMASK
	VMOVUPS.Z   (SI), K1, Z4
	VMOVUPS.Z   (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z1

f32reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF32x4AVX512(w, x *float32, stride, n int, out *[4]float32)
// out[t] = Σ w[i]·x[t*stride+i], t < 4.
TEXT ·dotF32x4AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX            // stride in bytes
	LEAQ (BX)(BX*2), R11   // 3*stride
	MOVQ n+24(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

f32x4loop32:
	CMPQ CX, $32
	JL   f32x4loop16
	VMOVUPS     (SI), Z8
	VMOVUPS     64(SI), Z9
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS 64(DI), Z9, Z1
	VFMADD231PS (DI)(BX*1), Z8, Z2
	VFMADD231PS 64(DI)(BX*1), Z9, Z3
	VFMADD231PS (DI)(BX*2), Z8, Z4
	VFMADD231PS 64(DI)(BX*2), Z9, Z5
	VFMADD231PS (DI)(R11*1), Z8, Z6
	VFMADD231PS 64(DI)(R11*1), Z9, Z7
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  f32x4loop32

f32x4loop16:
	CMPQ CX, $16
	JL   f32x4tail
	VMOVUPS     (SI), Z8
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS (DI)(BX*1), Z8, Z2
	VFMADD231PS (DI)(BX*2), Z8, Z4
	VFMADD231PS (DI)(R11*1), Z8, Z6
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  f32x4loop16

f32x4tail:
	TESTQ CX, CX
	JZ    f32x4reduce
	TAILMASK
	VMOVUPS.Z   (SI), K1, Z8
	VMOVUPS.Z   (DI), K1, Z9
	VFMADD231PS Z9, Z8, Z1
	VMOVUPS.Z   (DI)(BX*1), K1, Z9
	VFMADD231PS Z9, Z8, Z3
	VMOVUPS.Z   (DI)(BX*2), K1, Z9
	VFMADD231PS Z9, Z8, Z5
	VMOVUPS.Z   (DI)(R11*1), K1, Z9
	VFMADD231PS Z9, Z8, Z7

f32x4reduce:
	MOVQ   out+32(FP), R8
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z5, Z4, Z4
	VADDPS Z7, Z6, Z6
	HSUM16(Z0, Y0, X0, Y9, X9)
	HSUM16(Z2, Y2, X2, Y9, X9)
	HSUM16(Z4, Y4, X4, Y9, X9)
	HSUM16(Z6, Y6, X6, Y9, X9)
	VMOVSS X0, (R8)
	VMOVSS X2, 4(R8)
	VMOVSS X4, 8(R8)
	VMOVSS X6, 12(R8)
	VZEROUPPER
	RET

// func dotBF16AVX512(w *uint16, x *float32, n int) float32
// bf16 → f32 is a zero-extension to 32 bits and a left shift by 16.
TEXT ·dotBF16AVX512(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

bf16loop64:
	CMPQ CX, $64
	JL   bf16loop16
	VPMOVZXWD   (SI), Z4
	VPMOVZXWD   32(SI), Z5
	VPMOVZXWD   64(SI), Z6
	VPMOVZXWD   96(SI), Z7
	VPSLLD      $16, Z4, Z4
	VPSLLD      $16, Z5, Z5
	VPSLLD      $16, Z6, Z6
	VPSLLD      $16, Z7, Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $128, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  bf16loop64

bf16loop16:
	CMPQ CX, $16
	JL   bf16tail
	VPMOVZXWD   (SI), Z4
	VPSLLD      $16, Z4, Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  bf16loop16

bf16tail:
	TESTQ CX, CX
	JZ    bf16reduce
	TAILMASK
	VPMOVZXWD.Z (SI), K1, Z4
	VPSLLD      $16, Z4, Z4
	VMOVUPS.Z   (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z1

bf16reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotBF16x4AVX512(w *uint16, x *float32, stride, n int, out *[4]float32)
TEXT ·dotBF16x4AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R11
	MOVQ n+24(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

bf16x4loop32:
	CMPQ CX, $32
	JL   bf16x4loop16
	VPMOVZXWD   (SI), Z8
	VPMOVZXWD   32(SI), Z9
	VPSLLD      $16, Z8, Z8
	VPSLLD      $16, Z9, Z9
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS 64(DI), Z9, Z1
	VFMADD231PS (DI)(BX*1), Z8, Z2
	VFMADD231PS 64(DI)(BX*1), Z9, Z3
	VFMADD231PS (DI)(BX*2), Z8, Z4
	VFMADD231PS 64(DI)(BX*2), Z9, Z5
	VFMADD231PS (DI)(R11*1), Z8, Z6
	VFMADD231PS 64(DI)(R11*1), Z9, Z7
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  bf16x4loop32

bf16x4loop16:
	CMPQ CX, $16
	JL   bf16x4tail
	VPMOVZXWD   (SI), Z8
	VPSLLD      $16, Z8, Z8
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS (DI)(BX*1), Z8, Z2
	VFMADD231PS (DI)(BX*2), Z8, Z4
	VFMADD231PS (DI)(R11*1), Z8, Z6
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  bf16x4loop16

bf16x4tail:
	TESTQ CX, CX
	JZ    bf16x4reduce
	TAILMASK
	VPMOVZXWD.Z (SI), K1, Z8
	VPSLLD      $16, Z8, Z8
	VMOVUPS.Z   (DI), K1, Z9
	VFMADD231PS Z9, Z8, Z1
	VMOVUPS.Z   (DI)(BX*1), K1, Z9
	VFMADD231PS Z9, Z8, Z3
	VMOVUPS.Z   (DI)(BX*2), K1, Z9
	VFMADD231PS Z9, Z8, Z5
	VMOVUPS.Z   (DI)(R11*1), K1, Z9
	VFMADD231PS Z9, Z8, Z7

bf16x4reduce:
	MOVQ   out+32(FP), R8
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z5, Z4, Z4
	VADDPS Z7, Z6, Z6
	HSUM16(Z0, Y0, X0, Y9, X9)
	HSUM16(Z2, Y2, X2, Y9, X9)
	HSUM16(Z4, Y4, X4, Y9, X9)
	HSUM16(Z6, Y6, X6, Y9, X9)
	VMOVSS X0, (R8)
	VMOVSS X2, 4(R8)
	VMOVSS X4, 8(R8)
	VMOVSS X6, 12(R8)
	VZEROUPPER
	RET

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

// func attnScoresAVX512(q, k *float32, stride, n, d int, s *float32)
// s[j] = Σ_i q[i]·k[j*stride+i] for j < n, i < d (d ≥ 1).
TEXT ·attnScoresAVX512(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX
	MOVQ n+24(FP), CX
	MOVQ d+32(FP), DX
	MOVQ s+40(FP), R8
	MOVQ DX, R9
	SHRQ $4, R9            // full 16-float chunks
	MOVQ DX, R13
	ANDQ $15, R13          // tail length
	MOVQ CX, R12
	MOVQ R13, CX
	TAILMASK
	MOVQ R12, CX

scoresPos:
	TESTQ CX, CX
	JZ    scoresDone
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	MOVQ   SI, R10
	MOVQ   DI, R11
	MOVQ   R9, R12

scoresChunk:
	TESTQ R12, R12
	JZ    scoresTail
	VMOVUPS     (R10), Z2
	VFMADD231PS (R11), Z2, Z0
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ R12
	JMP  scoresChunk

scoresTail:
	TESTQ R13, R13
	JZ    scoresSum
	VMOVUPS.Z   (R10), K1, Z2
	VMOVUPS.Z   (R11), K1, Z3
	VFMADD231PS Z3, Z2, Z1

scoresSum:
	VADDPS Z1, Z0, Z0
	HSUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, (R8)
	ADDQ   $4, R8
	ADDQ   BX, DI
	DECQ   CX
	JMP    scoresPos

scoresDone:
	VZEROUPPER
	RET

// func attnWeightedSumAVX512(p, v *float32, stride, n, d int, out *float32)
// out[i] = Σ_j p[j]·v[j*stride+i] for i < d (overwrites out), j < n.
// One pass over the positions per 16 output values; masked loads and stores for the
// last partial chunk.
TEXT ·attnWeightedSumAVX512(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX
	MOVQ n+24(FP), R13
	MOVQ d+32(FP), DX
	MOVQ out+40(FP), R8

wsumChunk:
	TESTQ DX, DX
	JLE   wsumDone
	MOVL  $0xffff, AX
	KMOVW AX, K1
	CMPQ  DX, $16
	JGE   wsumFull
	MOVQ  DX, CX
	TAILMASK

wsumFull:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	MOVQ   SI, R10         // p
	MOVQ   DI, R11         // v column chunk
	MOVQ   R13, CX

wsumPos2:
	CMPQ CX, $2
	JL   wsumPos1
	VBROADCASTSS (R10), Z2
	VBROADCASTSS 4(R10), Z3
	VFMADD231PS  (R11), Z2, K1, Z0
	VFMADD231PS  (R11)(BX*1), Z3, K1, Z1
	ADDQ $8, R10
	LEAQ (R11)(BX*2), R11
	SUBQ $2, CX
	JMP  wsumPos2

wsumPos1:
	TESTQ CX, CX
	JZ    wsumStore
	VBROADCASTSS (R10), Z2
	VFMADD231PS  (R11), Z2, K1, Z0

wsumStore:
	VADDPS  Z1, Z0, Z0
	VMOVUPS Z0, K1, (R8)
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  wsumChunk

wsumDone:
	VZEROUPPER
	RET
