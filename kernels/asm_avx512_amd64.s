#include "textflag.h"
#include "asm_macros_amd64.h"

// AVX-512 float kernels (F, VL): fp32 and bf16 dot products and the attention
// kernels. Go assembler operand order: sources first, destination last. Every function
// ends with VZEROUPPER.

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

// func attnScoresAVX512(q, k *float32, stride, n, d int, s *float32)
// s[j] = Σ_i q[i]·k[j*stride+i] for j < n, i < d (d ≥ 1). Prefetches 8 keys ahead
// (measured on 8 sequences' 144-position caches streamed from DRAM: +26 %).
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
	// Keys are stride floats apart (a KV cache row per position), too far apart for
	// the hardware prefetchers: fetch the key 8 positions ahead (first 320 bytes).
	PREFETCHT0 0(DI)(BX*8)
	PREFETCHT0 64(DI)(BX*8)
	PREFETCHT0 128(DI)(BX*8)
	PREFETCHT0 192(DI)(BX*8)
	PREFETCHT0 256(DI)(BX*8)
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
// out[i] = Σ_j p[j]·v[j*stride+i] for i < d (overwrites out), j < n. One pass over
// the positions; out (d floats) stays in L1 and is updated two positions at a time,
// with masked loads and stores for the last partial 16-float chunk.
TEXT ·attnWeightedSumAVX512(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $2, BX
	MOVQ n+24(FP), R13
	MOVQ d+32(FP), DX
	MOVQ out+40(FP), R8
	MOVQ DX, R9
	SHRQ $4, R9            // full chunks
	ANDQ $15, DX           // tail length
	MOVQ DX, CX
	TAILMASK
	// out = 0
	VXORPS Z0, Z0, Z0
	MOVQ   R8, R10
	MOVQ   R9, R12
wsumZero:
	TESTQ R12, R12
	JZ    wsumZeroTail
	VMOVUPS Z0, (R10)
	ADDQ $64, R10
	DECQ R12
	JMP  wsumZero
wsumZeroTail:
	VMOVUPS Z0, K1, (R10)

wsumPos2:
	CMPQ R13, $2
	JL   wsumPos1
	// Values 8 and 9 positions ahead (first 320 bytes), as in attnScoresAVX512.
	LEAQ (DI)(BX*8), AX
	PREFETCHT0 0(AX)
	PREFETCHT0 0(AX)(BX*1)
	PREFETCHT0 64(AX)
	PREFETCHT0 64(AX)(BX*1)
	PREFETCHT0 128(AX)
	PREFETCHT0 128(AX)(BX*1)
	PREFETCHT0 192(AX)
	PREFETCHT0 192(AX)(BX*1)
	PREFETCHT0 256(AX)
	PREFETCHT0 256(AX)(BX*1)
	VBROADCASTSS (SI), Z2
	VBROADCASTSS 4(SI), Z3
	MOVQ R8, R10
	MOVQ DI, R11
	MOVQ R9, R12
wsumChunk2:
	TESTQ R12, R12
	JZ    wsumTail2
	VMOVUPS     (R10), Z0
	VFMADD231PS (R11), Z2, Z0
	VFMADD231PS (R11)(BX*1), Z3, Z0
	VMOVUPS     Z0, (R10)
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ R12
	JMP  wsumChunk2
wsumTail2:
	TESTQ DX, DX
	JZ    wsumNext2
	VMOVUPS.Z   (R10), K1, Z0
	VMOVUPS.Z   (R11), K1, Z4
	VMOVUPS.Z   (R11)(BX*1), K1, Z5
	VFMADD231PS Z4, Z2, Z0
	VFMADD231PS Z5, Z3, Z0
	VMOVUPS     Z0, K1, (R10)
wsumNext2:
	ADDQ $8, SI
	LEAQ (DI)(BX*2), DI
	SUBQ $2, R13
	JMP  wsumPos2

wsumPos1:
	TESTQ R13, R13
	JZ    wsumDone
	VBROADCASTSS (SI), Z2
	MOVQ R8, R10
	MOVQ DI, R11
	MOVQ R9, R12
wsumChunk1:
	TESTQ R12, R12
	JZ    wsumTail1
	VMOVUPS     (R10), Z0
	VFMADD231PS (R11), Z2, Z0
	VMOVUPS     Z0, (R10)
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ R12
	JMP  wsumChunk1
wsumTail1:
	TESTQ DX, DX
	JZ    wsumDone
	VMOVUPS.Z   (R10), K1, Z0
	VMOVUPS.Z   (R11), K1, Z4
	VFMADD231PS Z4, Z2, Z0
	VMOVUPS     Z0, K1, (R10)

wsumDone:
	VZEROUPPER
	RET

// func attnScoresF16AVX512(q *float32, k *uint16, stride, n, d int, s *float32)
// attnScoresAVX512 with IEEE half-precision keys (VCVTPH2PS); stride in elements.
TEXT ·attnScoresF16AVX512(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $1, BX
	MOVQ n+24(FP), CX
	MOVQ d+32(FP), DX
	MOVQ s+40(FP), R8
	MOVQ DX, R9
	SHRQ $4, R9
	MOVQ DX, R13
	ANDQ $15, R13
	MOVQ CX, R12
	MOVQ R13, CX
	TAILMASK
	MOVQ R12, CX

h16scoresPos:
	TESTQ CX, CX
	JZ    h16scoresDone
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	MOVQ   SI, R10
	MOVQ   DI, R11
	MOVQ   R9, R12

h16scoresChunk:
	TESTQ R12, R12
	JZ    h16scoresTail
	VCVTPH2PS   (R11), Z3
	VFMADD231PS (R10), Z3, Z0
	ADDQ $64, R10
	ADDQ $32, R11
	DECQ R12
	JMP  h16scoresChunk

h16scoresTail:
	TESTQ R13, R13
	JZ    h16scoresSum
	VMOVUPS.Z   (R10), K1, Z2
	VCVTPH2PS.Z (R11), K1, Z3
	VFMADD231PS Z3, Z2, Z1

h16scoresSum:
	VADDPS Z1, Z0, Z0
	HSUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, (R8)
	ADDQ   $4, R8
	ADDQ   BX, DI
	DECQ   CX
	JMP    h16scoresPos

h16scoresDone:
	VZEROUPPER
	RET

// func attnWeightedSumF16AVX512(p *float32, v *uint16, stride, n, d int, out *float32)
// attnWeightedSumAVX512 with half-precision values (VCVTPH2PS).
TEXT ·attnWeightedSumF16AVX512(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ stride+16(FP), BX
	SHLQ $1, BX
	MOVQ n+24(FP), R13
	MOVQ d+32(FP), DX
	MOVQ out+40(FP), R8
	MOVQ DX, R9
	SHRQ $4, R9            // full chunks
	ANDQ $15, DX           // tail length
	MOVQ DX, CX
	TAILMASK
	// out = 0
	VXORPS Z0, Z0, Z0
	MOVQ   R8, R10
	MOVQ   R9, R12
h16wsumZero:
	TESTQ R12, R12
	JZ    h16wsumZeroTail
	VMOVUPS Z0, (R10)
	ADDQ $64, R10
	DECQ R12
	JMP  h16wsumZero
h16wsumZeroTail:
	VMOVUPS Z0, K1, (R10)

h16wsumPos2:
	CMPQ R13, $2
	JL   h16wsumPos1
	VBROADCASTSS (SI), Z2
	VBROADCASTSS 4(SI), Z3
	MOVQ R8, R10
	MOVQ DI, R11
	MOVQ R9, R12
h16wsumChunk2:
	TESTQ R12, R12
	JZ    h16wsumTail2
	VCVTPH2PS   (R11), Z4
	VCVTPH2PS   (R11)(BX*1), Z5
	VMOVUPS     (R10), Z0
	VFMADD231PS Z4, Z2, Z0
	VFMADD231PS Z5, Z3, Z0
	VMOVUPS     Z0, (R10)
	ADDQ $64, R10
	ADDQ $32, R11
	DECQ R12
	JMP  h16wsumChunk2
h16wsumTail2:
	TESTQ DX, DX
	JZ    h16wsumNext2
	VMOVUPS.Z   (R10), K1, Z0
	VCVTPH2PS.Z (R11), K1, Z4
	VCVTPH2PS.Z (R11)(BX*1), K1, Z5
	VFMADD231PS Z4, Z2, Z0
	VFMADD231PS Z5, Z3, Z0
	VMOVUPS     Z0, K1, (R10)
h16wsumNext2:
	ADDQ $8, SI
	LEAQ (DI)(BX*2), DI
	SUBQ $2, R13
	JMP  h16wsumPos2

h16wsumPos1:
	TESTQ R13, R13
	JZ    h16wsumDone
	VBROADCASTSS (SI), Z2
	MOVQ R8, R10
	MOVQ DI, R11
	MOVQ R9, R12
h16wsumChunk1:
	TESTQ R12, R12
	JZ    h16wsumTail1
	VCVTPH2PS   (R11), Z4
	VMOVUPS     (R10), Z0
	VFMADD231PS Z4, Z2, Z0
	VMOVUPS     Z0, (R10)
	ADDQ $64, R10
	ADDQ $32, R11
	DECQ R12
	JMP  h16wsumChunk1
h16wsumTail1:
	TESTQ DX, DX
	JZ    h16wsumDone
	VMOVUPS.Z   (R10), K1, Z0
	VCVTPH2PS.Z (R11), K1, Z4
	VFMADD231PS Z4, Z2, Z0
	VMOVUPS     Z0, K1, (R10)

h16wsumDone:
	VZEROUPPER
	RET
