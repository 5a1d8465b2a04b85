package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/btlm-miner/btlm-miner/btlm"
	"github.com/btlm-miner/btlm-miner/generate"
	"github.com/btlm-miner/btlm-miner/miner/config"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

// The expected answers are computed here without the miner package: the seed's prompt
// text is written out by hand per case, the continuation comes from the model and
// decoding packages (btlm, generate, tokenizer) with the miner's default decoding
// settings, and the seed's post-processing (transformers 4.30 pipeline splice, then
// CerebrasBTLMMiner's split(":")[-1]) is re-implemented below from
// ../shared/reference/btlm-model.md §5.6.

// golden is shared/testdata/btlm-tiny/golden.json.
type golden struct {
	Cases []struct {
		Prompt            string `json:"prompt"`
		PromptIDs         []int  `json:"prompt_ids"`
		MaxNewTokens      int    `json:"max_new_tokens"`
		NoRepeatNGramSize int    `json:"no_repeat_ngram_size"`
		GeneratedIDs      []int  `json:"generated_ids"`
	} `json:"cases"`
}

func loadGolden(t *testing.T, modelDir string) golden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(modelDir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("golden.json: %v", err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return g
}

// reference generates with the model directly.
type reference struct {
	model *btlm.Model
	tok   *tokenizer.Tokenizer
}

func loadReference(t *testing.T, dir string) *reference {
	t.Helper()
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := btlm.Load(dir, btlm.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Close)
	return &reference{model: model, tok: tok}
}

// expectation is what the miner must answer for one prompt.
type expectation struct {
	prompt       string
	promptIDs    []int
	generatedIDs []int
	completion   string // the pipeline's new text (generated_text minus the prompt)
	unary        string // Prompting.completion
	stream       string // the concatenated StreamPrompting body
}

// expect runs greedy decoding with the miner's default --btlm.* settings on prompt.
func (r *reference) expect(t *testing.T, prompt string) expectation {
	t.Helper()
	def := config.Default().BTLM
	if def.DoSample {
		t.Fatal("the miner samples by default; an exact expectation needs greedy decoding")
	}
	mc := r.model.Config()
	p := generate.Params{MaxNewTokens: def.MaxLength, NoRepeatNGramSize: def.NoRepeatNGramSize,
		Temperature: def.Temperature, TopK: def.TopK, TopP: def.TopP,
		EOSTokenIDs: []int{mc.EOSTokenID}, ContextLength: mc.NPositions}
	ids := r.tok.Encode(prompt)
	res, err := generate.Generate(context.Background(), r.model.NewSequence(), ids, p, nil)
	if err != nil {
		t.Fatalf("reference generation: %v", err)
	}
	if res.TruncatedTokens != 0 {
		t.Fatalf("reference prompt truncated by %d tokens; use a shorter prompt", res.TruncatedTokens)
	}
	full := append(append([]int(nil), res.PromptIDs...), res.TokenIDs...)
	completion := pipelineCompletion(r.tok.Decode(full), r.tok.Decode(res.PromptIDs))
	return expectation{prompt: prompt, promptIDs: ids, generatedIDs: res.TokenIDs, completion: completion,
		unary:  seedPostProcess(prompt+completion, prompt),
		stream: prompt[strings.LastIndex(prompt, ":")+1:] + completion}
}

// pipelineCompletion is transformers 4.30 TextGenerationPipeline's FULL_TEXT splice:
// the decoded full sequence minus as many code points as the decoded prompt has.
func pipelineCompletion(decodedFull, decodedPrompt string) string {
	skip := utf8.RuneCountInString(decodedPrompt)
	for i := range decodedFull {
		if skip == 0 {
			return decodedFull[i:]
		}
		skip--
	}
	return ""
}

// seedPostProcess is CerebrasBTLMMiner's
// generated_text.split(":")[-1].replace(history, "").
func seedPostProcess(generatedText, history string) string {
	parts := strings.Split(generatedText, ":")
	last := parts[len(parts)-1]
	if history == "" {
		return last
	}
	return strings.ReplaceAll(last, history, "")
}
