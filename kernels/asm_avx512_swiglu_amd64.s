#include "textflag.h"

// func swigluAVX512(up, gate *float32, n int)
// up[i] *= g/(1+exp(−g)) with g = gate[i], 16 lanes at a time (n a multiple of 16).
// exp(t) as Exp32 computes it: t clamped to [−87.33654, 100] (exp(−87.34) is below
// float32 resolution next to 1; above 88.72 exp overflows to +Inf), k = round(t·log2e),
// r = t − k·ln2hi − k·ln2lo, p = Horner(c0…c5)(r)·r² + r + 1, exp = p·2^k (VSCALEFPS).
// A NaN gate gives NaN (the division by 1+exp keeps g's NaN).
TEXT ·swigluAVX512(SB), NOSPLIT, $0-24
	MOVQ up+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z20   // sign bit
	MOVL $0xc2aeac4f, AX
	VPBROADCASTD AX, Z21   // −87.33654
	MOVL $0x42c80000, AX
	VPBROADCASTD AX, Z22   // 100: exp overflows to +Inf (VSCALEFPS) as Exp32's does
	MOVL $0x3fb8aa3b, AX
	VPBROADCASTD AX, Z23   // log2(e)
	MOVL $0x3f318000, AX
	VPBROADCASTD AX, Z24   // ln2hi
	MOVL $0xb95e8083, AX
	VPBROADCASTD AX, Z25   // ln2lo
	MOVL $0x3ab743ce, AX
	VPBROADCASTD AX, Z26
	MOVL $0x3c088908, AX
	VPBROADCASTD AX, Z27
	MOVL $0x3d2aa9c1, AX
	VPBROADCASTD AX, Z28
	MOVL $0x3e2aaaaa, AX
	VPBROADCASTD AX, Z29
	MOVL $0x3f000000, AX
	VPBROADCASTD AX, Z30
	MOVL $0x3f800000, AX
	VPBROADCASTD AX, Z31
	MOVL $0x39506967, AX
	VPBROADCASTD AX, Z19   // c0

swigluloop:
	TESTQ CX, CX
	JZ    swigludone
	VMOVUPS (SI), Z0              // g
	VMOVUPS (DI), Z1              // up
	VXORPS  Z20, Z0, Z2           // t = −g
	VMAXPS  Z21, Z2, Z2
	VMINPS  Z22, Z2, Z2
	VMULPS  Z23, Z2, Z3
	VRNDSCALEPS $0, Z3, Z3        // k = round(t·log2e)
	VFNMADD231PS Z24, Z3, Z2      // r = t − k·ln2hi
	VFNMADD231PS Z25, Z3, Z2      //     − k·ln2lo
	VMOVAPS Z19, Z4
	VFMADD213PS Z26, Z2, Z4       // p = p·r + c1
	VFMADD213PS Z27, Z2, Z4
	VFMADD213PS Z28, Z2, Z4
	VFMADD213PS Z29, Z2, Z4
	VFMADD213PS Z30, Z2, Z4       // … + c5
	VMULPS  Z2, Z2, Z5            // r²
	VFMADD213PS Z2, Z5, Z4        // p·r² + r
	VADDPS  Z31, Z4, Z4           // + 1
	VSCALEFPS Z3, Z4, Z4          // exp(t) = p·2^k
	VADDPS  Z31, Z4, Z4           // 1 + exp(−g)
	VDIVPS  Z4, Z0, Z0            // silu(g)
	VMULPS  Z0, Z1, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  swigluloop

swigludone:
	VZEROUPPER
	RET
