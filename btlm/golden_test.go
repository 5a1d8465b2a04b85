package btlm

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/btlm-miner/btlm-miner/checkpoint"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

type goldenCase struct {
	Prompt            string       `json:"prompt"`
	PromptIDs         []int        `json:"prompt_ids"`
	MaxNewTokens      int          `json:"max_new_tokens"`
	NoRepeatNgramSize int          `json:"no_repeat_ngram_size"`
	GeneratedIDs      []int        `json:"generated_ids"`
	FirstStepTop5     [][2]float64 `json:"first_step_top5_logits"`
	MinTop2Gap        float64      `json:"min_top2_gap"`
}

func loadGolden(t testing.TB, dir string) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return g.Cases
}

// bannedNgramTokens returns the tokens Hugging Face's NoRepeatNGramLogitsProcessor bans
// after tokens: every token that followed an earlier occurrence of the last n-1 tokens.
func bannedNgramTokens(tokens []int, n int) []int {
	if n <= 0 || len(tokens)+1 < n {
		return nil
	}
	prefix := tokens[len(tokens)-(n-1):]
	var banned []int
	for i := 0; i+n <= len(tokens); i++ {
		match := true
		for k := 0; k < n-1; k++ {
			if tokens[i+k] != prefix[k] {
				match = false
				break
			}
		}
		if match {
			banned = append(banned, tokens[i+n-1])
		}
	}
	return banned
}

// greedy runs transformers-style greedy generation: n-gram bans over prompt+generated,
// first maximum on ties, EOS appended then stop. It returns the generated ids and the
// first step's logits (copied).
func greedy(t testing.TB, m *Model, prompt []int, maxNew, ngram int) ([]int, []float32) {
	t.Helper()
	seq := m.NewSequence()
	ctx := context.Background()
	tokens := append([]int(nil), prompt...)
	logits, err := seq.Forward(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	first := append([]float32(nil), logits...)
	var out []int
	for len(out) < maxNew {
		scores := append([]float32(nil), logits...)
		for _, b := range bannedNgramTokens(tokens, ngram) {
			scores[b] = float32(math.Inf(-1))
		}
		best := 0
		for i, v := range scores {
			if v > scores[best] {
				best = i
			}
		}
		out = append(out, best)
		tokens = append(tokens, best)
		if best == m.Config().EOSTokenID || len(out) == maxNew {
			break
		}
		if logits, err = seq.Forward(ctx, []int{best}); err != nil {
			t.Fatal(err)
		}
	}
	return out, first
}

func tinyDir(t testing.TB) string { return testenv.Shared(t, "testdata/btlm-tiny") }

// torchOnlyDir copies config.json and pytorch_model.bin into a temporary directory, so
// that Load has to take the PyTorch path.
func torchOnlyDir(t testing.TB, src string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "pytorch_model.bin"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGolden(t *testing.T) {
	dir := tinyDir(t)
	cases := loadGolden(t, dir)
	sources := []struct {
		name string
		dir  string
	}{
		{"safetensors", dir},
		{"pytorch", torchOnlyDir(t, dir)},
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			ck, err := checkpoint.Open(src.dir)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Format() != src.name {
				t.Fatalf("loaded format %s, want %s", ck.Format(), src.name)
			}
			ck.Close()
			m, err := Load(src.dir, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for i, c := range cases {
				got, first := greedy(t, m, c.PromptIDs, c.MaxNewTokens, c.NoRepeatNgramSize)
				if !equalInts(got, c.GeneratedIDs) {
					t.Errorf("case %d (%q): generated %v, want %v", i, c.Prompt, got, c.GeneratedIDs)
				}
				for _, e := range c.FirstStepTop5 {
					id, want := int(e[0]), e[1]
					d := math.Abs(float64(first[id]) - want)
					worst = math.Max(worst, d)
					if d > 1e-4 {
						t.Errorf("case %d: logit[%d] = %.7f, want %.7f (|Δ| %.2g)", i, id, first[id], want, d)
					}
				}
				if top := topK(first, 5); !equalInts(top, goldenIDs(c.FirstStepTop5)) {
					t.Errorf("case %d: top-5 ids %v, want %v", i, top, goldenIDs(c.FirstStepTop5))
				}
			}
			t.Logf("%d cases, max |Δ| of first-step top-5 logits: %.2g", len(cases), worst)
		})
	}
}

func goldenIDs(top [][2]float64) []int {
	out := make([]int, len(top))
	for i, e := range top {
		out[i] = int(e[0])
	}
	return out
}

func topK(x []float32, k int) []int {
	var out []int
	used := map[int]bool{}
	for len(out) < k {
		best := -1
		for i, v := range x {
			if !used[i] && (best < 0 || v > x[best]) {
				best = i
			}
		}
		used[best] = true
		out = append(out, best)
	}
	return out
}

func equalInts(a, b []int) bool {
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
