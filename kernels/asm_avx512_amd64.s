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

// Lane → block index for two blocks in one zmm: lanes 0-7 take scale 0, 8-15 scale 1.
DATA q8permidx<>+0(SB)/8, $0
DATA q8permidx<>+8(SB)/8, $0
DATA q8permidx<>+16(SB)/8, $0
DATA q8permidx<>+24(SB)/8, $0
DATA q8permidx<>+32(SB)/8, $0x0000000100000001
DATA q8permidx<>+40(SB)/8, $0x0000000100000001
DATA q8permidx<>+48(SB)/8, $0x0000000100000001
DATA q8permidx<>+56(SB)/8, $0x0000000100000001
GLOBL q8permidx<>(SB), RODATA|NOPTR, $64

// func dotQ8VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, nb int) float32
// Offset trick: the weight bytes are q+128 (unsigned), x is signed, and VPDPBUSD's
// accumulator starts at xc = −128·Σx per lane, so each lane ends with Σ q·x exactly.
// Two blocks (64 bytes) per zmm; per-lane scales ws[b]·xs[b].
TEXT ·dotQ8VNNI(SB), NOSPLIT, $0-52
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ xc+32(FP), R10
	MOVQ nb+40(FP), CX
	VMOVDQU32 q8permidx<>(SB), Z31
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q8loop4:
	CMPQ CX, $4
	JL   q8loop2
	VMOVDQU32   (R10), Z2
	VMOVDQU32   64(R10), Z3
	VMOVDQU64   (SI), Z4
	VMOVDQU64   64(SI), Z5
	VPDPBUSD    (DI), Z4, Z2
	VPDPBUSD    64(DI), Z5, Z3
	VMOVSD      (R8), X6
	VMOVSD      8(R8), X7
	VPERMPS     Z6, Z31, Z6
	VPERMPS     Z7, Z31, Z7
	VMULPS      (R9), Z6, Z6
	VMULPS      64(R9), Z7, Z7
	VCVTDQ2PS   Z2, Z2
	VCVTDQ2PS   Z3, Z3
	VFMADD231PS Z6, Z2, Z0
	VFMADD231PS Z7, Z3, Z1
	ADDQ $128, SI
	ADDQ $16, R8
	ADDQ $128, DI
	ADDQ $128, R9
	ADDQ $128, R10
	SUBQ $4, CX
	JMP  q8loop4

q8loop2:
	CMPQ CX, $2
	JL   q8tail
	VMOVDQU32   (R10), Z2
	VMOVDQU64   (SI), Z4
	VPDPBUSD    (DI), Z4, Z2
	VMOVSD      (R8), X6
	VPERMPS     Z6, Z31, Z6
	VMULPS      (R9), Z6, Z6
	VCVTDQ2PS   Z2, Z2
	VFMADD231PS Z6, Z2, Z0
	ADDQ $64, SI
	ADDQ $8, R8
	ADDQ $64, DI
	ADDQ $64, R9
	ADDQ $64, R10
	SUBQ $2, CX

q8tail:
	TESTQ CX, CX
	JZ    q8reduce
	// One block left: 256-bit operations (VEX/EVEX writes zero the upper lanes, which
	// then add nothing in the 512-bit FMA).
	VMOVDQU32    (R10), Y2
	VMOVDQU      (SI), Y4
	VPDPBUSD     (DI), Y4, Y2
	VCVTDQ2PS    Y2, Y2
	VBROADCASTSS (R8), Y6
	VMULPS       (R9), Y6, Y6
	VFMADD231PS  Z6, Z2, Z1

q8reduce:
	VADDPS Z1, Z0, Z0
	HSUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// Q8X4TOKEN does one pair of blocks for token t: index register IDX holds t's byte
// offset into xq, xs and xc (all have the same byte stride nb*32).
#define Q8X4TOKEN(ACC, TMP, SUM, IDX) \
	VMOVDQU32   (R10)(IDX*1), ACC; \
	VPDPBUSD    (DI)(IDX*1), Z4, ACC; \
	VMULPS      (R9)(IDX*1), Z5, TMP; \
	VCVTDQ2PS   ACC, ACC; \
	VFMADD231PS TMP, ACC, SUM

#define Q8X4TOKENY(ACC, YACC, TMP, YTMP, SUM, IDX) \
	VMOVDQU32   (R10)(IDX*1), YACC; \
	VPDPBUSD    (DI)(IDX*1), Y4, YACC; \
	VMULPS      (R9)(IDX*1), Y5, YTMP; \
	VCVTDQ2PS   YACC, YACC; \
	VFMADD231PS TMP, ACC, SUM

// func dotQ8x4VNNI(w *uint8, ws *float32, xq *int8, xs *float32, xc *int32, nb int, out *[4]float32)
// dotQ8VNNI for 4 activation rows at once; each weight block is loaded once.
TEXT ·dotQ8x4VNNI(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ xq+16(FP), DI
	MOVQ xs+24(FP), R9
	MOVQ xc+32(FP), R10
	MOVQ nb+40(FP), CX
	MOVQ CX, BX
	SHLQ $5, BX            // token stride in bytes: nb*32
	LEAQ (BX)(BX*2), R11
	XORQ R12, R12
	LEAQ (BX)(BX*1), R13
	VMOVDQU32 q8permidx<>(SB), Z31
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

q8x4loop2:
	CMPQ CX, $2
	JL   q8x4tail
	VMOVDQU64 (SI), Z4
	VMOVSD    (R8), X5
	VPERMPS   Z5, Z31, Z5
	Q8X4TOKEN(Z8, Z12, Z0, R12)
	Q8X4TOKEN(Z9, Z13, Z1, BX)
	Q8X4TOKEN(Z10, Z14, Z2, R13)
	Q8X4TOKEN(Z11, Z15, Z3, R11)
	ADDQ $64, SI
	ADDQ $8, R8
	ADDQ $64, DI
	ADDQ $64, R9
	ADDQ $64, R10
	SUBQ $2, CX
	JMP  q8x4loop2

q8x4tail:
	TESTQ CX, CX
	JZ    q8x4reduce
	VMOVDQU      (SI), Y4
	VBROADCASTSS (R8), Y5
	Q8X4TOKENY(Z8, Y8, Z12, Y12, Z0, R12)
	Q8X4TOKENY(Z9, Y9, Z13, Y13, Z1, BX)
	Q8X4TOKENY(Z10, Y10, Z14, Y14, Z2, R13)
	Q8X4TOKENY(Z11, Y11, Z15, Y15, Z3, R11)

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
