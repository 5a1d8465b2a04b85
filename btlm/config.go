package btlm

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Config is the model configuration read from config.json. Field defaults are those of
// BTLMConfig.__init__ in cerebras/btlm-3b-8k-base's configuration_btlm.py (the same
// signature as JAISConfig): vocab 50257, n_positions 1024, n_embd 768, n_layer 12,
// n_head 12, n_inner 4·n_embd, gelu_new, learned positions, muP scalars 1.0 and false,
// no ALiBi scaling, layer_norm_epsilon 1e-5, bos = eos = 50256, tie_word_embeddings true.
type Config struct {
	VocabSize             int
	NPositions            int
	NEmbd                 int
	NLayer                int
	NHead                 int
	NInner                int    // MLP width; n_inner, or 4·NEmbd when null/absent
	ActivationFunction    string // "swiglu", "gelu_new", "gelu", "relu", "silu", "tanh"
	PositionEmbeddingType string // "alibi" or "learned"
	LayerNormEpsilon      float64

	// EmbeddingsScale multiplies the token (and learned position) embeddings:
	// mup_embeddings_scale, or the older embeddings_scale.
	EmbeddingsScale float64
	// OutputLogitsScale multiplies the logits: mup_output_alpha·mup_width_scale, or the
	// older output_logits_scale (or, JAIS style, a lone width_scale).
	OutputLogitsScale float64
	// ScaleQKDotByD divides attention scores by d_head instead of √d_head:
	// mup_scale_qk_dot_by_d, or the older scale_qk_dot_by_d.
	ScaleQKDotByD              bool
	ScaleAttnWeights           bool
	ScaleAttnByInverseLayerIdx bool
	TieWordEmbeddings          bool
	AlibiScaling               *AlibiScaling // nil: none

	BOSTokenID int
	EOSTokenID int
}

// AlibiScaling is config.json's alibi_scaling: {"type": "linear", "factor": F} (fixed
// interpolation: slopes divided by F) or {"type": "linear", "train_seq_len": N} (dynamic:
// slopes divided by L/N when the key length L exceeds N).
type AlibiScaling struct {
	Type        string
	Factor      float64 // 0 when dynamic
	TrainSeqLen int     // 0 when fixed
}

// HeadDim returns NEmbd / NHead.
func (c Config) HeadDim() int { return c.NEmbd / c.NHead }

// DefaultConfig returns BTLMConfig's defaults.
func DefaultConfig() Config {
	return Config{
		VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, NInner: 4 * 768,
		ActivationFunction: "gelu_new", PositionEmbeddingType: "learned", LayerNormEpsilon: 1e-5,
		EmbeddingsScale: 1, OutputLogitsScale: 1, ScaleQKDotByD: false,
		ScaleAttnWeights: true, TieWordEmbeddings: true,
		BOSTokenID: 50256, EOSTokenID: 50256,
	}
}

// BTLM3BConfig returns the configuration of cerebras/btlm-3b-8k-base (its config.json,
// reference §1.2), for synthetic benchmarks of the real shapes.
func BTLM3BConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead, c.NInner = 50257, 8192, 2560, 32, 32, 6826
	c.ActivationFunction, c.PositionEmbeddingType = "swiglu", "alibi"
	alpha, width := 2.2200000000000003, 0.1
	c.EmbeddingsScale, c.OutputLogitsScale, c.ScaleQKDotByD = 14.6, alpha*width, true
	return c
}

var knownActivations = map[string]bool{"swiglu": true, "gelu_new": true, "gelu": true, "relu": true, "silu": true, "tanh": true}

// Sanity bounds that keep a hostile config.json from asking for absurd allocations.
const (
	maxVocab     = 1 << 22
	maxPositions = 1 << 20
	maxEmbd      = 1 << 16
	maxLayers    = 1 << 10
	maxConfig    = 1 << 20 // bytes
)

// LoadConfig reads and validates a config.json.
func LoadConfig(path string) (Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	if st.Size() > maxConfig {
		return Config{}, fmt.Errorf("load config %s: %d bytes is too large", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses config.json content. Both key spellings are accepted: the mup_*
// keys of the current BTLM config win; the older embeddings_scale, output_logits_scale,
// width_scale and scale_qk_dot_by_d fill in when they are absent. The attribute aliases
// hidden_size, max_position_embeddings, num_attention_heads and num_hidden_layers are
// accepted too. Unknown activation functions and position embedding types are refused.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("config JSON: %w", err)
	}
	p := configParser{raw: raw}
	c := DefaultConfig()
	c.NInner = -1 // null or absent: 4·n_embd
	p.int(&c.VocabSize, "vocab_size")
	p.int(&c.NPositions, "n_positions", "max_position_embeddings")
	p.int(&c.NEmbd, "n_embd", "hidden_size")
	p.int(&c.NLayer, "n_layer", "num_hidden_layers")
	p.int(&c.NHead, "n_head", "num_attention_heads")
	p.int(&c.NInner, "n_inner")
	p.str(&c.ActivationFunction, "activation_function")
	p.str(&c.PositionEmbeddingType, "position_embedding_type")
	p.float(&c.LayerNormEpsilon, "layer_norm_epsilon")
	p.float(&c.EmbeddingsScale, "mup_embeddings_scale", "embeddings_scale")
	p.bool(&c.ScaleQKDotByD, "mup_scale_qk_dot_by_d", "scale_qk_dot_by_d")
	p.bool(&c.ScaleAttnWeights, "scale_attn_weights")
	p.bool(&c.ScaleAttnByInverseLayerIdx, "scale_attn_by_inverse_layer_idx")
	p.bool(&c.TieWordEmbeddings, "tie_word_embeddings")
	p.tokenID(&c.BOSTokenID, "bos_token_id")
	p.tokenID(&c.EOSTokenID, "eos_token_id")

	// Output logits scale: mup_output_alpha · mup_width_scale in the current spelling;
	// output_logits_scale in the first BTLM config; width_scale alone in early JAIS ones.
	alpha, width := 1.0, 1.0
	_, hasAlpha := raw["mup_output_alpha"]
	_, hasWidth := raw["mup_width_scale"]
	switch {
	case hasAlpha || hasWidth:
		p.float(&alpha, "mup_output_alpha")
		p.float(&width, "mup_width_scale")
		c.OutputLogitsScale = alpha * width
	case p.has("output_logits_scale"):
		p.float(&c.OutputLogitsScale, "output_logits_scale")
	case p.has("width_scale"):
		p.float(&c.OutputLogitsScale, "width_scale")
	}
	if p.err != nil {
		return Config{}, p.err
	}
	if msg, ok := raw["alibi_scaling"]; ok && string(msg) != "null" {
		s, err := parseAlibiScaling(msg)
		if err != nil {
			return Config{}, err
		}
		c.AlibiScaling = s
	}
	if c.NInner == -1 {
		c.NInner = 4 * c.NEmbd
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the sizes and the supported architecture variants.
func (c Config) Validate() error {
	checks := []struct {
		name      string
		v, lo, hi int
	}{
		{"vocab_size", c.VocabSize, 1, maxVocab},
		{"n_positions", c.NPositions, 1, maxPositions},
		{"n_embd", c.NEmbd, 1, maxEmbd},
		{"n_layer", c.NLayer, 1, maxLayers},
		{"n_head", c.NHead, 1, maxEmbd},
		{"n_inner", c.NInner, 1, 16 * maxEmbd},
	}
	for _, k := range checks {
		if k.v < k.lo || k.v > k.hi {
			return fmt.Errorf("config %s = %d is outside [%d, %d]", k.name, k.v, k.lo, k.hi)
		}
	}
	if c.NEmbd%c.NHead != 0 {
		return fmt.Errorf("config n_embd %d is not divisible by n_head %d", c.NEmbd, c.NHead)
	}
	if !knownActivations[c.ActivationFunction] {
		return fmt.Errorf("config activation_function %q is not supported (swiglu, gelu_new, gelu, relu, silu, tanh)", c.ActivationFunction)
	}
	if c.PositionEmbeddingType != "alibi" && c.PositionEmbeddingType != "learned" {
		return fmt.Errorf("config position_embedding_type %q is not supported (alibi, learned)", c.PositionEmbeddingType)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"layer_norm_epsilon", c.LayerNormEpsilon}, {"embeddings scale", c.EmbeddingsScale}, {"output logits scale", c.OutputLogitsScale}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("config %s is not finite", f.name)
		}
	}
	if c.LayerNormEpsilon < 0 {
		return fmt.Errorf("config layer_norm_epsilon %g is negative", c.LayerNormEpsilon)
	}
	return nil
}

// parseAlibiScaling follows JAISConfig._alibi_scaling_validation: a dict of exactly two
// fields, type "linear" and either factor (> 1) or train_seq_len (integer > 1).
func parseAlibiScaling(msg json.RawMessage) (*AlibiScaling, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil || len(m) != 2 {
		return nil, fmt.Errorf("config alibi_scaling must be an object with two fields, type and factor or type and train_seq_len")
	}
	var typ string
	if err := json.Unmarshal(m["type"], &typ); err != nil || typ != "linear" {
		return nil, fmt.Errorf("config alibi_scaling type must be \"linear\"")
	}
	s := &AlibiScaling{Type: typ}
	if f, ok := m["factor"]; ok {
		if err := json.Unmarshal(f, &s.Factor); err != nil || !(s.Factor > 1) || math.IsInf(s.Factor, 0) {
			return nil, fmt.Errorf("config alibi_scaling factor must be a number > 1")
		}
		return s, nil
	}
	if n, ok := m["train_seq_len"]; ok {
		var v float64
		if err := json.Unmarshal(n, &v); err != nil || v != math.Trunc(v) || v <= 1 || v > maxPositions*64 {
			return nil, fmt.Errorf("config alibi_scaling train_seq_len must be an integer > 1")
		}
		s.TrainSeqLen = int(v)
		return s, nil
	}
	return nil, fmt.Errorf("config alibi_scaling needs factor or train_seq_len")
}

// configParser reads typed values from the raw JSON object, keeping the first error.
type configParser struct {
	raw map[string]json.RawMessage
	err error
}

func (p *configParser) has(key string) bool {
	m, ok := p.raw[key]
	return ok && string(m) != "null"
}

// lookup returns the first present, non-null key of keys.
func (p *configParser) lookup(keys ...string) (string, json.RawMessage, bool) {
	for _, k := range keys {
		if p.has(k) {
			return k, p.raw[k], true
		}
	}
	return "", nil, false
}

func (p *configParser) fail(key, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("config %s must be %s", key, want)
	}
}

func (p *configParser) int(dst *int, keys ...string) {
	k, m, ok := p.lookup(keys...)
	if !ok {
		return
	}
	var v float64
	if err := json.Unmarshal(m, &v); err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<40 {
		p.fail(k, "an integer")
		return
	}
	*dst = int(v)
}

func (p *configParser) float(dst *float64, keys ...string) {
	k, m, ok := p.lookup(keys...)
	if !ok {
		return
	}
	if err := json.Unmarshal(m, dst); err != nil {
		p.fail(k, "a number")
	}
}

func (p *configParser) bool(dst *bool, keys ...string) {
	k, m, ok := p.lookup(keys...)
	if !ok {
		return
	}
	if err := json.Unmarshal(m, dst); err != nil {
		p.fail(k, "true or false")
	}
}

func (p *configParser) str(dst *string, keys ...string) {
	k, m, ok := p.lookup(keys...)
	if !ok {
		return
	}
	if err := json.Unmarshal(m, dst); err != nil {
		p.fail(k, "a string")
	}
}

// tokenID reads an integer token id; a list (as some configs write eos_token_id) gives
// its first element.
func (p *configParser) tokenID(dst *int, key string) {
	m, ok := p.raw[key]
	if !ok || string(m) == "null" {
		return
	}
	var list []float64
	if json.Unmarshal(m, &list) == nil {
		if len(list) == 0 {
			return
		}
		m, _ = json.Marshal(list[0])
		p.raw[key] = m
	}
	p.int(dst, key)
	if *dst < 0 {
		p.fail(key, "a non-negative integer")
	}
}
