package btlm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigTiny(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join(tinyDir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		VocabSize: 50257, NPositions: 256, NEmbd: 64, NLayer: 2, NHead: 4, NInner: 171,
		ActivationFunction: "swiglu", PositionEmbeddingType: "alibi", LayerNormEpsilon: 1e-5,
		EmbeddingsScale: 14.6, OutputLogitsScale: float64Product(2.22, 0.1), ScaleQKDotByD: true,
		ScaleAttnWeights: true, TieWordEmbeddings: true, BOSTokenID: 50256, EOSTokenID: 50256,
	}
	if cfg != want {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
	if cfg.HeadDim() != 16 {
		t.Errorf("HeadDim = %d", cfg.HeadDim())
	}
}

func TestParseConfig(t *testing.T) {
	// The real BTLM-3B-8K config.json (reference §1.2) in both spellings.
	const current = `{"activation_function":"swiglu","position_embedding_type":"alibi","n_embd":2560,
		"n_layer":32,"n_head":32,"n_inner":6826,"n_positions":8192,"vocab_size":50257,
		"layer_norm_epsilon":1e-05,"mup_embeddings_scale":14.6,"mup_output_alpha":2.2200000000000003,
		"mup_width_scale":0.1,"mup_scale_qk_dot_by_d":true,"bos_token_id":50256,"eos_token_id":50256}`
	const older = `{"activation_function":"swiglu","position_embedding_type":"alibi","n_embd":2560,
		"n_layer":32,"n_head":32,"n_inner":6826,"n_positions":8192,"vocab_size":50257,
		"embeddings_scale":14.6,"width_scale":0.1,"output_logits_scale":0.22200000000000003,
		"scale_qk_dot_by_d":true,"tie_word_embeddings":true}`
	btlm3b := func(c *Config) { *c = BTLM3BConfig() }
	cases := []struct {
		name string
		json string
		want func(*Config) // edits DefaultConfig(); nil when an error is expected
		err  string
	}{
		{"current spelling", current, btlm3b, ""},
		{"older spelling", older, func(c *Config) { btlm3b(c); c.OutputLogitsScale = 0.22200000000000003 }, ""},
		{"defaults", `{}`, func(c *Config) {}, ""},
		{"n_inner null", `{"n_embd":64,"n_head":4,"n_inner":null}`, func(c *Config) { c.NEmbd, c.NHead, c.NInner = 64, 4, 256 }, ""},
		{"attribute aliases", `{"hidden_size":64,"num_attention_heads":4,"num_hidden_layers":3,"max_position_embeddings":128}`,
			func(c *Config) { c.NEmbd, c.NHead, c.NLayer, c.NPositions, c.NInner = 64, 4, 3, 128, 256 }, ""},
		{"jais width_scale alone", `{"width_scale":0.5}`, func(c *Config) { c.OutputLogitsScale = 0.5 }, ""},
		{"mup wins over old keys", `{"mup_embeddings_scale":2,"embeddings_scale":3,"mup_width_scale":0.5,"output_logits_scale":9}`,
			func(c *Config) { c.EmbeddingsScale, c.OutputLogitsScale = 2, 0.5 }, ""},
		{"alibi factor", `{"alibi_scaling":{"type":"linear","factor":2.0}}`,
			func(c *Config) { c.AlibiScaling = &AlibiScaling{Type: "linear", Factor: 2} }, ""},
		{"alibi train_seq_len", `{"alibi_scaling":{"type":"linear","train_seq_len":8192}}`,
			func(c *Config) { c.AlibiScaling = &AlibiScaling{Type: "linear", TrainSeqLen: 8192} }, ""},
		{"alibi null", `{"alibi_scaling":null}`, func(c *Config) {}, ""},
		{"eos list", `{"eos_token_id":[7,8]}`, func(c *Config) { c.EOSTokenID = 7 }, ""},
		{"untied", `{"tie_word_embeddings":false}`, func(c *Config) { c.TieWordEmbeddings = false }, ""},

		{"unknown activation", `{"activation_function":"gelu_fast"}`, nil, `activation_function "gelu_fast"`},
		{"unknown position type", `{"position_embedding_type":"rotary"}`, nil, `position_embedding_type "rotary"`},
		{"alibi bad type", `{"alibi_scaling":{"type":"dynamic","factor":2.0}}`, nil, "alibi_scaling type"},
		{"alibi factor <= 1", `{"alibi_scaling":{"type":"linear","factor":1.0}}`, nil, "factor"},
		{"alibi three fields", `{"alibi_scaling":{"type":"linear","factor":2.0,"train_seq_len":4}}`, nil, "two fields"},
		{"alibi fractional len", `{"alibi_scaling":{"type":"linear","train_seq_len":4.5}}`, nil, "train_seq_len"},
		{"heads do not divide", `{"n_embd":100,"n_head":3}`, nil, "not divisible"},
		{"zero layers", `{"n_layer":0}`, nil, "n_layer"},
		{"huge vocab", `{"vocab_size":1e12}`, nil, "vocab_size"},
		{"fractional size", `{"n_embd":64.5}`, nil, "n_embd must be an integer"},
		{"string size", `{"n_head":"4"}`, nil, "n_head must be an integer"},
		{"bool as string", `{"mup_scale_qk_dot_by_d":"yes"}`, nil, "mup_scale_qk_dot_by_d"},
		{"negative eos", `{"eos_token_id":-3}`, nil, "eos_token_id"},
		{"not an object", `[1,2]`, nil, "config JSON"},
		{"truncated", `{"n_embd": 64,`, nil, "config JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(c.json))
			if c.want == nil {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig()
			c.want(&want)
			if (got.AlibiScaling == nil) != (want.AlibiScaling == nil) ||
				got.AlibiScaling != nil && *got.AlibiScaling != *want.AlibiScaling {
				t.Fatalf("alibi scaling %+v, want %+v", got.AlibiScaling, want.AlibiScaling)
			}
			got.AlibiScaling, want.AlibiScaling = nil, nil
			if got != want {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"x":"`+strings.Repeat("a", maxConfig)+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(big); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized config: %v", err)
	}
	if _, err := Load(dir, Options{}); err == nil {
		t.Error("Load of an empty directory: no error")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"n_embd":64,"n_head":4,"alibi_scaling":{"type":"linear","factor":2.0}}`))
	f.Add([]byte(`{"eos_token_id":[1],"n_inner":null,"activation_function":"swiglu"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err == nil {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
			}
		}
	})
}

// float64Product multiplies at run time, in float64 as Python does (a constant
// expression would be computed exactly by the Go compiler).
func float64Product(a, b float64) float64 { return a * b }
