// Package tokenizer implements the GPT-2 byte-level BPE tokenizer exactly as
// Hugging Face transformers 4.30 GPT2TokenizerFast (tokenizers 0.13) behaves for
// cerebras/btlm-3b-8k-base, which is what AutoTokenizer and the text-generation
// pipeline use for that model:
//
//   - Encode splits the text on the literal added/special tokens first (leftmost,
//     longest; "<|endoftext|>" becomes 50256, with no stripping of the spaces around
//     it, as the fast tokenizer does), pre-tokenizes every other piece with the GPT-2
//     pattern
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//     written by hand (pretokenize.go), and runs byte-level BPE on each pre-token
//     (bpe.go). No BOS is added.
//   - Decode drops special tokens, concatenates token bytes, replaces invalid UTF-8
//     exactly as Python's bytes.decode("utf-8", errors="replace") and Rust's
//     String::from_utf8_lossy do (one U+FFFD per maximal invalid subpart), and applies
//     transformers 4.30 clean_up_tokenization (decode.go).
//
// A Tokenizer is safe for concurrent use.
//
// Differences from the slow GPT2Tokenizer, which the pipeline does not use: in
// transformers 4.30 it strips the whitespace on both sides of a special token
// written in the text ("a <|endoftext|> b" → "a", 50256, "b"); the fast tokenizer,
// and this package, keep it. Letter/number classes come from Go's unicode tables
// (Unicode 15.0), which can differ from Hugging Face's only for recently assigned
// characters.
//
// Invalid UTF-8 input to Encode (Hugging Face only ever sees valid Python str): each
// byte that does not start a valid UTF-8 sequence is classified like U+FFFD (neither
// letter, number nor space, so it joins the ` ?[^\s\p{L}\p{N}]+` class) and its raw
// byte is kept and BPE-encoded as a byte. Pre-tokens without invalid bytes are
// encoded as Hugging Face encodes them, and the raw bytes survive: the bytes of the
// ids equal s for every s, so DecodeRaw(Encode(s)) == s for every valid s (for
// invalid s, DecodeRaw returns s with Python's U+FFFD replacement).
package tokenizer

import "strings"

// Tokenizer is a loaded byte-level BPE tokenizer. Create it with Load.
type Tokenizer struct {
	tokenBytes [][]byte   // id → raw bytes (added tokens: their UTF-8 content)
	byteToken  [256]int32 // raw byte → id of its single-byte token
	merges     map[uint64]merge

	added       []addedToken // tokens matched literally in the text before BPE (specials included)
	special     []bool       // id → skipped by Decode
	eos         int
	prefixSpace bool // ByteLevel add_prefix_space (false for GPT-2/BTLM)

	cache *wordCache
}

// merge is the result of merging one adjacent pair: its rank (line in merges.txt)
// and the id of the merged token.
type merge struct {
	rank int32
	id   int32
}

type addedToken struct {
	content string
	id      int
	special bool
}

// EOS returns the id of the end-of-sequence token ("<|endoftext|>" = 50256 for GPT-2).
func (t *Tokenizer) EOS() int { return t.eos }

// VocabSize returns the number of token ids: one more than the largest id of the
// vocabulary and the added tokens (50257 for GPT-2; the embedding has as many rows).
func (t *Tokenizer) VocabSize() int { return len(t.tokenBytes) }

// IsSpecial reports whether id is a special token that Decode skips.
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}

// TokenBytes returns the raw bytes of token id (for an added token its text), or nil
// for an id outside the vocabulary. The slice must not be modified.
func (t *Tokenizer) TokenBytes(id int) []byte {
	if id < 0 || id >= len(t.tokenBytes) {
		return nil
	}
	return t.tokenBytes[id]
}

// Encode returns the token ids of text, as GPT2TokenizerFast(text,
// add_special_tokens=False) does: added tokens written literally in the text are
// matched first, everything else is pre-tokenized and BPE-encoded. No BOS is added.
func (t *Tokenizer) Encode(text string) []int {
	ids := make([]int, 0, len(text)/3+1)
	if len(t.added) == 0 {
		return t.encodeOrdinary(ids, text)
	}
	// next[i] is the next occurrence of added token i at or after pos (-1: none
	// left), so each token's occurrences are searched once over the whole text.
	next := make([]int, len(t.added))
	for i := range next {
		next[i] = -2 // not searched yet
	}
	pos := 0
	for pos < len(text) {
		best := -1
		for i := range t.added {
			if next[i] == -2 || (next[i] >= 0 && next[i] < pos) {
				next[i] = -1
				if at := strings.Index(text[pos:], t.added[i].content); at >= 0 {
					next[i] = pos + at
				}
			}
			if next[i] < 0 {
				continue
			}
			// Leftmost, then longest.
			if best < 0 || next[i] < next[best] || (next[i] == next[best] && len(t.added[i].content) > len(t.added[best].content)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		ids = t.encodeOrdinary(ids, text[pos:next[best]])
		ids = append(ids, t.added[best].id)
		pos = next[best] + len(t.added[best].content)
	}
	return t.encodeOrdinary(ids, text[pos:])
}

// encodeOrdinary appends the ids of text, which contains no added token.
func (t *Tokenizer) encodeOrdinary(ids []int, text string) []int {
	if text == "" {
		return ids
	}
	if t.prefixSpace && text[0] != ' ' {
		text = " " + text
	}
	for len(text) > 0 {
		n := nextPretoken(text)
		ids = t.appendWord(ids, text[:n])
		text = text[n:]
	}
	return ids
}

// DecodeRaw returns the text of ids with nothing skipped and no clean-up (special
// tokens appear as their text), converting invalid UTF-8 as Python's
// errors="replace" does. Ids outside the vocabulary are skipped, as the Hugging Face
// fast tokenizer does.
func (t *Tokenizer) DecodeRaw(ids []int) string {
	return ReplaceInvalidUTF8(t.decodeBytes(ids, false))
}

// Decode returns the text of ids as tokenizer.decode(ids, skip_special_tokens=True,
// clean_up_tokenization_spaces=True) does in transformers 4.30 (the text-generation
// pipeline's post-processing): special tokens are dropped, the bytes of the rest are
// decoded with one U+FFFD per maximal invalid UTF-8 subpart, then
// CleanUpTokenization is applied. Ids outside the vocabulary are skipped.
func (t *Tokenizer) Decode(ids []int) string {
	return CleanUpTokenization(ReplaceInvalidUTF8(t.decodeBytes(ids, true)))
}

// decodeBytes concatenates the raw bytes of ids.
func (t *Tokenizer) decodeBytes(ids []int, skipSpecial bool) []byte {
	n := 0
	for _, id := range ids {
		if id >= 0 && id < len(t.tokenBytes) {
			n += len(t.tokenBytes[id])
		}
	}
	out := make([]byte, 0, n)
	for _, id := range ids {
		if id < 0 || id >= len(t.tokenBytes) || (skipSpecial && t.special[id]) {
			continue
		}
		out = append(out, t.tokenBytes[id]...)
	}
	return out
}
