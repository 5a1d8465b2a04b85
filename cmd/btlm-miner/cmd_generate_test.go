package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

// runModelCLI runs the binary's dispatcher in-process.
func runModelCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

// wantOneLineError checks the CLI contract for failures: the exit code, exactly one
// line on stderr that mentions want, and no Go panic trace.
func wantOneLineError(t *testing.T, code int, stderr string, wantCode int, want string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit code %d, want %d (stderr %q)", code, wantCode, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not exactly one line: %q", stderr)
	}
	for _, bad := range []string{"panic", "goroutine ", "internal error"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr contains %q: %q", bad, stderr)
		}
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not mention %q", stderr, want)
	}
}

type goldenCase struct {
	Prompt            string `json:"prompt"`
	PromptIDs         []int  `json:"prompt_ids"`
	MaxNewTokens      int    `json:"max_new_tokens"`
	NoRepeatNGramSize int    `json:"no_repeat_ngram_size"`
	GeneratedIDs      []int  `json:"generated_ids"`
}

func tinyModel(t *testing.T) (dir string, cases []goldenCase) {
	t.Helper()
	dir = testenv.Shared(t, "testdata/btlm-tiny")
	data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return dir, g.Cases
}

// modelCopy builds a model directory in a temp dir: symlinks to the files of src
// except those in drop, plus the files in write (name → contents).
func modelCopy(t *testing.T, src string, drop []string, write map[string][]byte) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if slices.Contains(drop, e.Name()) || write[e.Name()] != nil {
			continue
		}
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range write {
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

type generateJSON struct {
	Prompt          string  `json:"prompt"`
	PromptIDs       []int   `json:"prompt_ids"`
	TruncatedTokens int     `json:"truncated_tokens"`
	TokenIDs        []int   `json:"token_ids"`
	Text            string  `json:"text"`
	StopReason      string  `json:"stop_reason"`
	Seed            *uint64 `json:"seed"`
}

func generateCLI(t *testing.T, args ...string) generateJSON {
	t.Helper()
	code, stdout, stderr := runModelCLI(t, append([]string{"generate", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("generate %v: exit %d, stderr %q", args, code, stderr)
	}
	var out generateJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("generate --json output %q: %v", stdout, err)
	}
	if strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Errorf("--json printed more than one line: %q", stdout)
	}
	return out
}

func TestGenerateGolden(t *testing.T) {
	dir, cases := tinyModel(t)
	dirs := map[string]string{
		"safetensors":       dir,
		"pytorch_model.bin": modelCopy(t, dir, []string{"model.safetensors"}, nil),
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for format, d := range dirs {
		for i, c := range cases {
			t.Run(format+"/"+strconv.Itoa(i), func(t *testing.T) {
				out := generateCLI(t, "--btlm.model", d,
					"--btlm.max_length", strconv.Itoa(c.MaxNewTokens),
					"--btlm.no_repeat_ngram_size", strconv.Itoa(c.NoRepeatNGramSize), c.Prompt)
				if !slices.Equal(out.PromptIDs, c.PromptIDs) {
					t.Errorf("prompt_ids %v, want %v", out.PromptIDs, c.PromptIDs)
				}
				if !slices.Equal(out.TokenIDs, c.GeneratedIDs) {
					t.Errorf("token_ids %v, want %v", out.TokenIDs, c.GeneratedIDs)
				}
				wantStop := "max_new_tokens"
				if slices.Contains(c.GeneratedIDs, 50256) {
					wantStop = "eos"
				}
				if out.StopReason != wantStop || out.TruncatedTokens != 0 || out.Prompt != c.Prompt || out.Seed != nil {
					t.Errorf("stop %q truncated %d prompt %q seed %v", out.StopReason, out.TruncatedTokens, out.Prompt, out.Seed)
				}
				if want := completionText(tok, c.PromptIDs, c.GeneratedIDs); out.Text != want {
					t.Errorf("text %q, want %q", out.Text, want)
				}
			})
		}
	}
}

// TestGenerateStreamsText checks the default output: the completion's text, streamed,
// then a newline; it must equal the decoded generated ids.
func TestGenerateStreamsText(t *testing.T) {
	dir, cases := tinyModel(t)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		code, stdout, stderr := runModelCLI(t, "generate", "--btlm.model", dir,
			"--btlm.max_length", strconv.Itoa(c.MaxNewTokens),
			"--btlm.no_repeat_ngram_size", strconv.Itoa(c.NoRepeatNGramSize), c.Prompt)
		if code != 0 || stderr != "" {
			t.Fatalf("case %d: exit %d stderr %q", i, code, stderr)
		}
		if want := tok.Decode(c.GeneratedIDs) + "\n"; stdout != want {
			t.Errorf("case %d: stdout %q, want %q", i, stdout, want)
		}
	}
}

func TestGenerateDefaultsAreTheMiners(t *testing.T) {
	dir, cases := tinyModel(t)
	c := cases[0] // no_repeat_ngram_size 2, as the miner's default
	if c.NoRepeatNGramSize != 2 {
		t.Skip("first golden case does not use the default n-gram size")
	}
	out := generateCLI(t, "--btlm.model", dir, c.Prompt)
	if len(out.TokenIDs) != 100 && !slices.Contains(out.TokenIDs, 50256) {
		t.Errorf("default max_length: %d tokens without EOS, want 100", len(out.TokenIDs))
	}
	if n := min(len(out.TokenIDs), len(c.GeneratedIDs)); !slices.Equal(out.TokenIDs[:n], c.GeneratedIDs[:n]) {
		t.Errorf("default run %v does not extend the golden %v", out.TokenIDs, c.GeneratedIDs)
	}
}

func TestGenerateSamplingSeed(t *testing.T) {
	dir, cases := tinyModel(t)
	args := []string{"--btlm.model", dir, "--btlm.max_length", "12", "--btlm.do_sample", "--btlm.temperature", "1.3", cases[1].Prompt}
	a := generateCLI(t, append([]string{"--btlm.seed", "7"}, args...)...)
	b := generateCLI(t, append([]string{"--btlm.seed", "7"}, args...)...)
	c := generateCLI(t, append([]string{"--btlm.seed", "8"}, args...)...)
	if !slices.Equal(a.TokenIDs, b.TokenIDs) {
		t.Errorf("seed 7 twice: %v vs %v", a.TokenIDs, b.TokenIDs)
	}
	if slices.Equal(a.TokenIDs, c.TokenIDs) {
		t.Errorf("seeds 7 and 8 gave the same sample %v", a.TokenIDs)
	}
	if a.Seed == nil || *a.Seed != 7 {
		t.Errorf("seed in output %v, want 7", a.Seed)
	}
	if r := generateCLI(t, args...); r.Seed == nil {
		t.Error("unseeded sampling must report the seed it drew")
	}
}

func TestGenerateTruncatesLongPrompt(t *testing.T) {
	dir, _ := tinyModel(t) // n_positions 256
	prompt := strings.Repeat("one two three four five six seven eight nine ten ", 30)
	code, stdout, stderr := runModelCLI(t, "generate", "--json", "--btlm.model", dir, "--btlm.max_length", "10", prompt)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out generateJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.PromptIDs)+10-1 != 256 || out.TruncatedTokens == 0 || len(out.TokenIDs) != 10 {
		t.Errorf("prompt %d tokens (dropped %d), generated %d: want the prompt cut to 247", len(out.PromptIDs), out.TruncatedTokens, len(out.TokenIDs))
	}
	if !strings.Contains(stderr, "dropped the first") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("want one note about the truncation on stderr, got %q", stderr)
	}
}

func TestGenerateErrors(t *testing.T) {
	dir, _ := tinyModel(t)
	readShared := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	safetensors := readShared("model.safetensors")
	bin := readShared("pytorch_model.bin")
	var cfg map[string]any
	if err := json.Unmarshal(readShared("config.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["n_embd"] = 128
	wideConfig, _ := json.Marshal(cfg)

	tests := []struct {
		name  string
		model string
		extra []string
		code  int
		want  string
	}{
		{"missing directory", filepath.Join(t.TempDir(), "nope"), nil, 1, "does not exist"},
		{"hub repo id not cached offline", "cerebras/btlm-3b-8k-base", nil, 1, "HF_HUB_OFFLINE"},
		{"no model flag", "", nil, 1, "--btlm.model"},
		{"file instead of directory", filepath.Join(dir, "config.json"), nil, 1, "not a directory"},
		{"no weights", modelCopy(t, dir, []string{"model.safetensors", "pytorch_model.bin"}, nil), nil, 1, "load model"},
		{"no config.json", modelCopy(t, dir, []string{"config.json"}, nil), nil, 1, "config.json"},
		{"no tokenizer", modelCopy(t, dir, []string{"vocab.json", "merges.txt"}, nil), nil, 1, "load tokenizer"},
		{"truncated safetensors", modelCopy(t, dir, []string{"pytorch_model.bin"},
			map[string][]byte{"model.safetensors": safetensors[:len(safetensors)/2]}), nil, 1, "load model"},
		{"truncated pytorch_model.bin", modelCopy(t, dir, []string{"model.safetensors"},
			map[string][]byte{"pytorch_model.bin": bin[:len(bin)*2/3]}), nil, 1, "load model"},
		{"config inconsistent with weights", modelCopy(t, dir, nil,
			map[string][]byte{"config.json": wideConfig}), nil, 1, "load model"},
		{"temperature 0 when sampling", dir, []string{"--btlm.do_sample", "--btlm.temperature", "0"}, 2, "temperature"},
		{"max_length 0", dir, []string{"--btlm.max_length", "0"}, 2, "max_new_tokens"},
		{"max_length over the context", dir, []string{"--btlm.max_length", "1000"}, 1, "context length 256"},
		{"unknown flag", dir, []string{"--btlm.nope"}, 2, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"generate", "--btlm.model", tc.model}, tc.extra...)
			code, stdout, stderr := runModelCLI(t, append(args, "hello")...)
			wantOneLineError(t, code, stderr, tc.code, tc.want)
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	t.Run("no prompt", func(t *testing.T) {
		code, _, stderr := runModelCLI(t, "generate", "--btlm.model", dir)
		wantOneLineError(t, code, stderr, 2, "PROMPT")
	})
	t.Run("empty prompt", func(t *testing.T) {
		code, _, stderr := runModelCLI(t, "generate", "--btlm.model", dir, "")
		wantOneLineError(t, code, stderr, 1, "no tokens")
	})
}

func TestGenerateHelp(t *testing.T) {
	code, stdout, _ := runModelCLI(t, "generate", "--help")
	if code != 0 || !strings.Contains(stdout, "--btlm.no_repeat_ngram_size") || !strings.Contains(stdout, "--btlm.top_p") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
}

func TestCompletionTextAsPipeline(t *testing.T) {
	dir := testenv.Shared(t, "testdata/btlm-tiny")
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode("assistant: ")
	emoji := tok.Encode("🙂")
	if len(emoji) < 2 {
		t.Fatalf("expected 🙂 to take several byte tokens, got %v", emoji)
	}
	tests := []struct {
		name      string
		generated []int
		want      string
	}{
		{"plain", tok.Encode("Hello there"), "Hello there"},
		// clean-up turns "assistant: ." into "assistant:." and the pipeline's code-point
		// offset then swallows the '.' (transformers 4.30 behaviour).
		{"clean-up across the boundary", tok.Encode("."), ""},
		{"clean-up across the boundary, longer", tok.Encode(". Yes"), " Yes"},
		{"special tokens skipped", append(tok.Encode("Hi"), tok.EOS()), "Hi"},
		{"whole emoji", emoji, "🙂"},
		{"cut emoji", emoji[:1], "\uFFFD"},
		{"nothing", nil, ""},
	}
	for _, tc := range tests {
		if got := completionText(tok, prompt, tc.generated); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResolveModelDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec string
		want string // "" = ok
	}{
		{dir, ""},
		{"", "no model given"},
		{file, "not a directory"},
		{filepath.Join(dir, "missing"), "does not exist"},
		{"cerebras/btlm-3b-8k-base", "HF_HUB_OFFLINE"},
		{"a/b/c", "does not exist"},
		{"../x", "does not exist"},
	}
	for _, tc := range tests {
		got, err := resolveModelDir(context.Background(), tc.spec, "main", slog.New(slog.NewTextHandler(io.Discard, nil)))
		switch {
		case tc.want == "" && (err != nil || got != tc.spec):
			t.Errorf("resolveModelDir(%q) = %q, %v", tc.spec, got, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("resolveModelDir(%q) error %v, want it to mention %q", tc.spec, err, tc.want)
		}
	}
}
