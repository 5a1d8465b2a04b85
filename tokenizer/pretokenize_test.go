package tokenizer

import (
	"reflect"
	"testing"
)

// pretokens splits text the way Encode does before BPE.
func pretokens(text string) []string {
	var out []string
	for len(text) > 0 {
		n := nextPretoken(text)
		out = append(out, text[:n])
		text = text[n:]
	}
	return out
}

// TestPretokenize checks the hand-written GPT-2 pattern against expectations derived
// by hand from the regex's leftmost-first alternation
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with \s = Unicode White_Space (the Hugging Face fast tokenizer and tiktoken).
func TestPretokenize(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"a \n b", []string{"a", " \n", " b"}},
		{"x   ", []string{"x", "   "}},
		{"   ", []string{"   "}},
		{" ", []string{" "}},
		{"\t\tfoo", []string{"\t", "\t", "foo"}},
		{"a\r\n", []string{"a", "\r\n"}},
		{"I'm", []string{"I", "'m"}},
		{"I'M", []string{"I", "'", "M"}},
		{"don't", []string{"don", "'t"}},
		{"we'll've", []string{"we", "'ll", "'ve"}},
		{"they're'", []string{"they", "'re", "'"}},
		{"'d'", []string{"'d", "'"}},
		{"'lx", []string{"'", "lx"}},
		{"'sup", []string{"'s", "up"}},
		{" 's", []string{" '", "s"}},
		{"?!'s", []string{"?!'", "s"}},
		{"it’s", []string{"it", "’", "s"}},
		{"3.14", []string{"3", ".", "14"}},
		{" 123abc", []string{" 123", "abc"}},
		{"abc123", []string{"abc", "123"}},
		{"e\u0301", []string{"e", "\u0301"}},
		{" \u0301x", []string{" \u0301", "x"}},
		{"٣٤٥ Ⅻ ½²", []string{"٣٤٥", " Ⅻ", " ½²"}},
		{"東京 タワー", []string{"東京", " タワー"}},
		{"🙂👍!", []string{"🙂👍!"}},
		{"👨\u200d👩\u200d👧 ok", []string{"👨\u200d👩\u200d👧", " ok"}},
		// U+0085 (NEL) and U+00A0 are White_Space; U+FEFF, U+200B and the
		// separators \x1c-\x1f are not (they are "other").
		{"a\u0085b", []string{"a", "\u0085", "b"}},
		{" \u0085b", []string{" ", "\u0085", "b"}},
		{" \u00a0x", []string{" ", "\u00a0", "x"}},
		{"\u00a0\u3000", []string{"\u00a0\u3000"}},
		{" \ufeffx", []string{" \ufeff", "x"}},
		{"a\u200bb", []string{"a", "\u200b", "b"}},
		{"a\x1c b", []string{"a", "\x1c", " b"}},
		{" \x00\x01", []string{" \x00\x01"}},
		// Invalid UTF-8 bytes behave like U+FFFD (class other).
		{"a\xffb", []string{"a", "\xff", "b"}},
		{" \xff\xfe!", []string{" \xff\xfe!"}},
		{"\xe2\x82 x", []string{"\xe2\x82", " x"}},
	}
	for _, tc := range tests {
		if got := pretokens(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pretokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
