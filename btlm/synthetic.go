package btlm

import (
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/btlm-miner/btlm-miner/checkpoint"
)

// TensorLayout lists the tensors a checkpoint for cfg holds, with Hugging Face names
// (with the "transformer." prefix) and shapes, Conv1D weights as [in, out]. lm_head is
// left out (tied), as in safetensors conversions of BTLM.
func TensorLayout(cfg Config) []checkpoint.TensorInfo {
	E, I := cfg.NEmbd, cfg.NInner
	var out []checkpoint.TensorInfo
	add := func(name string, shape ...int) {
		out = append(out, checkpoint.TensorInfo{Name: "transformer." + name, DType: checkpoint.F32, Shape: shape})
	}
	add("wte.weight", cfg.VocabSize, E)
	if cfg.PositionEmbeddingType == "learned" {
		add("wpe.weight", cfg.NPositions, E)
	} else {
		add("relative_pe.slopes", cfg.NHead, 1)
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		add(p+"ln_1.weight", E)
		add(p+"ln_1.bias", E)
		add(p+"attn.c_attn.weight", E, 3*E)
		add(p+"attn.c_attn.bias", 3*E)
		add(p+"attn.c_proj.weight", E, E)
		add(p+"attn.c_proj.bias", E)
		add(p+"ln_2.weight", E)
		add(p+"ln_2.bias", E)
		add(p+"mlp.c_fc.weight", E, I)
		add(p+"mlp.c_fc.bias", I)
		if cfg.ActivationFunction == "swiglu" {
			add(p+"mlp.c_fc2.weight", E, I)
			add(p+"mlp.c_fc2.bias", I)
		}
		add(p+"mlp.c_proj.weight", I, E)
		add(p+"mlp.c_proj.bias", E)
	}
	add("ln_f.weight", E)
	add("ln_f.bias", E)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// syntheticSource generates deterministic pseudo-random weights on demand, so a model of
// any size can be built without a file and without a second copy of the weights.
type syntheticSource struct {
	seed    uint64
	tensors map[string]checkpoint.TensorInfo
	list    []checkpoint.TensorInfo
}

// SyntheticTensors returns a TensorSource with every tensor of TensorLayout(cfg) filled
// with seeded pseudo-random values: matrices uniform in ±1/√in, biases small, layer norm
// weights near 1, ALiBi slopes analytic. Values depend only on seed and the tensor name.
// It is meant for benchmarks and tests (for example real BTLM-3B shapes in memory).
func SyntheticTensors(cfg Config, seed uint64) TensorSource {
	s := &syntheticSource{seed: seed, tensors: map[string]checkpoint.TensorInfo{}, list: TensorLayout(cfg)}
	for _, t := range s.list {
		s.tensors[t.Name] = t
	}
	return s
}

func (s *syntheticSource) Tensors() []checkpoint.TensorInfo {
	return append([]checkpoint.TensorInfo(nil), s.list...)
}

func (s *syntheticSource) Lookup(name string) (checkpoint.TensorInfo, bool) {
	t, ok := s.tensors[name]
	return t, ok
}

func (s *syntheticSource) ReadFloat32(name string, dst []float32) error {
	t, ok := s.tensors[name]
	if !ok {
		return fmt.Errorf("read %s: tensor %w", name, checkpoint.ErrNotFound)
	}
	if len(dst) != t.NumElements() {
		return fmt.Errorf("read %s: destination holds %d elements, want %d", name, len(dst), t.NumElements())
	}
	if strings.HasSuffix(name, "relative_pe.slopes") {
		copy(dst, AlibiSlopes(len(dst)))
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	state := h.Sum64() ^ s.seed
	var center, amp float32
	switch {
	case strings.Contains(name, ".ln_") || strings.HasPrefix(name, "transformer.ln_f"):
		if strings.HasSuffix(name, ".weight") {
			center, amp = 1, 0.1
		} else {
			amp = 0.05
		}
	case strings.HasSuffix(name, ".bias"):
		amp = 0.02
	default: // matrices: uniform with variance about 1/(3·in)
		amp = float32(1 / math.Sqrt(float64(t.Shape[0])))
		if strings.Contains(name, "wte") || strings.Contains(name, "wpe") {
			amp = 0.1
		}
	}
	// Element i is splitmix64's output for state0 + (i+1)·γ, so large tensors are filled
	// in parallel with the same values.
	fill := func(lo, hi int) {
		st := state + uint64(lo)*0x9e3779b97f4a7c15
		for i := lo; i < hi; i++ {
			st += 0x9e3779b97f4a7c15
			z := st
			z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
			z = (z ^ z>>27) * 0x94d049bb133111eb
			z ^= z >> 31
			u := float32(z>>40)/float32(1<<24)*2 - 1 // uniform in [-1, 1)
			dst[i] = center + amp*u
		}
	}
	parallelRange(len(dst), 1<<20, fill)
	return nil
}

// parallelRange calls fn on about NumCPU disjoint parts of [0, n) at once when n is at
// least minPart (load-time work only).
func parallelRange(n, minPart int, fn func(lo, hi int)) {
	k := min(runtime.NumCPU(), n/max(minPart, 1))
	if k <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i*n/k, (i+1)*n/k)
		}()
	}
	wg.Wait()
}
