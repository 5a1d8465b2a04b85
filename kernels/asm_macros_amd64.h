// Macros shared by the amd64 assembly kernels.

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

// HSUM8 reduces the 8 floats of Y to their sum in the low lane of X (clobbers TX).
#define HSUM8(Y, X, TX) \
	VEXTRACTF128 $1, Y, TX; \
	VADDPS       TX, X, X; \
	VHADDPS      X, X, X; \
	VHADDPS      X, X, X

// Q8 constants: Y15 = 0x80 in every byte (turns biased weight bytes back into signed
// ones), Y14 = int16 1 in every word (for VPMADDWD).
#define Q8CONSTS \
	MOVL         $0x80808080, AX; \
	VMOVD        AX, X15; \
	VPBROADCASTD X15, Y15; \
	MOVL         $0x00010001, AX; \
	VMOVD        AX, X14; \
	VPBROADCASTD X14, Y14
