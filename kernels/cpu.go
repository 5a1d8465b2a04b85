package kernels

import (
	"os"
	"runtime"

	"golang.org/x/sys/cpu"
)

// Level names an instruction-set level the kernels can run at.
type Level int

const (
	// LevelGeneric is the pure-Go reference path.
	LevelGeneric Level = iota
	// LevelAVX2 uses AVX2 and FMA (and VPMADDUBSW for int8 dot products).
	LevelAVX2
	// LevelAVX512 uses AVX-512 F/BW/VL and AVX512-VNNI (VPDPBUSD).
	LevelAVX512
)

func (l Level) String() string {
	switch l {
	case LevelAVX2:
		return "avx2"
	case LevelAVX512:
		return "avx512-vnni"
	}
	return "generic"
}

// SupportedLevels lists the levels this CPU and build can run, lowest first.
func SupportedLevels() []Level {
	levels := []Level{LevelGeneric}
	if runtime.GOARCH != "amd64" || !haveAsm {
		return levels
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		levels = append(levels, LevelAVX2)
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI {
			levels = append(levels, LevelAVX512)
		}
	}
	return levels
}

// active is the kernel set in use; chosen once in init.
var active kernelSet

func init() {
	lv := LevelGeneric
	if os.Getenv("BTLM_NOSIMD") != "1" {
		levels := SupportedLevels()
		lv = levels[len(levels)-1]
	}
	active = kernelsFor(lv)
}

// ActiveLevel reports the instruction-set level the kernels run at: the best the CPU
// supports, or LevelGeneric when BTLM_NOSIMD=1.
func ActiveLevel() Level { return active.level }

// kernelSet is one implementation of every inner kernel. Lengths are checked by the
// callers; the functions themselves trust them.
type kernelSet struct {
	level Level
	// dotF32 returns Σ w[i]·x[i] over len(w) elements.
	dotF32 func(w, x []float32) float32
	// dotF32x4 returns out[t] = Σ w[i]·x[t*stride+i] for t = 0..3.
	dotF32x4 func(w, x []float32, stride int) [4]float32
	// dotBF16 returns Σ bf16(w[i])·x[i].
	dotBF16 func(w []uint16, x []float32) float32
	// dotBF16x4 is dotF32x4 with bf16 weights.
	dotBF16x4 func(w []uint16, x []float32, stride int) [4]float32
	// dotQ8 returns the dot product of one q8 row (biased bytes w, len(ws) blocks) with
	// one quantized activation row (see q8Vec).
	dotQ8 func(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) float32
	// dotQ8x4 does dotQ8 for 4 consecutive activation rows.
	dotQ8x4 func(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) [4]float32
	// dotQ8x4r2 does dotQ8x4 for two consecutive weight rows (w and ws hold both):
	// out[0:4] for the first row, out[4:8] for the second.
	dotQ8x4r2 func(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) [8]float32
	// axpy computes y[i] += a·x[i].
	axpy func(a float32, x, y []float32)
	// attnScores sets s[j] = q·keys[j*stride : j*stride+len(q)] for j < n.
	attnScores func(q, keys []float32, stride, n int, s []float32)
	// attnWeightedSum sets out = Σ_{j<n} p[j]·values[j*stride : j*stride+len(out)].
	attnWeightedSum func(p, values []float32, stride, n int, out []float32)
	// quantAct quantizes one activation row for the Q8 kernels (see q8Vec).
	quantAct func(x []float32, q []int8, s []float32, c []int32)
	// attnScoresF16 and attnWeightedSumF16 are the same over half-precision keys/values.
	// swiglu sets up[i] *= silu(gate[i]); len(gate) == len(up).
	swiglu func(up, gate []float32)

	attnScoresF16      func(q []float32, keys []uint16, stride, n int, s []float32)
	attnWeightedSumF16 func(p []float32, values []uint16, stride, n int, out []float32)
}

func kernelsFor(lv Level) kernelSet {
	ks := kernelSet{
		level:     LevelGeneric,
		dotF32:    refDotF32,
		dotF32x4:  refDotF32x4,
		dotBF16:   refDotBF16,
		dotBF16x4: refDotBF16x4,
		dotQ8:     refDotQ8,
		dotQ8x4:   refDotQ8x4,
		axpy:      refAxpy,
		quantAct:  refQuantAct,
		swiglu:    refSwiGLU,

		attnScoresF16:      refAttnScoresF16,
		attnWeightedSumF16: refAttnWeightedSumF16,
	}
	asmKernels(lv, &ks)
	if ks.dotQ8x4r2 == nil { // two calls of this level's dotQ8x4
		x4 := ks.dotQ8x4
		ks.dotQ8x4r2 = func(w []uint8, ws []float32, xq []int8, xs []float32, xc []int32) (out [8]float32) {
			nw, ns := len(w)/2, len(ws)/2
			a := x4(w[:nw], ws[:ns], xq, xs, xc)
			b := x4(w[nw:], ws[ns:], xq, xs, xc)
			copy(out[:4], a[:])
			copy(out[4:], b[:])
			return out
		}
	}
	if ks.attnScores == nil { // built from this level's dot and axpy
		dot, axpy := ks.dotF32, ks.axpy
		ks.attnScores = func(q, keys []float32, stride, n int, s []float32) {
			d := len(q)
			for j := range s[:n] {
				s[j] = dot(q, keys[j*stride:j*stride+d])
			}
		}
		ks.attnWeightedSum = func(p, values []float32, stride, n int, out []float32) {
			clear(out)
			d := len(out)
			for j, pj := range p[:n] {
				axpy(pj, values[j*stride:j*stride+d], out)
			}
		}
	}
	return ks
}
