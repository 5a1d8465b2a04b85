package kernels

import "fmt"

// SwiGLU applies the gated activation of BTLM's MLP in place: up[i] *= silu(gate[i])
// with silu(g) = g/(1+exp(−g)) (transformers 4.30 ACT2FN["silu"], applied to the gate
// projection as in Cerebras' SwiGLUActivation). The SIMD path evaluates exp with the
// same range reduction and polynomial as Exp32 (fused multiply-adds, so results may
// differ from the pure-Go path in the last bits). It panics if len(gate) < len(up).
func SwiGLU(up, gate []float32) {
	if len(gate) < len(up) {
		panic(fmt.Sprintf("kernels.SwiGLU: len(gate)=%d < len(up)=%d", len(gate), len(up)))
	}
	active.swiglu(up, gate[:len(up)])
}

// refSwiGLU is the pure-Go SwiGLU.
func refSwiGLU(up, gate []float32) {
	gate = gate[:len(up)]
	for i, g := range gate {
		up[i] *= g / (1 + Exp32(-g))
	}
}
