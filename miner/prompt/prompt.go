// Package prompt turns a Prompting request into the BTLM prompt and the generated
// text into the completion, exactly as the Python CerebrasBTLMMiner does
// (opentensor/text-prompting b126ac1, neurons/miners/bittensorLM/miner.py, on
// transformers 4.30's TextGenerationPipeline), plus a "clean" format that fixes the
// seed's colon truncation. Everything here is a pure function of strings; see
// ../../shared/reference/btlm-model.md §5.1 and §5.6.
package prompt

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// History is the seed's _process_history: the conversation as text, one
// "role: message\n" line per message, for the roles system, user and assistant.
//
//   - roles and messages are paired like Python's zip: the shorter list wins;
//   - other roles (and any role spelled differently, e.g. "User") are dropped;
//   - with injection, systemPrompt is written first, verbatim, and a system message
//     is dropped when its text equals messages[0] (the seed compares message texts,
//     not positions, so an identical later system message is dropped too, and a
//     system message equal to a first user message as well).
func History(roles, messages []string, injection bool, systemPrompt string) string {
	var b strings.Builder
	if injection {
		b.WriteString(systemPrompt)
	}
	n := min(len(roles), len(messages))
	for i := 0; i < n; i++ {
		role, msg := roles[i], messages[i]
		switch role {
		case "system":
			if !injection || msg != messages[0] {
				b.WriteString("system: " + msg + "\n")
			}
		case "assistant":
			b.WriteString("assistant: " + msg + "\n")
		case "user":
			b.WriteString("user: " + msg + "\n")
		}
	}
	return b.String()
}

// AssistantSuffix ends every prompt: the model continues the assistant's turn.
const AssistantSuffix = "assistant: "

// Build returns the prompt text the seed gives the pipeline: History + "assistant: ".
func Build(roles, messages []string, injection bool, systemPrompt string) string {
	return History(roles, messages, injection, systemPrompt) + AssistantSuffix
}

// PipelineCompletion is the text transformers 4.30's text-generation pipeline
// appends to the prompt: decodedFull (decode of prompt+generated ids, special tokens
// skipped, clean-up applied) minus as many code points as decodedPrompt (the same
// decode of the prompt ids) has. When clean-up joins the prompt's trailing space with
// a generated "." (or ",", "'s", ...), this drops the first generated character, as
// the pipeline does.
func PipelineCompletion(decodedFull, decodedPrompt string) string {
	return SkipRunes(decodedFull, utf8.RuneCountInString(decodedPrompt))
}

// SkipRunes returns s without its first n code points ("" when s is shorter).
func SkipRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[i:]
		}
		n--
	}
	return ""
}

// Seed is the seed's post-processing of the pipeline's generated_text
// (promptText + completion): keep what follows the last ':' (Python's
// text.split(":")[-1], the whole text when it has none), then remove every
// occurrence of promptText (str.replace, a no-op in practice because promptText
// always contains a colon). The usual result is " " + completion: the space of
// "assistant: " survives. Any colon the model writes truncates the answer.
func Seed(promptText, completion string) string {
	generated := promptText + completion
	last := generated[strings.LastIndexByte(generated, ':')+1:]
	if promptText == "" {
		return last // Python: s.replace("", "") == s
	}
	return strings.ReplaceAll(last, promptText, "")
}

// SeedStreamPrefix is what a seed-format stream sends before the first generated
// text: the prompt after its last ':' (" " for every prompt Build returns). A seed
// stream (prefix + completion as it arrives) equals Seed's result whenever the
// completion contains no ':'; a stream cannot take back text when a colon comes later.
func SeedStreamPrefix(promptText string) string {
	return promptText[strings.LastIndexByte(promptText, ':')+1:]
}

// Turn markers: the clean format ends the answer where the model starts a new turn.
var turnMarkers = []string{"\nuser:", "\nsystem:"}

// Clean is the "clean" completion format: the completion cut before the first
// "\nuser:" or "\nsystem:" (a turn the model invents), with leading and trailing
// whitespace removed (Python str.strip's whitespace).
func Clean(completion string) string {
	if i := firstMarker(completion); i >= 0 {
		completion = completion[:i]
	}
	return strings.TrimFunc(completion, IsPySpace)
}

func firstMarker(s string) int {
	best := -1
	for _, m := range turnMarkers {
		if i := strings.Index(s, m); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// IsPySpace reports whether Python's str.isspace holds for r: Go's unicode.IsSpace
// plus the separators U+001C..U+001F.
func IsPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}
