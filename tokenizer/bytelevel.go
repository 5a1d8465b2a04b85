package tokenizer

import "unicode/utf8"

// GPT-2's bytes_to_unicode: the printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand
// for themselves; the other 68 bytes, in increasing order, become U+0100, U+0101, ….
// vocab.json and merges.txt spell tokens with these characters.
var byteToRune, runeToByte = func() (b2r [256]rune, r2b map[rune]byte) {
	r2b = make(map[rune]byte, 256)
	next := rune(256)
	for c := 0; c < 256; c++ {
		printable := ('!' <= c && c <= '~') || (0xA1 <= c && c <= 0xAC) || (0xAE <= c && c <= 0xFF)
		if printable {
			b2r[c] = rune(c)
		} else {
			b2r[c] = next
			next++
		}
		r2b[b2r[c]] = byte(c)
	}
	return b2r, r2b
}()

// byteLevelDecode turns a byte-level token spelling into raw bytes. A character
// outside the byte alphabet (possible only in added tokens) keeps its UTF-8 bytes.
func byteLevelDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if c, ok := runeToByte[r]; ok {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}

// byteLevelEncode spells raw bytes with the byte alphabet (the inverse of
// byteLevelDecode for vocabulary tokens).
func byteLevelEncode(raw []byte) string {
	out := make([]byte, 0, 2*len(raw))
	for _, c := range raw {
		out = utf8.AppendRune(out, byteToRune[c])
	}
	return string(out)
}
