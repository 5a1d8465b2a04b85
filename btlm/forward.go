package btlm

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrContextFull is returned (wrapped) when a Forward call would take a sequence past
// the model's n_positions. Hugging Face fails in that case too (its causal-mask buffer
// is n_positions long); callers decide whether to truncate the prompt instead.
var ErrContextFull = errors.New("context window full")

// Sequence is one token sequence being processed, with its own KV cache. The cache grows
// on demand up to NPositions. A Sequence must not be used by two goroutines at once;
// many Sequences may share one Model.
type Sequence struct {
	m   *Model
	n   int // tokens in the cache
	cap int // positions allocated in the cache
	k   [][]float32
	v   [][]float32 // per layer: [cap][NEmbd], heads side by side

	rows                int // tokens the scratch buffers hold
	x, h, qkv, att, tmp []float32
	up, gate            []float32
	scores              []float32 // [NHead][cap]
	logits              []float32
}

// NewSequence returns an empty sequence.
func (m *Model) NewSequence() *Sequence {
	return &Sequence{
		m:      m,
		k:      make([][]float32, m.cfg.NLayer),
		v:      make([][]float32, m.cfg.NLayer),
		logits: make([]float32, m.cfg.VocabSize),
	}
}

// Len returns the number of tokens processed so far (the next token's position).
func (s *Sequence) Len() int { return s.n }

// Reset empties the sequence, keeping its buffers.
func (s *Sequence) Reset() { s.n = 0 }

// Forward appends ids at positions Len(), Len()+1, ... and returns the logits (VocabSize
// values, already multiplied by the output logits scale) of the last of them. The slice
// is owned by the Sequence and valid until the next call. ctx is checked between layers;
// on any error the sequence is left as it was before the call.
func (s *Sequence) Forward(ctx context.Context, ids []int) ([]float32, error) {
	cfg := &s.m.cfg
	if len(ids) == 0 {
		return nil, fmt.Errorf("forward: no tokens")
	}
	if s.n+len(ids) > cfg.NPositions {
		return nil, fmt.Errorf("forward: %d cached + %d new tokens exceed n_positions %d: %w",
			s.n, len(ids), cfg.NPositions, ErrContextFull)
	}
	for i, id := range ids {
		if id < 0 || id >= cfg.VocabSize {
			return nil, fmt.Errorf("forward: token %d (index %d) is outside the vocabulary [0, %d)", id, i, cfg.VocabSize)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	T, P, E := len(ids), s.n, cfg.NEmbd
	s.reserve(P+T, T)
	m := s.m
	x := s.x[:T*E]

	// Token embeddings (plus learned positions) times the embeddings scale.
	scale := float32(cfg.EmbeddingsScale)
	for t, id := range ids {
		row := x[t*E : (t+1)*E]
		copy(row, m.wte[id*E:(id+1)*E])
		if m.wpe != nil {
			pos := m.wpe[(P+t)*E : (P+t+1)*E]
			for i := range row {
				row[i] += pos[i]
			}
		}
		for i := range row {
			row[i] *= scale
		}
	}

	for l := range m.blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.block(l, T, P)
	}

	// Final norm and the (tied) head, for the last position only.
	last := s.h[:E]
	layerNorm(last, x[(T-1)*E:T*E], m.lnF, 1, E, float32(cfg.LayerNormEpsilon))
	linear(m.workers, s.logits, last, &m.lmHead, 1)
	outScale := float32(cfg.OutputLogitsScale)
	for i := range s.logits {
		s.logits[i] *= outScale
	}
	s.n += T
	return s.logits, nil
}

// block runs transformer layer l on the T rows of s.x (positions P..P+T-1).
func (s *Sequence) block(l, T, P int) {
	m, cfg := s.m, &s.m.cfg
	E, I := cfg.NEmbd, cfg.NInner
	blk := &m.blocks[l]
	eps := float32(cfg.LayerNormEpsilon)
	x, h := s.x[:T*E], s.h[:T*E]

	// Attention sub-block.
	layerNorm(h, x, blk.LN1, T, E, eps)
	qkv := s.qkv[:T*3*E]
	linear(m.workers, qkv, h, &blk.QKV, T)
	for t := 0; t < T; t++ {
		row := qkv[t*3*E:]
		copy(s.k[l][(P+t)*E:(P+t+1)*E], row[E:2*E])
		copy(s.v[l][(P+t)*E:(P+t+1)*E], row[2*E:3*E])
	}
	s.attention(l, T, P)
	tmp := s.tmp[:T*E]
	linear(m.workers, tmp, s.att[:T*E], &blk.AttnOut, T)
	addInPlace(x, tmp)

	// MLP sub-block.
	layerNorm(h, x, blk.LN2, T, E, eps)
	up := s.up[:T*I]
	linear(m.workers, up, h, &blk.Up, T)
	if cfg.ActivationFunction == "swiglu" {
		gate := s.gate[:T*I]
		linear(m.workers, gate, h, &blk.Gate, T)
		for i, g := range gate {
			up[i] *= silu(g)
		}
	} else {
		activate(up, cfg.ActivationFunction)
	}
	linear(m.workers, tmp, up, &blk.Down, T)
	addInPlace(x, tmp)
}

// attention computes s.att for the T new queries of layer l over all P+T cached keys:
// softmax(q·k / scale + causal mask + ALiBi bias)·v per head, heads side by side.
func (s *Sequence) attention(l, T, P int) {
	m, cfg := s.m, &s.m.cfg
	E, H := cfg.NEmbd, cfg.NHead
	D := E / H
	L := P + T
	var divisor float32 = 1
	if cfg.ScaleAttnWeights {
		power := 0.5
		if cfg.ScaleQKDotByD {
			power = 1
		}
		divisor = float32(math.Pow(float64(D), power))
	}
	layerDiv := float32(1)
	if cfg.ScaleAttnByInverseLayerIdx {
		layerDiv = float32(l + 1)
	}
	alibiScale := 1.0
	if a := cfg.AlibiScaling; a != nil {
		if a.Factor > 0 {
			alibiScale = a.Factor
		} else if a.TrainSeqLen > 0 && L > a.TrainSeqLen {
			alibiScale = float64(L) / float64(a.TrainSeqLen)
		}
	}
	keys, values := s.k[l], s.v[l]
	qkv, att := s.qkv, s.att
	m.workers.run(H, 1, func(lo, hi int) {
		for h := lo; h < hi; h++ {
			scores := s.scores[h*s.cap : h*s.cap+L]
			var slope float32
			if m.slopes != nil {
				slope = float32(float64(m.slopes[h]) / -alibiScale)
			}
			for t := 0; t < T; t++ {
				i := P + t // absolute query position; keys j > i are masked
				q := qkv[t*3*E+h*D : t*3*E+h*D+D]
				maxScore := float32(math.Inf(-1))
				for j := 0; j <= i; j++ {
					sc := dot(q, keys[j*E+h*D:j*E+h*D+D]) / divisor
					if layerDiv != 1 {
						sc /= layerDiv
					}
					if m.slopes != nil {
						sc += slope * float32(i-j)
					}
					scores[j] = sc
					if sc > maxScore {
						maxScore = sc
					}
				}
				var sum float32
				for j := 0; j <= i; j++ {
					e := float32(math.Exp(float64(scores[j] - maxScore)))
					scores[j] = e
					sum += e
				}
				out := att[t*E+h*D : t*E+h*D+D]
				for d := range out {
					out[d] = 0
				}
				inv := 1 / sum
				for j := 0; j <= i; j++ {
					p := scores[j] * inv
					vr := values[j*E+h*D : j*E+h*D+D]
					for d, v := range vr {
						out[d] += p * v
					}
				}
			}
		}
	})
}

// reserve makes room for total cached positions and rows new tokens.
func (s *Sequence) reserve(total, rows int) {
	cfg := &s.m.cfg
	E, I := cfg.NEmbd, cfg.NInner
	if total > s.cap {
		newCap := 2 * s.cap
		if newCap < 64 {
			newCap = 64
		}
		if newCap < total {
			newCap = total
		}
		if newCap > cfg.NPositions {
			newCap = cfg.NPositions
		}
		for l := range s.k {
			s.k[l] = grow(s.k[l], s.n*E, newCap*E)
			s.v[l] = grow(s.v[l], s.n*E, newCap*E)
		}
		s.cap = newCap
		s.scores = make([]float32, cfg.NHead*newCap)
	}
	if rows > s.rows {
		s.x = make([]float32, rows*E)
		s.h = make([]float32, rows*E)
		s.qkv = make([]float32, rows*3*E)
		s.att = make([]float32, rows*E)
		s.tmp = make([]float32, rows*E)
		s.up = make([]float32, rows*I)
		if cfg.ActivationFunction == "swiglu" {
			s.gate = make([]float32, rows*I)
		}
		s.rows = rows
	}
}

// grow returns a buffer of n values whose first keep values are old's.
func grow(old []float32, keep, n int) []float32 {
	b := make([]float32, n)
	copy(b, old[:keep])
	return b
}

// layerNorm normalises each of the rows of x (width n) into out: (x-mean)/sqrt(var+eps)
// ·weight + bias, with the biased variance (torch.nn.LayerNorm). Statistics are
// accumulated in float64.
func layerNorm(out, x []float32, ln LayerNorm, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		xr := x[r*n : (r+1)*n]
		or := out[r*n : (r+1)*n]
		var mean float64
		for _, v := range xr {
			mean += float64(v)
		}
		mean /= float64(n)
		var variance float64
		for _, v := range xr {
			d := float64(v) - mean
			variance += d * d
		}
		variance /= float64(n)
		inv := float32(1 / math.Sqrt(variance+float64(eps)))
		mf := float32(mean)
		for i, v := range xr {
			or[i] = (v-mf)*inv*ln.Weight[i] + ln.Bias[i]
		}
	}
}

func addInPlace(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

func silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// activate applies a non-gated activation in place (transformers ACT2FN semantics).
func activate(x []float32, name string) {
	for i, v := range x {
		f := float64(v)
		switch name {
		case "gelu_new":
			f = 0.5 * f * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(f+0.044715*f*f*f)))
		case "gelu":
			f = 0.5 * f * (1 + math.Erf(f/math.Sqrt2))
		case "relu":
			f = math.Max(f, 0)
		case "silu":
			f = f / (1 + math.Exp(-f))
		case "tanh":
			f = math.Tanh(f)
		}
		x[i] = float32(f)
	}
}
