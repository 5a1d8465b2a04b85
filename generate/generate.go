// Package generate turns a language model's next-token logits into a completion, with
// the decoding semantics of Hugging Face transformers 4.30 `generate()` as the Python
// BTLM miner uses it (`pipeline("text-generation")`, batch size 1, num_beams 1):
//
//   - greedy search (DoSample false): the first index of the maximum score after the
//     logits processors, as torch.argmax;
//   - multinomial sampling (DoSample true): the processors, then the warpers, then a
//     draw from the softmax.
//
// The logits processor is NoRepeatNGramLogitsProcessor over the whole sequence (prompt
// and generated tokens). The warpers run in transformers' order and only when active:
// TemperatureLogitsWarper (Temperature != 1), TopKLogitsWarper (TopK != 0) and
// TopPLogitsWarper (TopP < 1), each with min_tokens_to_keep = 1. A chosen EOS token is
// appended to the output and then generation stops; otherwise it stops after
// MaxNewTokens tokens.
//
// Sampling is reproducible from Params.Seed but does not replay torch: the random
// numbers come from Go's PCG generator (math/rand/v2), not from torch's Mersenne
// Twister / Philox, so a seed gives the same tokens on every run of this package, not
// the tokens torch.manual_seed would give.
package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Sequence is one growing token sequence of a causal language model with its KV cache.
// *btlm.Sequence satisfies it; a batching scheduler can too.
type Sequence interface {
	// Forward appends ids to the sequence and returns the next-token logits at the last
	// position (one float per vocabulary entry). The slice may be reused by the next call.
	Forward(ctx context.Context, ids []int) ([]float32, error)
	// Len is the number of tokens in the sequence so far.
	Len() int
}

// Params selects the decoding. The zero value is not useful: start from DefaultParams.
type Params struct {
	// MaxNewTokens bounds the number of generated tokens (transformers' max_new_tokens;
	// the miner's --btlm.max_length). Must be > 0.
	MaxNewTokens int
	// DoSample selects multinomial sampling; false is greedy search. Temperature, TopK,
	// TopP and Seed only matter when sampling, as in transformers 4.30.
	DoSample bool
	// Temperature divides the scores; 1 disables it. Must be > 0 when sampling
	// (transformers raises for 0 too).
	Temperature float64
	// TopK keeps the TopK highest scores (and any tied with the TopK-th); 0 disables it.
	// Must be >= 0 when sampling.
	TopK int
	// TopP keeps the smallest set of most probable tokens whose cumulative probability
	// exceeds TopP (at least one token); 1 disables it. Must be in [0, 1] when sampling.
	TopP float64
	// NoRepeatNGramSize bans any token that would repeat an n-gram of this size already
	// in the prompt or the generated text; 0 disables it. Must be >= 0.
	NoRepeatNGramSize int
	// Seed seeds the sampling random number generator (see the package comment).
	Seed uint64
	// EOSTokenIDs are the end-of-sequence tokens: one of them is appended and ends the
	// generation. Empty means generation only stops at MaxNewTokens.
	EOSTokenIDs []int
	// ContextLength is the model's position limit (config n_positions, 8192 for BTLM);
	// 0 means no limit is enforced here. See Generate for the truncation policy.
	ContextLength int
}

// Defaults of the Python BTLM miner and of transformers 4.30's GenerationConfig.
const (
	DefaultMaxNewTokens      = 100 // miner --btlm.max_length
	DefaultNoRepeatNGramSize = 2   // miner --btlm.no_repeat_ngram_size
	DefaultTemperature       = 0.7 // miner --btlm.temperature
	DefaultTopK              = 50  // GenerationConfig.top_k
	DefaultTopP              = 1.0 // GenerationConfig.top_p (off)
)

// DefaultParams returns the Python miner's decoding: greedy, 100 new tokens, no repeated
// bigrams, and the sampling settings it would use with --btlm.do_sample. EOSTokenIDs and
// ContextLength come from the model and must be filled in by the caller.
func DefaultParams() Params {
	return Params{
		MaxNewTokens:      DefaultMaxNewTokens,
		Temperature:       DefaultTemperature,
		TopK:              DefaultTopK,
		TopP:              DefaultTopP,
		NoRepeatNGramSize: DefaultNoRepeatNGramSize,
	}
}

// Validate reports the first invalid setting, with transformers' rules: the sampling
// settings are checked only when DoSample is set, since greedy search ignores them.
func (p Params) Validate() error {
	if p.MaxNewTokens <= 0 {
		return fmt.Errorf("max_new_tokens must be positive, got %d", p.MaxNewTokens)
	}
	if p.NoRepeatNGramSize < 0 {
		return fmt.Errorf("no_repeat_ngram_size must be >= 0, got %d", p.NoRepeatNGramSize)
	}
	if p.ContextLength < 0 {
		return fmt.Errorf("context length must be >= 0, got %d", p.ContextLength)
	}
	if p.ContextLength > 0 && p.MaxNewTokens > p.ContextLength {
		return fmt.Errorf("max_new_tokens %d exceeds the model's context length %d", p.MaxNewTokens, p.ContextLength)
	}
	for _, id := range p.EOSTokenIDs {
		if id < 0 {
			return fmt.Errorf("eos token id must be >= 0, got %d", id)
		}
	}
	if !p.DoSample {
		return nil
	}
	if !(p.Temperature > 0) || math.IsInf(p.Temperature, 1) {
		return fmt.Errorf("temperature must be a strictly positive number when sampling, got %v", p.Temperature)
	}
	if p.TopK < 0 {
		return fmt.Errorf("top_k must be >= 0 (0 disables it), got %d", p.TopK)
	}
	if !(p.TopP >= 0 && p.TopP <= 1) {
		return fmt.Errorf("top_p must be in [0, 1] (1 disables it), got %v", p.TopP)
	}
	return nil
}

// StopReason says why a generation ended.
type StopReason string

const (
	StopEOS          StopReason = "eos"            // an EOS token was produced (and is in TokenIDs)
	StopMaxNewTokens StopReason = "max_new_tokens" // MaxNewTokens tokens were produced
)

// Result is what Generate produced. On error it holds what was generated until then.
type Result struct {
	// PromptIDs is the prompt the model saw: the input minus TruncatedTokens from its start.
	PromptIDs []int
	// TruncatedTokens is how many tokens were dropped from the start of the prompt to fit
	// the context (0 unless the prompt was too long).
	TruncatedTokens int
	// TokenIDs are the generated tokens, EOS included when one was produced.
	TokenIDs []int
	// Stop is why generation ended; empty when it ended with an error.
	Stop StopReason
}

// Generate continues prompt on seq, which must be empty, and returns the generated
// tokens. onToken, when not nil, is called with each token as soon as it is chosen (EOS
// included); an error from it stops generation and is returned. ctx is checked before
// every model step and passed to Forward, so cancelling it stops generation between
// tokens with ctx's error.
//
// Context limit: the model is fed at most len(prompt) + MaxNewTokens - 1 tokens (the
// last generated token is never fed back). When that exceeds ContextLength, the oldest
// prompt tokens are dropped so that it fits exactly; the number dropped is reported in
// Result.TruncatedTokens. transformers raises instead (for BTLM, once more than 8192
// tokens reach the model); left-truncation keeps the end of a chat prompt, which is the
// part the answer depends on, and leaves every prompt that transformers accepts
// untouched, so outputs agree wherever transformers produces one.
func Generate(ctx context.Context, seq Sequence, prompt []int, p Params, onToken func(id int) error) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	if len(prompt) == 0 {
		return Result{}, errors.New("empty prompt: there is no token to continue from")
	}
	for i, id := range prompt {
		if id < 0 {
			return Result{}, fmt.Errorf("prompt token %d is negative (%d)", i, id)
		}
	}
	if n := seq.Len(); n != 0 {
		return Result{}, fmt.Errorf("sequence already holds %d tokens; Generate needs a fresh one", n)
	}
	var res Result
	if limit := p.ContextLength; limit > 0 && len(prompt)+p.MaxNewTokens-1 > limit {
		res.TruncatedTokens = len(prompt) + p.MaxNewTokens - 1 - limit
		prompt = prompt[res.TruncatedTokens:]
	}
	res.PromptIDs = prompt

	d := newDecoder(p)
	tokens := make([]int, len(prompt), len(prompt)+min(p.MaxNewTokens, 4096))
	copy(tokens, prompt)
	feed := prompt
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		logits, err := seq.Forward(ctx, feed)
		if err != nil {
			return res, fmt.Errorf("forward at position %d: %w", len(tokens)-len(feed), err)
		}
		next, err := d.next(tokens, logits)
		if err != nil {
			return res, fmt.Errorf("choose token %d: %w", len(res.TokenIDs), err)
		}
		tokens = append(tokens, next)
		res.TokenIDs = tokens[len(prompt):]
		if onToken != nil {
			if err := onToken(next); err != nil {
				return res, err
			}
		}
		if d.isEOS(next) {
			res.Stop = StopEOS
			return res, nil
		}
		if len(res.TokenIDs) >= p.MaxNewTokens {
			res.Stop = StopMaxNewTokens
			return res, nil
		}
		feed = tokens[len(tokens)-1:]
	}
}

// decoder holds the per-generation state of the processors and warpers.
type decoder struct {
	p      Params
	vocab  int // logits length, fixed by the first step
	scores []float32
	ngrams *noRepeatNGram
	rng    *rand.Rand
	heap   []float32
	ranked []ranked
}

// seedStream is the PCG stream constant (any fixed value; part of the reproducibility contract).
const seedStream = 0x62746c6d2d67656e // "btlm-gen"

func newDecoder(p Params) *decoder {
	d := &decoder{p: p}
	if p.NoRepeatNGramSize > 0 {
		d.ngrams = newNoRepeatNGram(p.NoRepeatNGramSize)
	}
	if p.DoSample {
		d.rng = rand.New(rand.NewPCG(p.Seed, seedStream))
	}
	return d
}

func (d *decoder) isEOS(id int) bool {
	for _, e := range d.p.EOSTokenIDs {
		if id == e {
			return true
		}
	}
	return false
}

// next applies the processors and warpers to logits (left untouched) given the sequence
// so far, and picks the next token.
func (d *decoder) next(tokens []int, logits []float32) (int, error) {
	if d.vocab == 0 {
		if len(logits) == 0 {
			return 0, errors.New("model returned no logits")
		}
		d.vocab = len(logits)
		d.scores = make([]float32, d.vocab)
	}
	if len(logits) != d.vocab {
		return 0, fmt.Errorf("model returned %d logits, earlier %d", len(logits), d.vocab)
	}
	if err := checkFinite(logits); err != nil {
		return 0, err
	}
	scores := d.scores
	copy(scores, logits)
	if d.ngrams != nil {
		d.ngrams.apply(tokens, scores)
	}
	if !d.p.DoSample {
		return argmax(scores)
	}
	if d.p.Temperature != 1 {
		applyTemperature(scores, d.p.Temperature)
	}
	if d.p.TopK != 0 {
		d.heap = applyTopK(scores, d.p.TopK, d.heap)
	}
	if d.p.TopP < 1 {
		d.ranked = applyTopP(scores, d.p.TopP, d.ranked)
	}
	return sampleFrom(scores, d.rng)
}
