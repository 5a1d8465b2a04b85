package generate_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/btlm-miner/btlm-miner/btlm"
	"github.com/btlm-miner/btlm-miner/generate"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

var _ generate.Sequence = (*btlm.Sequence)(nil)

// TestGoldenGreedy runs the golden cases of btlm-tiny (greedy, with and without the
// n-gram ban, one ending in EOS) through Generate on the real model.
func TestGoldenGreedy(t *testing.T) {
	dir := testenv.Shared(t, "testdata/btlm-tiny")
	data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			PromptIDs         []int `json:"prompt_ids"`
			MaxNewTokens      int   `json:"max_new_tokens"`
			NoRepeatNGramSize int   `json:"no_repeat_ngram_size"`
			GeneratedIDs      []int `json:"generated_ids"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) == 0 {
		t.Fatal("golden.json has no cases")
	}
	m, err := btlm.Load(dir, btlm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Config()
	for i, c := range golden.Cases {
		p := generate.DefaultParams()
		p.MaxNewTokens = c.MaxNewTokens
		p.NoRepeatNGramSize = c.NoRepeatNGramSize
		p.EOSTokenIDs = []int{cfg.EOSTokenID}
		p.ContextLength = cfg.NPositions
		var streamed []int
		res, err := generate.Generate(context.Background(), m.NewSequence(), c.PromptIDs, p,
			func(id int) error { streamed = append(streamed, id); return nil })
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !slices.Equal(res.TokenIDs, c.GeneratedIDs) {
			t.Errorf("case %d: generated %v, want %v", i, res.TokenIDs, c.GeneratedIDs)
		}
		if !slices.Equal(streamed, res.TokenIDs) {
			t.Errorf("case %d: streamed %v, returned %v", i, streamed, res.TokenIDs)
		}
	}
}
