package btlm

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/btlm-miner/btlm-miner/kernels"
)

// ErrContextFull is returned (wrapped) when a Forward call would take a sequence past
// the model's n_positions. Hugging Face fails in that case too (its causal-mask buffer
// is n_positions long); callers decide whether to truncate the prompt instead.
var ErrContextFull = errors.New("context window full")

// maxChunkRows bounds how many tokens one pass of Sequence.Forward processes, so a long
// prompt is run in chunks and the activation buffers stay small.
const maxChunkRows = 256

// Sequence is one token sequence being processed, with its own KV cache. The cache grows
// on demand up to NPositions. A Sequence must not be used by two goroutines at once;
// many Sequences may share one Model.
type Sequence struct {
	m      *Model
	kv     kvCache
	ws     workspace
	logits []float32
}

// NewSequence returns an empty sequence.
func (m *Model) NewSequence() *Sequence {
	return &Sequence{
		m:      m,
		kv:     newKVCache(&m.cfg),
		logits: make([]float32, m.cfg.VocabSize),
	}
}

// Len returns the number of tokens processed so far (the next token's position).
func (s *Sequence) Len() int { return s.kv.n }

// Reset empties the sequence, keeping its buffers.
func (s *Sequence) Reset() { s.kv.n = 0 }

// Reserve allocates the KV cache for n positions (at most n_positions) now, so that
// a caller that knows its prompt length plus max_new_tokens avoids growing (copying) the
// cache while it generates.
func (s *Sequence) Reserve(n int) { s.kv.reserveExact(n) }

// CacheBytes reports the memory the sequence's KV cache holds (float32 keys and values
// for every allocated position).
func (s *Sequence) CacheBytes() int64 { return s.kv.bytes() }

// Forward appends ids at positions Len(), Len()+1, ... and returns the logits (VocabSize
// values, already multiplied by the output logits scale) of the last of them. The slice
// is owned by the Sequence and valid until the next call. ctx is checked between layers;
// on any error the sequence is left as it was before the call.
func (s *Sequence) Forward(ctx context.Context, ids []int) ([]float32, error) {
	if err := s.m.checkIDs(s.kv.n, ids); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	P, T := s.kv.n, len(ids)
	s.kv.reserve(P + T)
	s.ws.reserve(s.m, min(T, maxChunkRows), 1)
	for done := 0; done < T; {
		n := min(T-done, maxChunkRows)
		// ids are copied, so that callers' slices do not escape to the heap.
		s.ws.ids = append(s.ws.ids[:0], ids[done:done+n]...)
		seg := segment{ctx: ctx, kv: &s.kv, ids: s.ws.ids, pos: P + done, keyLen: P + T}
		if done+n == T {
			seg.out = s.logits
		}
		s.ws.segs = append(s.ws.segs[:0], seg)
		s.m.forward(&s.ws)
		if err := s.ws.segs[0].err; err != nil {
			return nil, err
		}
		done += n
	}
	s.kv.n = P + T
	return s.logits, nil
}

// checkIDs validates a Forward call appending ids after n cached tokens.
func (m *Model) checkIDs(n int, ids []int) error {
	cfg := &m.cfg
	if len(ids) == 0 {
		return fmt.Errorf("forward: no tokens")
	}
	if len(ids) > cfg.NPositions || n+len(ids) > cfg.NPositions {
		return fmt.Errorf("forward: %d cached + %d new tokens exceed n_positions %d: %w",
			n, len(ids), cfg.NPositions, ErrContextFull)
	}
	for i, id := range ids {
		if id < 0 || id >= cfg.VocabSize {
			return fmt.Errorf("forward: token %d (index %d) is outside the vocabulary [0, %d)", id, i, cfg.VocabSize)
		}
	}
	return nil
}

// kvCache holds one sequence's keys and values: per layer [cap][NEmbd], heads side by
// side. Positions < n are valid.
type kvCache struct {
	cfg  *Config
	n    int
	cap  int
	k, v [][]float32
}

func newKVCache(cfg *Config) kvCache {
	return kvCache{cfg: cfg, k: make([][]float32, cfg.NLayer), v: make([][]float32, cfg.NLayer)}
}

// reserve makes room for total positions (at most NPositions).
func (c *kvCache) reserve(total int) {
	if total <= c.cap {
		return
	}
	// Grow by a quarter (rounded up to 64 positions), so at most about 25 % of the
	// cache is unused while copies stay rare.
	E := c.cfg.NEmbd
	newCap := (max(c.cap+c.cap/4, total) + 63) / 64 * 64
	newCap = min(newCap, c.cfg.NPositions)
	for l := range c.k {
		c.k[l] = grow(c.k[l], c.n*E, newCap*E)
		c.v[l] = grow(c.v[l], c.n*E, newCap*E)
	}
	c.cap = newCap
}

// reserveExact grows the cache to exactly n positions (at most NPositions) if smaller.
func (c *kvCache) reserveExact(n int) {
	n = min(n, c.cfg.NPositions)
	if n <= c.cap {
		return
	}
	E := c.cfg.NEmbd
	for l := range c.k {
		c.k[l] = grow(c.k[l], c.n*E, n*E)
		c.v[l] = grow(c.v[l], c.n*E, n*E)
	}
	c.cap = n
}

// Bytes reports the memory the cache holds.
func (c *kvCache) bytes() int64 { return int64(2*len(c.k)*c.cap*c.cfg.NEmbd) * 4 }

// grow returns a buffer of n values whose first keep values are old's.
func grow(old []float32, keep, n int) []float32 {
	b := make([]float32, n)
	copy(b, old[:keep])
	return b
}

// segment is one sequence's share of a forward pass: ids at positions pos, pos+1, ...
// of the sequence whose cache is kv.
type segment struct {
	ctx    context.Context
	kv     *kvCache
	ids    []int
	pos    int
	keyLen int       // the key length of the whole Forward call (for dynamic ALiBi scaling)
	out    []float32 // where the logits of the last id go; nil: not wanted
	tag    any       // the caller's (the batcher's request)
	err    error     // set when ctx was cancelled during the pass
}

// workspace holds the activations of one forward pass over up to rows tokens, which may
// belong to several sequences (segments).
type workspace struct {
	rows, outs                  int
	x, h, qkv, att, tmp, up, gt []float32
	scores                      []float32 // [NHead][NPositions]
	logits                      []float32 // [outs][VocabSize]
	segs                        []segment
	ids                         []int   // Sequence.Forward's current chunk
	rowSeg, rowPos              []int32 // per row: segment index, absolute position

	m     *Model
	T     int // rows in the current pass
	layer int
	ln    struct { // the layer norm normRows applies
		out, x []float32
		p      LayerNorm
	}
	normRows func(lo, hi int)
	swiglu   func(lo, hi int)
	onAbort  func(*segment) // called when a segment's context ends mid-pass
	attnHead func(lo, hi int)
}

// reserve sizes the buffers for rows tokens and outs logits rows.
func (w *workspace) reserve(m *Model, rows, outs int) {
	cfg := &m.cfg
	E, I := cfg.NEmbd, cfg.NInner
	if w.m == nil {
		w.m = m
		w.attnHead = w.attentionHeads
		w.normRows = w.layerNormRows
		w.swiglu = w.swigluRange
		w.scores = make([]float32, cfg.NHead*cfg.NPositions)
	}
	if rows > w.rows {
		w.x = make([]float32, rows*E)
		w.h = make([]float32, rows*E)
		w.qkv = make([]float32, rows*3*E)
		w.att = make([]float32, rows*E)
		w.tmp = make([]float32, rows*E)
		w.up = make([]float32, rows*I)
		if cfg.ActivationFunction == "swiglu" {
			w.gt = make([]float32, rows*I)
		}
		w.rowSeg = make([]int32, rows)
		w.rowPos = make([]int32, rows)
		w.rows = rows
	}
	if outs > w.outs {
		w.logits = make([]float32, outs*cfg.VocabSize)
		w.outs = outs
	}
}

// forward runs the model over the segments in w.segs (their kv caches must have room,
// and w must have been reserved for their rows and outputs): it writes each segment's
// keys and values into its cache at its positions and, where out is set, the logits of
// its last token. A segment whose context ends is dropped between layers (err set,
// onAbort called); the others are unaffected. Cache lengths (kv.n) are not changed.
func (m *Model) forward(w *workspace) {
	cfg := &m.cfg
	E := cfg.NEmbd
	T := 0
	for i := range w.segs {
		sg := &w.segs[i]
		for j := range sg.ids {
			w.rowSeg[T], w.rowPos[T] = int32(i), int32(sg.pos+j)
			T++
		}
	}
	w.T = T
	x := w.x[:T*E]

	// Token embeddings (plus learned positions) times the embeddings scale.
	scale := float32(cfg.EmbeddingsScale)
	r := 0
	for i := range w.segs {
		sg := &w.segs[i]
		for j, id := range sg.ids {
			t := sg.pos + j
			row := x[r*E : (r+1)*E]
			r++
			m.wte.Row(id, row)
			if m.wpe != nil {
				addInPlace(row, m.wpe[t*E:(t+1)*E])
			}
			for k := range row {
				row[k] *= scale
			}
		}
	}

	for l := range m.blocks {
		if !w.checkContexts() {
			return
		}
		m.block(w, l, T)
	}

	// Final norm and the (tied) head, for the last token of the segments that want it.
	k, first := 0, 0
	for i := range w.segs {
		sg := &w.segs[i]
		first += len(sg.ids)
		if sg.out == nil || sg.err != nil {
			continue
		}
		last := first - 1
		layerNorm(w.h[k*E:(k+1)*E], x[last*E:(last+1)*E], m.lnF, 1, E, float32(cfg.LayerNormEpsilon))
		k++
	}
	if k == 0 {
		return
	}
	V := cfg.VocabSize
	linear(m.pool, w.logits, w.h, &m.lmHead, k)
	outScale := float32(cfg.OutputLogitsScale)
	k = 0
	for i := range w.segs {
		sg := &w.segs[i]
		if sg.out == nil || sg.err != nil {
			continue
		}
		for j, v := range w.logits[k*V : (k+1)*V] {
			sg.out[j] = v * outScale
		}
		k++
	}
}

// checkContexts drops segments whose context has ended and reports whether any remain.
func (w *workspace) checkContexts() bool {
	live := false
	for i := range w.segs {
		sg := &w.segs[i]
		if sg.err == nil {
			if err := sg.ctx.Err(); err != nil {
				sg.err = err
				if w.onAbort != nil {
					w.onAbort(sg)
				}
			}
		}
		live = live || sg.err == nil
	}
	return live
}

// block runs transformer layer l on the T rows of w.x.
func (m *Model) block(w *workspace, l, T int) {
	cfg := &m.cfg
	E, I := cfg.NEmbd, cfg.NInner
	blk := &m.blocks[l]
	x, h := w.x[:T*E], w.h[:T*E]

	// Attention sub-block: q, k, v for every row; k and v go into each sequence's cache.
	w.layerNorm(h, x, blk.LN1, T)
	qkv := w.qkv[:T*3*E]
	linear(m.pool, qkv, h, &blk.QKV, T)
	for t := 0; t < T; t++ {
		sg := &w.segs[w.rowSeg[t]]
		if sg.err != nil {
			continue
		}
		p := int(w.rowPos[t])
		row := qkv[t*3*E:]
		copy(sg.kv.k[l][p*E:(p+1)*E], row[E:2*E])
		copy(sg.kv.v[l][p*E:(p+1)*E], row[2*E:3*E])
	}
	w.layer = l
	m.pool.Parallel(cfg.NHead, w.attnHead)
	tmp := w.tmp[:T*E]
	linear(m.pool, tmp, w.att[:T*E], &blk.AttnOut, T)
	addInPlace(x, tmp)

	// MLP sub-block.
	w.layerNorm(h, x, blk.LN2, T)
	up := w.up[:T*I]
	linear(m.pool, up, h, &blk.Up, T)
	if cfg.ActivationFunction == "swiglu" {
		linear(m.pool, w.gt[:T*I], h, &blk.Gate, T)
		m.pool.Parallel(T*I, w.swiglu) // up *= silu(gate)
	} else {
		activate(up, cfg.ActivationFunction)
	}
	linear(m.pool, tmp, up, &blk.Down, T)
	addInPlace(x, tmp)
}

// layerNorm normalises the T rows of x into out, rows split over the pool when there
// are several.
func (w *workspace) layerNorm(out, x []float32, p LayerNorm, T int) {
	if T == 1 {
		layerNorm(out, x, p, 1, w.m.cfg.NEmbd, float32(w.m.cfg.LayerNormEpsilon))
		return
	}
	w.ln.out, w.ln.x, w.ln.p = out, x, p
	w.m.pool.Parallel(T, w.normRows)
	w.ln.out, w.ln.x = nil, nil
}

func (w *workspace) layerNormRows(lo, hi int) {
	E := w.m.cfg.NEmbd
	layerNorm(w.ln.out[lo*E:hi*E], w.ln.x[lo*E:hi*E], w.ln.p, hi-lo, E, float32(w.m.cfg.LayerNormEpsilon))
}

// swigluRange computes up[i] *= silu(gate[i]) for i in [lo, hi) (kernels.SwiGLU).
func (w *workspace) swigluRange(lo, hi int) {
	kernels.SwiGLU(w.up[lo:hi], w.gt[lo:hi])
}

// attentionHeads computes w.att for heads [lo, hi) of layer w.layer: for every row, the
// query attends to its own sequence's cached keys up to its position (causal), with
// scores q·k scaled as BTLM's muP configuration says plus the ALiBi bias, softmax, and
// the weighted sum of values (kernels.AttentionHead, fused).
func (w *workspace) attentionHeads(lo, hi int) {
	m, cfg, l := w.m, &w.m.cfg, w.layer
	E, H := cfg.NEmbd, cfg.NHead
	D := E / H
	var divisor float64 = 1
	if cfg.ScaleAttnWeights {
		power := 0.5
		if cfg.ScaleQKDotByD {
			power = 1
		}
		divisor = math.Pow(float64(D), power)
	}
	if cfg.ScaleAttnByInverseLayerIdx {
		divisor *= float64(l + 1)
	}
	scale := float32(1 / divisor)
	T := w.T
	for h := lo; h < hi; h++ {
		scores := w.scores[h*cfg.NPositions : (h+1)*cfg.NPositions]
		for t := 0; t < T; t++ {
			sg := &w.segs[w.rowSeg[t]]
			if sg.err != nil {
				continue
			}
			var slope float32
			if m.slopes != nil {
				slope = float32(float64(m.slopes[h]) / alibiScale(cfg, sg.keyLen))
			}
			kv := sg.kv
			q := w.qkv[t*3*E+h*D : t*3*E+h*D+D]
			kernels.AttentionHead(w.att[t*E+h*D:t*E+h*D+D], q, kv.k[l][h*D:], kv.v[l][h*D:],
				E, int(w.rowPos[t])+1, scale, slope, scores)
		}
	}
}

// alibiScale is the divisor of the ALiBi slopes for a key length (config alibi_scaling).
func alibiScale(cfg *Config, keyLen int) float64 {
	if a := cfg.AlibiScaling; a != nil {
		if a.Factor > 0 {
			return a.Factor
		}
		if a.TrainSeqLen > 0 && keyLen > a.TrainSeqLen {
			return float64(keyLen) / float64(a.TrainSeqLen)
		}
	}
	return 1
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
