package btlm

import (
	"fmt"
	"math"
	"testing"
)

// referenceLogits is an independent, deliberately naive float64 forward pass over the
// whole sequence (no cache), reading weights in their checkpoint layout (Conv1D [in,
// out]) straight from the source. It returns the logits of the last position.
func referenceLogits(t testing.TB, cfg Config, src TensorSource, ids []int) []float64 {
	t.Helper()
	get := func(name string) []float64 {
		for _, n := range []string{"transformer." + name, name} {
			info, ok := src.Lookup(n)
			if !ok {
				continue
			}
			f := make([]float32, info.NumElements())
			if err := src.ReadFloat32(n, f); err != nil {
				t.Fatal(err)
			}
			d := make([]float64, len(f))
			for i, v := range f {
				d[i] = float64(v)
			}
			return d
		}
		t.Fatalf("reference: no tensor %s", name)
		return nil
	}
	E, H, I, T := cfg.NEmbd, cfg.NHead, cfg.NInner, len(ids)
	D := E / H
	conv := func(x []float64, prefix string, in, out int) []float64 { // x: [T][in]
		w, b := get(prefix+".weight"), get(prefix+".bias")
		y := make([]float64, T*out)
		for t := 0; t < T; t++ {
			for o := 0; o < out; o++ {
				s := b[o]
				for i := 0; i < in; i++ {
					s += x[t*in+i] * w[i*out+o]
				}
				y[t*out+o] = s
			}
		}
		return y
	}
	norm := func(x []float64, prefix string, rows int) []float64 {
		w, b := get(prefix+".weight"), get(prefix+".bias")
		y := make([]float64, len(x))
		for r := 0; r < rows; r++ {
			row := x[r*E : (r+1)*E]
			var mean, v float64
			for _, a := range row {
				mean += a
			}
			mean /= float64(E)
			for _, a := range row {
				v += (a - mean) * (a - mean)
			}
			v /= float64(E)
			for i, a := range row {
				y[r*E+i] = (a-mean)/math.Sqrt(v+cfg.LayerNormEpsilon)*w[i] + b[i]
			}
		}
		return y
	}
	wte := get("wte.weight")
	x := make([]float64, T*E)
	for t, id := range ids {
		for i := 0; i < E; i++ {
			v := wte[id*E+i]
			if cfg.PositionEmbeddingType == "learned" {
				v += get("wpe.weight")[t*E+i]
			}
			x[t*E+i] = v * cfg.EmbeddingsScale
		}
	}
	var slopes []float64
	if cfg.PositionEmbeddingType == "alibi" {
		slopes = get("relative_pe.slopes")
	}
	for l := 0; l < cfg.NLayer; l++ {
		p := fmt.Sprintf("h.%d.", l)
		qkv := conv(norm(x, p+"ln_1", T), p+"attn.c_attn", E, 3*E)
		att := make([]float64, T*E)
		for h := 0; h < H; h++ {
			for i := 0; i < T; i++ {
				scores := make([]float64, i+1)
				maxS := math.Inf(-1)
				for j := 0; j <= i; j++ {
					var s float64
					for d := 0; d < D; d++ {
						s += qkv[i*3*E+h*D+d] * qkv[j*3*E+E+h*D+d]
					}
					if cfg.ScaleAttnWeights {
						if cfg.ScaleQKDotByD {
							s /= float64(D)
						} else {
							s /= math.Sqrt(float64(D))
						}
					}
					if cfg.ScaleAttnByInverseLayerIdx {
						s /= float64(l + 1)
					}
					if slopes != nil {
						scale := 1.0
						if a := cfg.AlibiScaling; a != nil && a.Factor > 0 {
							scale = a.Factor
						} else if a != nil && T > a.TrainSeqLen {
							scale = float64(T) / float64(a.TrainSeqLen)
						}
						s -= slopes[h] / scale * float64(i-j)
					}
					scores[j] = s
					maxS = math.Max(maxS, s)
				}
				var sum float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - maxS)
					sum += scores[j]
				}
				for j := range scores {
					for d := 0; d < D; d++ {
						att[i*E+h*D+d] += scores[j] / sum * qkv[j*3*E+2*E+h*D+d]
					}
				}
			}
		}
		a := conv(att, p+"attn.c_proj", E, E)
		for i := range x {
			x[i] += a[i]
		}
		h := norm(x, p+"ln_2", T)
		up := conv(h, p+"mlp.c_fc", E, I)
		if cfg.ActivationFunction == "swiglu" {
			gate := conv(h, p+"mlp.c_fc2", E, I)
			for i := range up {
				up[i] *= gate[i] / (1 + math.Exp(-gate[i]))
			}
		} else {
			for i, v := range up {
				switch cfg.ActivationFunction {
				case "gelu_new":
					up[i] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
				case "relu":
					up[i] = math.Max(0, v)
				default:
					t.Fatalf("reference: activation %s", cfg.ActivationFunction)
				}
			}
		}
		down := conv(up, p+"mlp.c_proj", I, E)
		for i := range x {
			x[i] += down[i]
		}
	}
	last := norm(x, "ln_f", T)[(T-1)*E:]
	head := wte
	if !cfg.TieWordEmbeddings {
		if _, ok := src.Lookup("lm_head.weight"); ok {
			head = get("lm_head.weight")
		}
	}
	logits := make([]float64, cfg.VocabSize)
	for v := range logits {
		var s float64
		for i := 0; i < E; i++ {
			s += head[v*E+i] * last[i]
		}
		logits[v] = s * cfg.OutputLogitsScale
	}
	return logits
}
