package miner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/btlm-miner/btlm-miner/generate"
	"github.com/btlm-miner/btlm-miner/miner/config"
	"github.com/btlm-miner/btlm-miner/miner/prompt"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

// Engine answers Prompting requests with the model: the seed's prompt, the seed's
// decoding (package generate) and the configured completion format (package prompt).
// It is safe for concurrent use; every request gets its own sequence.
type Engine struct {
	newSequence func() generate.Sequence
	tok         *tokenizer.Tokenizer
	params      generate.Params // EOS and context filled in; Seed used when seedSet
	seedSet     bool
	injection   bool
	system      string
	format      prompt.Format
}

// NewEngine binds a model (newSequence returns an empty sequence of it) and its
// tokenizer to the --btlm.* settings. eos and contextLength come from the model's
// config.json.
func NewEngine(newSequence func() generate.Sequence, tok *tokenizer.Tokenizer, b config.BTLM, eos, contextLength int) (*Engine, error) {
	format, err := prompt.ParseFormat(b.CompletionFormat)
	if err != nil {
		return nil, err
	}
	p := generate.Params{
		MaxNewTokens:      b.MaxLength,
		DoSample:          b.DoSample,
		Temperature:       b.Temperature,
		TopK:              b.TopK,
		TopP:              b.TopP,
		NoRepeatNGramSize: b.NoRepeatNGramSize,
		Seed:              b.Seed,
		EOSTokenIDs:       []int{eos},
		ContextLength:     contextLength,
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("decoding settings: %w", err)
	}
	return &Engine{newSequence: newSequence, tok: tok, params: p, seedSet: b.SeedSet,
		injection: b.DoPromptInjection, system: b.SystemPrompt, format: format}, nil
}

// Completion is one answered request.
type Completion struct {
	Text       string        // the completion as sent (unary) or the concatenated stream
	Tokens     int           // generated tokens (EOS included)
	FirstToken time.Duration // time to the first generated token
	Duration   time.Duration // whole generation
	Stop       string        // eos, max_new_tokens, turn (clean format), deadline
}

// Prompt returns the prompt text for a request (the seed's _process_history +
// "assistant: ").
func (e *Engine) Prompt(roles, messages []string) string {
	return prompt.Build(roles, messages, e.injection, e.system)
}

// errAnswerComplete stops generation once the clean format has its answer.
var errAnswerComplete = errors.New("answer complete")

// Complete generates the unary completion. ctx's deadline bounds the generation: it
// stops a little before (deadlineMargin) and returns what it has, so that a slow
// answer arrives truncated rather than not at all.
func (e *Engine) Complete(ctx context.Context, roles, messages []string) (Completion, error) {
	return e.run(ctx, roles, messages, nil)
}

// Stream generates the completion and passes each piece of the formatted answer to
// write as soon as it is final (see prompt.Format.NewStreamer).
func (e *Engine) Stream(ctx context.Context, roles, messages []string, write func(string) error) (Completion, error) {
	return e.run(ctx, roles, messages, write)
}

// deadlineMargin is how long before the request deadline generation stops.
func deadlineMargin(left time.Duration) time.Duration {
	return min(left/10, 500*time.Millisecond)
}

func (e *Engine) run(ctx context.Context, roles, messages []string, write func(string) error) (Completion, error) {
	start := time.Now()
	text := e.Prompt(roles, messages)
	ids := e.tok.Encode(text)
	p := e.params
	if p.DoSample && !e.seedSet {
		p.Seed = rand.Uint64()
	}
	genCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin(time.Until(dl))))
		defer cancel()
	}

	// The stream decodes prompt+generated like the pipeline and skips the prompt's
	// code points, so its text is exactly PipelineCompletion's.
	var (
		c        Completion
		skip     *runeSkipper
		sd       *tokenizer.StreamDecoder
		streamer = e.format.NewStreamer(text)
		sent     strings.Builder
		writeErr error
	)
	onToken := func(id int) error {
		if c.Tokens == 0 {
			c.FirstToken = time.Since(start)
		}
		c.Tokens++
		out, done := streamer.Write(skip.feed(sd.Add(id)))
		if write != nil && out != "" {
			sent.WriteString(out)
			if err := write(out); err != nil {
				writeErr = err
				return err
			}
		}
		if done {
			return errAnswerComplete
		}
		return nil
	}
	// Prime the stream decoder with the prompt the model will see (after any
	// left-truncation, which Generate applies the same way).
	promptIDs := ids
	if limit := p.ContextLength; limit > 0 && len(ids)+p.MaxNewTokens-1 > limit {
		promptIDs = ids[len(ids)+p.MaxNewTokens-1-limit:]
	}
	sd = e.tok.NewStreamDecoder()
	skip = &runeSkipper{left: runeCount(e.tok.Decode(promptIDs))}
	for _, id := range promptIDs {
		skip.feed(sd.Add(id))
	}

	res, err := generate.Generate(genCtx, e.newSequence(), ids, p, onToken)
	c.Duration = time.Since(start)
	switch {
	case err == nil:
		c.Stop = string(res.Stop)
	case errors.Is(err, errAnswerComplete):
		c.Stop = "turn"
	case writeErr != nil:
		return c, fmt.Errorf("stream: %w", writeErr)
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		c.Stop = "deadline" // our margin, not the caller's deadline: answer with what we have
	default:
		return c, fmt.Errorf("generate: %w", err)
	}

	if write != nil {
		var out string
		if c.Stop != "turn" { // the decoder's held-back tail, then the streamer's
			out, _ = streamer.Write(skip.feed(sd.Flush()))
		}
		out += streamer.Close()
		if out != "" {
			sent.WriteString(out)
			if err := write(out); err != nil {
				return c, fmt.Errorf("stream: %w", err)
			}
		}
		c.Text = sent.String()
		return c, nil
	}
	all := make([]int, 0, len(res.PromptIDs)+len(res.TokenIDs))
	all = append(append(all, res.PromptIDs...), res.TokenIDs...)
	completion := prompt.PipelineCompletion(e.tok.Decode(all), e.tok.Decode(res.PromptIDs))
	c.Text = e.format.Complete(text, completion)
	return c, nil
}

// runeSkipper drops the first left code points of a text arriving in pieces.
type runeSkipper struct{ left int }

func (r *runeSkipper) feed(s string) string {
	if r.left == 0 || s == "" {
		return s
	}
	n := runeCount(s)
	if n <= r.left {
		r.left -= n
		return ""
	}
	out := prompt.SkipRunes(s, r.left)
	r.left = 0
	return out
}

func runeCount(s string) int { return utf8.RuneCountInString(s) }
