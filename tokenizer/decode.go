package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// ReplaceInvalidUTF8 converts b to a string as Python's
// bytes.decode("utf-8", errors="replace") and Rust's String::from_utf8_lossy do
// (the Unicode "maximal subpart" practice, also used by the WHATWG TextDecoder):
// every maximal subpart of an ill-formed sequence becomes one U+FFFD. A maximal
// subpart is a lead byte followed by as many bytes as still form a prefix of a valid
// sequence; a byte that cannot start a sequence (80–BF, C0, C1, F5–FF) is one
// subpart by itself. For example "\xE2\x82" gives one U+FFFD (Go's range loop would
// give two) and "\xE0\x80" gives two ("\xE0" cannot be followed by "\x80").
func ReplaceInvalidUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		end, complete := scanSequence(b, i)
		if complete {
			out = append(out, b[i:end]...)
		} else {
			out = append(out, "\uFFFD"...)
		}
		i = end
	}
	return string(out)
}

// sequenceShape returns the length of the UTF-8 sequence that lead byte c starts and
// the allowed range of its second byte, or n == 0 when c cannot start a sequence.
func sequenceShape(c byte) (n int, lo, hi byte) {
	switch {
	case 0xC2 <= c && c <= 0xDF:
		return 2, 0x80, 0xBF
	case c == 0xE0:
		return 3, 0xA0, 0xBF
	case c == 0xED:
		return 3, 0x80, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		return 3, 0x80, 0xBF
	case c == 0xF0:
		return 4, 0x90, 0xBF
	case c == 0xF4:
		return 4, 0x80, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		return 4, 0x80, 0xBF
	}
	return 0, 0, 0
}

// scanSequence examines the non-ASCII sequence starting at b[i]. It returns the end
// of the sequence when it is complete and valid, or otherwise the end of its maximal
// subpart (at least i+1).
func scanSequence(b []byte, i int) (end int, complete bool) {
	n, lo, hi := sequenceShape(b[i])
	if n == 0 {
		return i + 1, false
	}
	j := i + 1
	if j < len(b) && lo <= b[j] && b[j] <= hi {
		j++
		for j < i+n && j < len(b) && b[j]&0xC0 == 0x80 {
			j++
		}
	}
	return j, j == i+n
}

// incompleteTail returns how many bytes at the end of b form the beginning of a
// valid UTF-8 sequence that more bytes could still complete (0 to 3).
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c&0xC0 == 0x80 {
			continue // continuation byte: look further back for the lead
		}
		n, _, _ := sequenceShape(c)
		if n <= k {
			return 0 // ASCII, an invalid lead, or a sequence already long enough
		}
		if end, _ := scanSequence(b, len(b)-k); end == len(b) {
			return k
		}
		return 0
	}
	return 0
}

// cleanups are transformers 4.30 PreTrainedTokenizerBase.clean_up_tokenization's
// replacements, applied one after another over the whole text.
var cleanups = [...][2]string{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
	{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// CleanUpTokenization applies transformers 4.30 clean_up_tokenization: the
// replacements " ."→".", " ?"→"?", " !"→"!", " ,"→",", " ' "→"'", " n't"→"n't",
// " 'm"→"'m", " 's"→"'s", " 've"→"'ve", " 're"→"'re", each over the whole text, in
// this order (as Python's str.replace does).
func CleanUpTokenization(s string) string {
	if !strings.Contains(s, " ") {
		return s
	}
	for _, r := range cleanups {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// StreamDecoder turns generated token ids into text while they arrive. The
// concatenation of everything Add and Flush return equals Decode of all the ids:
// special tokens are skipped, invalid UTF-8 becomes U+FFFD exactly as in Decode, and
// clean-up is applied.
//
// Add holds back (a) the bytes of a UTF-8 character that is not complete yet (up to
// 3 bytes), and (b) decoded text that clean-up could still change: text after the
// last character that is not a space, an apostrophe, n, v or r. Every clean-up pattern
// starts with a space and every proper prefix of one ends in one of those
// characters, and clean-up only ever deletes spaces, so a cut after any other
// character is final whatever follows. Typically the held-back text is a space or a
// word ending in n, r or v, which the next token releases.
//
// A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	t     *Tokenizer
	bytes []byte // undecided UTF-8 tail, at most 3 bytes
	text  []byte // decoded text that clean-up might still change
}

// NewStreamDecoder returns a StreamDecoder for ids of t.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder { return &StreamDecoder{t: t} }

// Add consumes one id and returns the text that became final, often "".
func (d *StreamDecoder) Add(id int) string {
	tok := d.t.TokenBytes(id)
	if len(tok) == 0 || d.t.IsSpecial(id) {
		return ""
	}
	d.bytes = append(d.bytes, tok...)
	hold := incompleteTail(d.bytes)
	ready := d.bytes[:len(d.bytes)-hold]
	if len(ready) == 0 {
		return ""
	}
	old := len(d.text)
	d.text = append(d.text, ReplaceInvalidUTF8(ready)...)
	d.bytes = append(d.bytes[:0], d.bytes[len(d.bytes)-hold:]...)

	// Only the new text can hold a new safe cut: before it, none was found.
	cut := 0
	for c := len(d.text); c > old; c-- {
		if c < len(d.text) && !utf8.RuneStart(d.text[c]) {
			continue
		}
		switch d.text[c-1] {
		case ' ', '\'', 'n', 'v', 'r':
			continue
		}
		cut = c
		break
	}
	if cut == 0 {
		return ""
	}
	out := CleanUpTokenization(string(d.text[:cut]))
	d.text = append(d.text[:0], d.text[cut:]...)
	return out
}

// Flush returns all remaining text (an incomplete final character becomes U+FFFD)
// and resets the decoder.
func (d *StreamDecoder) Flush() string {
	rest := append(d.text, ReplaceInvalidUTF8(d.bytes)...)
	d.text, d.bytes = d.text[:0], d.bytes[:0]
	return CleanUpTokenization(string(rest))
}
