#include "textflag.h"

// AVX2 + FMA kernels. Float kernels take n as a multiple of 8 (the Go wrappers do the
// rest). Go assembler operand order: sources first, destination last. Every function
// ends with VZEROUPPER.

// HSUM8 reduces the 8 floats of Y to their sum in the low lane of X (clobbers TX).
#define HSUM8(Y, X, TX) \
	VEXTRACTF128 $1, Y, TX; \
	VADDPS       TX, X, X; \
	VHADDPS      X, X, X; \
	VHADDPS      X, X, X

// func dotF32AVX2(w, x *float32, n int) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

af32loop32:
	CMPQ CX, $32
	JL   af32loop8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  af32loop32

af32loop8:
	CMPQ CX, $8
	JL   af32reduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  af32loop8

af32reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM8(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF32x4AVX2(w, x *float32, stride, n int, out *[4]float32)
TEXT ·dotF32x4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R11
	MOVQ n+24(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

af32x4loop16:
	CMPQ CX, $16
	JL   af32x4loop8
	VMOVUPS     (SI), Y8
	VMOVUPS     32(SI), Y9
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS 32(DI), Y9, Y1
	VFMADD231PS (DI)(BX*1), Y8, Y2
	VFMADD231PS 32(DI)(BX*1), Y9, Y3
	VFMADD231PS (DI)(BX*2), Y8, Y4
	VFMADD231PS 32(DI)(BX*2), Y9, Y5
	VFMADD231PS (DI)(R11*1), Y8, Y6
	VFMADD231PS 32(DI)(R11*1), Y9, Y7
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  af32x4loop16

af32x4loop8:
	CMPQ CX, $8
	JL   af32x4reduce
	VMOVUPS     (SI), Y8
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS (DI)(BX*1), Y8, Y2
	VFMADD231PS (DI)(BX*2), Y8, Y4
	VFMADD231PS (DI)(R11*1), Y8, Y6
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  af32x4loop8

af32x4reduce:
	MOVQ   out+32(FP), R8
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	HSUM8(Y0, X0, X9)
	HSUM8(Y2, X2, X9)
	HSUM8(Y4, X4, X9)
	HSUM8(Y6, X6, X9)
	VMOVSS X0, (R8)
	VMOVSS X2, 4(R8)
	VMOVSS X4, 8(R8)
	VMOVSS X6, 12(R8)
	VZEROUPPER
	RET

// func dotBF16AVX2(w *uint16, x *float32, n int) float32
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

abf16loop32:
	CMPQ CX, $32
	JL   abf16loop8
	VPMOVZXWD   (SI), Y4
	VPMOVZXWD   16(SI), Y5
	VPMOVZXWD   32(SI), Y6
	VPMOVZXWD   48(SI), Y7
	VPSLLD      $16, Y4, Y4
	VPSLLD      $16, Y5, Y5
	VPSLLD      $16, Y6, Y6
	VPSLLD      $16, Y7, Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  abf16loop32

abf16loop8:
	CMPQ CX, $8
	JL   abf16reduce
	VPMOVZXWD   (SI), Y4
	VPSLLD      $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  abf16loop8

abf16reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM8(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotBF16x4AVX2(w *uint16, x *float32, stride, n int, out *[4]float32)
TEXT ·dotBF16x4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R11
	MOVQ n+24(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

abf16x4loop16:
	CMPQ CX, $16
	JL   abf16x4loop8
	VPMOVZXWD   (SI), Y8
	VPMOVZXWD   16(SI), Y9
	VPSLLD      $16, Y8, Y8
	VPSLLD      $16, Y9, Y9
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS 32(DI), Y9, Y1
	VFMADD231PS (DI)(BX*1), Y8, Y2
	VFMADD231PS 32(DI)(BX*1), Y9, Y3
	VFMADD231PS (DI)(BX*2), Y8, Y4
	VFMADD231PS 32(DI)(BX*2), Y9, Y5
	VFMADD231PS (DI)(R11*1), Y8, Y6
	VFMADD231PS 32(DI)(R11*1), Y9, Y7
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  abf16x4loop16

abf16x4loop8:
	CMPQ CX, $8
	JL   abf16x4reduce
	VPMOVZXWD   (SI), Y8
	VPSLLD      $16, Y8, Y8
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS (DI)(BX*1), Y8, Y2
	VFMADD231PS (DI)(BX*2), Y8, Y4
	VFMADD231PS (DI)(R11*1), Y8, Y6
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  abf16x4loop8

abf16x4reduce:
	MOVQ   out+32(FP), R8
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	HSUM8(Y0, X0, X9)
	HSUM8(Y2, X2, X9)
	HSUM8(Y4, X4, X9)
	HSUM8(Y6, X6, X9)
	VMOVSS X0, (R8)
	VMOVSS X2, 4(R8)
	VMOVSS X4, 8(R8)
	VMOVSS X6, 12(R8)
	VZEROUPPER
	RET

// Q8 constants: Y15 = 0x80 in every byte (turns biased weight bytes back into signed
// ones), Y14 = int16 1 in every word (for VPMADDWD).
#define Q8CONSTS \
	MOVL         $0x80808080, AX; \
	VMOVD        AX, X15; \
	VPBROADCASTD X15, Y15; \
	MOVL         $0x00010001, AX; \
	VMOVD        AX, X14; \
	VPBROADCASTD X14, Y14

// Q8BLOCK: Y4 = signed weights, Y5 = |w|; computes the 8 int32 lane sums of token data at
// (DI)(IDX*1) into ACC (as float), scaled by SC·xs, accumulated into SUM. Uses the
// sign trick: VPMADDUBSW(|w|, x·sign(w)); |w| ≤ 127 so the int16 pair sums cannot
// saturate.
#define Q8BLOCK(ACC, TMP, SUM, IDX) \
	VMOVDQU     (DI)(IDX*1), ACC; \
	VPSIGNB     Y4, ACC, ACC; \
	VPMADDUBSW  ACC, Y5, ACC; \
	VPMADDWD    Y14, ACC, ACC; \
	VCVTDQ2PS   ACC, ACC; \
	VMULPS      (R9)(IDX*1), Y6, TMP; \
	VFMADD231PS TMP, ACC, SUM

// func dotQ8AVX2(w *uint8, ws *float32, xq *int8, xs *float32, nb int) float32
TEXT ·dotQ8AVX2(SB), NOSPLIT, $0-44
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ nb+32(FP), CX
	Q8CONSTS
	XORQ R12, R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

aq8loop:
	TESTQ CX, CX
	JZ    aq8reduce
	VMOVDQU      (SI), Y4
	VPXOR        Y15, Y4, Y4
	VPABSB       Y4, Y5
	VBROADCASTSS (R8), Y6
	Q8BLOCK(Y2, Y3, Y0, R12)
	ADDQ $32, SI
	ADDQ $4, R8
	ADDQ $32, DI
	ADDQ $32, R9
	DECQ CX
	JMP  aq8loop

aq8reduce:
	HSUM8(Y0, X0, X1)
	VMOVSS X0, ret+40(FP)
	VZEROUPPER
	RET

// func dotQ8x4AVX2(w *uint8, ws *float32, xq *int8, xs *float32, nb int, out *[4]float32)
TEXT ·dotQ8x4AVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ nb+32(FP), CX
	MOVQ CX, BX
	SHLQ $5, BX
	LEAQ (BX)(BX*2), R11
	LEAQ (BX)(BX*1), R13
	XORQ R12, R12
	Q8CONSTS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

aq8x4loop:
	TESTQ CX, CX
	JZ    aq8x4reduce
	VMOVDQU      (SI), Y4
	VPXOR        Y15, Y4, Y4
	VPABSB       Y4, Y5
	VBROADCASTSS (R8), Y6
	Q8BLOCK(Y8, Y9, Y0, R12)
	Q8BLOCK(Y10, Y11, Y1, BX)
	Q8BLOCK(Y8, Y9, Y2, R13)
	Q8BLOCK(Y10, Y11, Y3, R11)
	ADDQ $32, SI
	ADDQ $4, R8
	ADDQ $32, DI
	ADDQ $32, R9
	DECQ CX
	JMP  aq8x4loop

aq8x4reduce:
	MOVQ out+40(FP), R8
	HSUM8(Y0, X0, X9)
	HSUM8(Y1, X1, X9)
	HSUM8(Y2, X2, X9)
	HSUM8(Y3, X3, X9)
	VMOVSS X0, (R8)
	VMOVSS X1, 4(R8)
	VMOVSS X2, 8(R8)
	VMOVSS X3, 12(R8)
	VZEROUPPER
	RET

// func axpyAVX2(a float32, x, y *float32, n int)
// y[i] += a·x[i] for i < n (n a multiple of 8).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX

axpyloop32:
	CMPQ CX, $32
	JL   axpyloop8
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VMOVUPS     64(DI), Y3
	VMOVUPS     96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	VMOVUPS     Y3, 64(DI)
	VMOVUPS     Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  axpyloop32

axpyloop8:
	CMPQ CX, $8
	JL   axpydone
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  axpyloop8

axpydone:
	VZEROUPPER
	RET
