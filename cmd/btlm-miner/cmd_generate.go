package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/btlm"
	"github.com/btlm-miner/btlm-miner/generate"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

func init() {
	register(command{name: "generate", summary: "complete a prompt with the model (greedy or sampled), streaming the text", run: runGenerate})
}

// generateOutput is the --json result of `btlm-miner generate`.
type generateOutput struct {
	Prompt string `json:"prompt"`
	// PromptIDs are the prompt tokens the model saw (after any left-truncation).
	PromptIDs []int `json:"prompt_ids"`
	// TruncatedTokens is how many tokens were dropped from the start of the prompt.
	TruncatedTokens int `json:"truncated_tokens"`
	// TokenIDs are the generated tokens, EOS included when produced.
	TokenIDs []int `json:"token_ids"`
	// Text is the completion as the transformers text-generation pipeline computes it:
	// the decoded prompt+completion (special tokens skipped, clean-up applied) minus as
	// many code points as the decoded prompt has.
	Text       string  `json:"text"`
	StopReason string  `json:"stop_reason"`
	Seed       *uint64 `json:"seed,omitempty"` // only when sampling
	Timing     timing  `json:"timing"`
}

type timing struct {
	LoadSeconds      float64 `json:"load_seconds"`
	FirstTokenSecond float64 `json:"first_token_seconds"` // prompt prefill + first choice
	TokensPerSecond  float64 `json:"tokens_per_second"`   // after the first token
}

// runGenerate implements `btlm-miner generate --btlm.model DIR [flags] PROMPT`: it
// continues PROMPT with the Python miner's decoding (transformers 4.30 semantics, see
// package generate) and streams the completion to stdout, or prints one JSON object
// with --json. Ctrl-C stops generation between tokens.
func runGenerate(args []string, stdout, stderr io.Writer) (code int) {
	const name = "generate"
	defer recoverCommandPanic(name, stderr, &code)
	d := generate.DefaultParams()
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	model := fs.String("btlm.model", "", "model directory or Hugging Face repository id (downloaded into the Hugging Face cache)")
	revision := fs.String("btlm.revision", "main", "model revision when --btlm.model is a repository id")
	maxNew := fs.Int("btlm.max_length", d.MaxNewTokens, "maximum number of new tokens (max_new_tokens)")
	ngram := fs.Int("btlm.no_repeat_ngram_size", d.NoRepeatNGramSize, "never repeat an n-gram of this size from the prompt or the output (0: off)")
	doSample := fs.Bool("btlm.do_sample", false, "sample instead of greedy decoding")
	temperature := fs.Float64("btlm.temperature", d.Temperature, "sampling temperature (with --btlm.do_sample)")
	topK := fs.Int("btlm.top_k", d.TopK, "sample from the k most likely tokens (0: off; with --btlm.do_sample)")
	topP := fs.Float64("btlm.top_p", d.TopP, "nucleus sampling mass (1: off; with --btlm.do_sample)")
	seed := fs.Uint64("btlm.seed", 0, "sampling seed, for reproducible samples (default: random); not torch's RNG")
	threads := fs.Int("btlm.threads", 0, "compute threads (0: all cores)")
	quant := fs.String("btlm.quant", "none", "in-memory weight format: none (fp32, Hugging Face-exact), bf16 or q8_0")
	asJSON := fs.Bool("json", false, "print one JSON object (prompt_ids, token_ids, text, ...) instead of streaming text")
	if done, code := parseCommandFlags(fs, args, stdout, stderr, name, "--btlm.model DIR [flags] PROMPT"); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, name, fmt.Sprintf("expected exactly one PROMPT argument (quote it), got %d", fs.NArg()))
	}
	prompt := fs.Arg(0)
	if *threads < 0 {
		return usageError(stderr, name, fmt.Sprintf("--btlm.threads must be >= 0, got %d", *threads))
	}
	p := generate.Params{
		MaxNewTokens:      *maxNew,
		DoSample:          *doSample,
		Temperature:       *temperature,
		TopK:              *topK,
		TopP:              *topP,
		NoRepeatNGramSize: *ngram,
		Seed:              *seed,
	}
	if *doSample && !fs.Changed("btlm.seed") {
		p.Seed = rand.Uint64() >> 11 // < 2^53: exact in any JSON reader
	}
	if err := p.Validate(); err != nil { // before the (slow) model load
		return usageError(stderr, name, err.Error())
	}

	start := time.Now()
	dir, err := resolveModelDir(context.Background(), *model, *revision, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return printCommandError(stderr, name, fmt.Errorf("load tokenizer: %w", err))
	}
	m, err := btlm.Load(dir, btlm.Options{Threads: *threads, Quant: *quant})
	if err != nil {
		return printCommandError(stderr, name, fmt.Errorf("load model: %w", err))
	}
	cfg := m.Config()
	if tok.VocabSize() > cfg.VocabSize {
		return printCommandError(stderr, name, fmt.Errorf("inconsistent model directory %s: the tokenizer has %d tokens but config.json's vocab_size is %d", dir, tok.VocabSize(), cfg.VocabSize))
	}
	p.EOSTokenIDs = []int{cfg.EOSTokenID}
	p.ContextLength = cfg.NPositions
	if err := p.Validate(); err != nil {
		return printCommandError(stderr, name, err)
	}
	loaded := time.Now()

	ids := tok.Encode(prompt)
	if len(ids) == 0 {
		return printCommandError(stderr, name, fmt.Errorf("the prompt %q has no tokens: nothing to continue", prompt))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stream := tok.NewStreamDecoder()
	streamed := false
	var firstToken time.Time
	onToken := func(id int) error {
		if firstToken.IsZero() {
			firstToken = time.Now()
		}
		if *asJSON {
			return nil
		}
		if text := stream.Add(id); text != "" {
			streamed = true
			if _, err := io.WriteString(stdout, text); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		return nil
	}
	res, err := generate.Generate(ctx, m.NewSequence(), ids, p, onToken)
	end := time.Now()
	if !*asJSON && (err == nil || streamed) {
		// Finish the streamed text (the held-back tail) and end the line; after an
		// error only when some text is already out, so that a failure prints nothing.
		io.WriteString(stdout, stream.Flush()+"\n")
	}
	if res.TruncatedTokens > 0 {
		fmt.Fprintf(stderr, "btlm-miner %s: note: the prompt has %d tokens; dropped the first %d so that it and %d new tokens fit the %d-token context\n",
			name, len(ids), res.TruncatedTokens, p.MaxNewTokens, p.ContextLength)
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "btlm-miner %s: interrupted after %d tokens\n", name, len(res.TokenIDs))
		return 130
	}
	if err != nil {
		return printCommandError(stderr, name, fmt.Errorf("generate: %w", err))
	}
	if !*asJSON {
		return 0
	}
	out := generateOutput{
		Prompt:          prompt,
		PromptIDs:       nonNil(res.PromptIDs),
		TruncatedTokens: res.TruncatedTokens,
		TokenIDs:        nonNil(res.TokenIDs),
		Text:            completionText(tok, res.PromptIDs, res.TokenIDs),
		StopReason:      string(res.Stop),
		Timing:          timing{LoadSeconds: loaded.Sub(start).Seconds()},
	}
	if p.DoSample {
		out.Seed = &p.Seed
	}
	if !firstToken.IsZero() {
		out.Timing.FirstTokenSecond = firstToken.Sub(loaded).Seconds()
		if n := len(res.TokenIDs) - 1; n > 0 {
			out.Timing.TokensPerSecond = float64(n) / end.Sub(firstToken).Seconds()
		}
	}
	return writeJSON(stdout, stderr, name, out)
}

// completionText is the completion as transformers 4.30 TextGenerationPipeline
// (return_full_text=False) returns it: decode(prompt + generated) with special tokens
// skipped and clean-up applied, minus the first len(decode(prompt)) code points.
// It differs from decoding the generated ids alone when clean-up or a multi-byte
// character spans the prompt/completion boundary.
func completionText(tok *tokenizer.Tokenizer, prompt, generated []int) string {
	all := make([]int, 0, len(prompt)+len(generated))
	all = append(append(all, prompt...), generated...)
	full := tok.Decode(all)
	skip := utf8.RuneCountInString(tok.Decode(prompt))
	for i := range full {
		if skip == 0 {
			return full[i:]
		}
		skip--
	}
	return ""
}
