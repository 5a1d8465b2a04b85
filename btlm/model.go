// Package btlm runs Cerebras BTLM-3B-8K (and other BTLM/JAIS-architecture checkpoints)
// natively in Go, in float32, following modeling_btlm.py of cerebras/btlm-3b-8k-base as
// run by transformers 4.30 (see ../shared/reference/btlm-model.md §3): a GPT-2-style
// pre-LayerNorm decoder with ALiBi position bias, SwiGLU MLP and muP scalars.
//
// A Model is immutable after loading and may be shared; each Sequence owns a KV cache
// and is used by one goroutine at a time.
package btlm

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/btlm-miner/btlm-miner/checkpoint"
	"github.com/btlm-miner/btlm-miner/kernels"
)

// TensorSource supplies named tensors (a checkpoint, or in-memory weights).
type TensorSource = checkpoint.Source

// Options control how a model runs.
type Options struct {
	// Threads is the size of the model's persistent worker pool, which every matrix
	// product and the attention heads are split over; 0 = runtime.NumCPU().
	Threads int
	// Quant is the in-memory weight format of the matrices (the embedding, which the
	// tied lm_head shares, included): "none" or "" (float32), "bf16" or "q8_0" (8-bit
	// blocks of 32 with one scale each; see package kernels). Weights are converted
	// tensor by tensor while loading; no other file is needed. Layer norms, biases and
	// the KV cache stay float32.
	Quant string
}

// LayerNorm holds an affine layer norm's parameters.
type LayerNorm struct {
	Weight, Bias []float32
}

// Block is one transformer layer (transformer.h.{i}).
type Block struct {
	LN1     LayerNorm
	QKV     Linear // attn.c_attn: NEmbd → 3·NEmbd, columns Q | K | V
	AttnOut Linear // attn.c_proj
	LN2     LayerNorm
	Up      Linear // mlp.c_fc
	Gate    Linear // mlp.c_fc2, the SwiGLU gate (empty unless activation is swiglu)
	Down    Linear // mlp.c_proj
}

// Model is a loaded BTLM model.
type Model struct {
	cfg    Config
	format kernels.Format
	pool   *kernels.Pool
	wte    *kernels.Matrix // [VocabSize][NEmbd]; rows are looked up (dequantized) one at a time
	wpe    []float32       // [NPositions][NEmbd], learned positions only
	slopes []float32       // ALiBi slope per head
	blocks []Block
	lnF    LayerNorm
	lmHead Linear // shares wte's memory when tied
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Format returns the weight format the matrices are held in.
func (m *Model) Format() kernels.Format { return m.format }

// Threads returns the size of the model's worker pool.
func (m *Model) Threads() int { return m.pool.Threads() }

// WeightBytes returns the memory the weight matrices, embeddings, norms and biases
// occupy (the tied lm_head counted once).
func (m *Model) WeightBytes() int64 {
	n := m.wte.Bytes() + 4*int64(len(m.wpe)+len(m.slopes)+2*len(m.lnF.Weight))
	lin := func(l *Linear) {
		if l.W != nil {
			n += l.W.Bytes() + 4*int64(len(l.B))
		}
	}
	for i := range m.blocks {
		b := &m.blocks[i]
		n += 4 * int64(2*len(b.LN1.Weight)+2*len(b.LN2.Weight))
		for _, l := range []*Linear{&b.QKV, &b.AttnOut, &b.Up, &b.Gate, &b.Down} {
			lin(l)
		}
	}
	if m.lmHead.W != m.wte {
		lin(&m.lmHead)
	}
	return n
}

// Close stops the model's worker pool. It is optional (the pool is also stopped when
// the Model becomes unreachable); the model must not be used afterwards.
func (m *Model) Close() { m.pool.Close() }

// Load reads dir/config.json and the weights in dir (model.safetensors, a sharded
// safetensors index, pytorch_model.bin or a sharded PyTorch index, in that order of
// preference).
func Load(dir string, opts Options) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	ck, err := checkpoint.Open(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	m, err := FromTensors(cfg, ck, opts)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	return m, nil
}

// FromTensors builds a model from cfg and the tensors of src, named as in a Hugging Face
// BTLM checkpoint with or without the "transformer." prefix. attn.bias/attn.masked_bias
// buffers and other extra tensors are ignored. lm_head.weight is tied to wte when
// tie_word_embeddings is set (the default) or when it is absent. Missing ALiBi slopes
// get the analytic values modeling_btlm.py initialises them with. Every tensor's shape
// is checked against cfg.
func FromTensors(cfg Config, src TensorSource, opts Options) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	quant := opts.Quant
	if quant == "" {
		quant = "none"
	}
	format, err := kernels.ParseFormat(quant)
	if err != nil {
		return nil, err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	m := &Model{cfg: cfg, format: format, pool: kernels.NewPool(threads)}
	b := &binder{src: src, conv: converter{format: format, pool: m.pool}}
	if err := m.bind(b); err != nil {
		m.pool.Close()
		return nil, err
	}
	b.conv.release()
	debug.FreeOSMemory()
	runtime.AddCleanup(m, func(p *kernels.Pool) { p.Close() }, m.pool)
	return m, nil
}

// bind loads every tensor of m.cfg from b into m.
func (m *Model) bind(b *binder) error {
	cfg, format := m.cfg, m.format
	E, I, V := cfg.NEmbd, cfg.NInner, cfg.VocabSize
	wte, err := b.loadLinearRows("wte.weight", V, E)
	if err != nil {
		return err
	}
	m.wte = wte.W
	if format != kernels.F32 {
		debug.FreeOSMemory() // the embedding's float32 copy (the largest tensor) is garbage now
	}
	if cfg.PositionEmbeddingType == "learned" {
		if m.wpe, err = b.matrix("wpe.weight", cfg.NPositions, E); err != nil {
			return err
		}
	} else {
		if m.slopes, err = b.slopes(cfg.NHead); err != nil {
			return err
		}
	}
	m.blocks = make([]Block, cfg.NLayer)
	for i := range m.blocks {
		blk := &m.blocks[i]
		p := fmt.Sprintf("h.%d.", i)
		if blk.LN1, err = b.layerNorm(p+"ln_1", E); err != nil {
			return err
		}
		if blk.QKV, err = b.loadConv1D(p+"attn.c_attn", E, 3*E); err != nil {
			return err
		}
		if blk.AttnOut, err = b.loadConv1D(p+"attn.c_proj", E, E); err != nil {
			return err
		}
		if blk.LN2, err = b.layerNorm(p+"ln_2", E); err != nil {
			return err
		}
		if blk.Up, err = b.loadConv1D(p+"mlp.c_fc", E, I); err != nil {
			return err
		}
		if cfg.ActivationFunction == "swiglu" {
			if blk.Gate, err = b.loadConv1D(p+"mlp.c_fc2", E, I); err != nil {
				return err
			}
		}
		if blk.Down, err = b.loadConv1D(p+"mlp.c_proj", I, E); err != nil {
			return err
		}
	}
	if m.lnF, err = b.layerNorm("ln_f", E); err != nil {
		return err
	}
	if _, ok := b.src.Lookup("lm_head.weight"); ok && !cfg.TieWordEmbeddings {
		if m.lmHead, err = b.loadLinearRows("lm_head.weight", V, E); err != nil {
			return err
		}
	} else {
		m.lmHead = Linear{In: E, Out: V, W: m.wte}
	}
	return nil
}

// binder reads tensors by name and checks their shapes.
type binder struct {
	src  TensorSource
	conv converter
}

// resolve finds name with the "transformer." prefix, or without it, and checks its
// shape. lm_head.weight is looked up as is.
func (b *binder) resolve(name string, shape []int) (string, error) {
	candidates := []string{"transformer." + name, name}
	if name == "lm_head.weight" {
		candidates = []string{name}
	}
	for _, n := range candidates {
		info, ok := b.src.Lookup(n)
		if !ok {
			continue
		}
		if !sameShape(info.Shape, shape) {
			return "", fmt.Errorf("tensor %s: expected shape %v, found %v", n, shape, info.Shape)
		}
		if !info.DType.IsFloat() {
			return "", fmt.Errorf("tensor %s: dtype %s is not a floating-point type", n, info.DType)
		}
		return n, nil
	}
	return "", fmt.Errorf("tensor %s (shape %v) is missing from the checkpoint", candidates[0], shape)
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (b *binder) read(name string, shape []int) ([]float32, error) {
	n, err := b.resolve(name, shape)
	if err != nil {
		return nil, err
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	out := make([]float32, size)
	if err := b.src.ReadFloat32(n, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (b *binder) vector(name string, n int) ([]float32, error) { return b.read(name, []int{n}) }

func (b *binder) matrix(name string, rows, cols int) ([]float32, error) {
	return b.read(name, []int{rows, cols})
}

func (b *binder) layerNorm(prefix string, n int) (LayerNorm, error) {
	w, err := b.vector(prefix+".weight", n)
	if err != nil {
		return LayerNorm{}, err
	}
	bias, err := b.vector(prefix+".bias", n)
	if err != nil {
		return LayerNorm{}, err
	}
	return LayerNorm{Weight: w, Bias: bias}, nil
}

// slopes reads relative_pe.slopes ([n_head, 1]; [n_head] is accepted too), or computes
// the initial values when the checkpoint has none.
func (b *binder) slopes(nHead int) ([]float32, error) {
	for _, n := range []string{"transformer.relative_pe.slopes", "relative_pe.slopes"} {
		info, ok := b.src.Lookup(n)
		if !ok {
			continue
		}
		if !sameShape(info.Shape, []int{nHead, 1}) && !sameShape(info.Shape, []int{nHead}) {
			return nil, fmt.Errorf("tensor %s: expected shape [%d 1], found %v", n, nHead, info.Shape)
		}
		if !info.DType.IsFloat() {
			return nil, fmt.Errorf("tensor %s: dtype %s is not a floating-point type", n, info.DType)
		}
		out := make([]float32, nHead)
		if err := b.src.ReadFloat32(n, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return AlibiSlopes(nHead), nil
}

// AlibiSlopes returns the ALiBi slopes modeling_btlm.py initialises (Press et al.):
// 2^(-8(h+1)/n) for a power-of-two n, interleaved for other head counts. Checkpoints
// store rounded copies, which the loader prefers.
func AlibiSlopes(n int) []float32 {
	var pow2 func(n int) []float64
	pow2 = func(n int) []float64 {
		start := math.Pow(2, -math.Pow(2, -(math.Log2(float64(n))-3)))
		out := make([]float64, n)
		for i := range out {
			out[i] = start * math.Pow(start, float64(i))
		}
		return out
	}
	var slopes func(n int) []float64
	slopes = func(n int) []float64 {
		l := math.Log2(float64(n))
		if l == math.Trunc(l) {
			return pow2(n)
		}
		closest := 1 << int(math.Floor(l))
		extra := slopes(2 * closest)
		out := pow2(closest)
		for i := 0; i < 2*closest && len(out) < n; i += 2 {
			out = append(out, extra[i])
		}
		return out
	}
	s := slopes(n)
	out := make([]float32, n)
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}
