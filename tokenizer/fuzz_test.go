package tokenizer

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode: Encode never panics, keeps every byte of its input, round-trips valid
// UTF-8 exactly through DecodeRaw, and Decode equals the clean-up of the text
// without its special tokens. Each pre-token also merges the same with both BPE
// algorithms.
func FuzzEncode(f *testing.F) {
	tok := loadTiny(f)
	for _, s := range []string{
		"", "Hello world! It's a test.", "a  b\n\n c\t", "<|endoftext|>x<|endoftext|", "東京 🙂 ½ ٣",
		"I do n't know , ok ?", "\xff\xfe a\xe2\x82", "e\u0301 \u0085 \ufeff \u00a0x", strings.Repeat("ab", 40),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q) gave id %d", s, id)
			}
		}
		if got := string(tok.decodeBytes(ids, false)); got != s {
			t.Fatalf("bytes of Encode(%q) = %q", s, got)
		}
		if !utf8.ValidString(s) {
			return
		}
		if got := tok.DecodeRaw(ids); got != s {
			t.Fatalf("DecodeRaw(Encode(%q)) = %q", s, got)
		}
		if got, want := tok.Decode(ids), CleanUpTokenization(strings.ReplaceAll(s, "<|endoftext|>", "")); got != want {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q", s, got, want)
		}
		for _, p := range pretokens(s) {
			if p == "" {
				t.Fatalf("empty pre-token in %q", s)
			}
			if len(p) > 1 && len(p) <= 256 {
				if a, b := tok.mergeSmall(p), tok.mergeLarge(p); !slices.Equal(a, b) {
					t.Fatalf("BPE of %q: direct %v, heap %v", p, a, b)
				}
			}
		}
	})
}

// FuzzStreamDecoder: for any id sequence (special and out-of-range ids included),
// the stream decoder's output equals Decode.
func FuzzStreamDecoder(f *testing.F) {
	tok := loadTiny(f)
	f.Add([]byte("Hello, world"))
	f.Add([]byte{0xff, 0xff, 0x00, 0x01, 0xc4, 0x4e})
	f.Add([]byte(" ' s n't 're 've"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := make([]int, 0, len(data)/2)
		for i := 0; i+1 < len(data); i += 2 {
			v := int(data[i])<<8 | int(data[i+1])
			if v >= 0xff00 {
				ids = append(ids, tok.EOS())
				continue
			}
			if v < 0x1000 { // mostly single bytes and short tokens: many partial characters
				v %= 512
			}
			ids = append(ids, v-1) // -1 and ids ≥ VocabSize are skipped by both
		}
		_, got := streamDecode(tok, ids)
		if want := tok.Decode(ids); got != want {
			t.Fatalf("stream %q, Decode %q (ids %v)", got, want, ids)
		}
	})
}

// FuzzReplaceInvalidUTF8 compares with a brute-force reading of the definition:
// at each position, a complete valid character is kept; otherwise the longest
// prefix of a valid encoding (at least one byte) becomes one U+FFFD.
func FuzzReplaceInvalidUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "\xe2\x82", "\xf0\x9f\x99\x82", "a\xf1\x80\x80\xe1\x80\xc2b\x80c\x80\xbfd", "\xed\xa0\x80", "\xf4\x90"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := ReplaceInvalidUTF8(b)
		if want := replaceByDefinition(b); got != want {
			t.Fatalf("ReplaceInvalidUTF8(%q) = %q, by definition %q", b, got, want)
		}
		if utf8.Valid(b) && got != string(b) {
			t.Fatalf("valid input %q changed to %q", b, got)
		}
	})
}

func replaceByDefinition(b []byte) string {
	var out bytes.Buffer
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size == 3 {
			out.Write(b[i : i+size])
			i += size
			continue
		}
		j := i + 1
		for k := min(len(b), i+3); k > i+1; k-- {
			if isValidPrefix(b[i:k]) {
				j = k
				break
			}
		}
		out.WriteString("\uFFFD")
		i = j
	}
	return out.String()
}

// isValidPrefix reports whether p can be completed into exactly one valid UTF-8
// character, trying the boundary values of every continuation-byte range.
func isValidPrefix(p []byte) bool {
	fill := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	var try func(q []byte) bool
	try = func(q []byte) bool {
		if r, size := utf8.DecodeRune(q); (r != utf8.RuneError || size == 3) && size == len(q) {
			return true
		}
		if len(q) >= 4 {
			return false
		}
		for _, c := range fill {
			if try(append(append([]byte{}, q...), c)) {
				return true
			}
		}
		return false
	}
	return try(p)
}

// FuzzParseTokenizerJSON: any tokenizer.json content is rejected with an error or
// gives a tokenizer that encodes and decodes without panicking.
func FuzzParseTokenizerJSON(f *testing.F) {
	f.Add(miniTokenizerJSON(f, false))
	f.Add(miniTokenizerJSON(f, true))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]},"pre_tokenizer":{"type":"ByteLevel"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBuilder()
		if err := b.parseTokenizerJSON(data); err != nil {
			return
		}
		for _, name := range []string{"<|endoftext|>"} {
			if err := b.addSpecial(name, -1, true); err != nil {
				return
			}
		}
		tok, err := b.build()
		if err != nil {
			return
		}
		s := "hello world <|endoftext|> abc\xff"
		if got := string(tok.decodeBytes(tok.Encode(s), false)); got != s {
			t.Fatalf("round trip through a fuzzed tokenizer: %q", got)
		}
	})
}

// FuzzMergesTxt: merges.txt content never panics the parser.
func FuzzMergesTxt(f *testing.F) {
	f.Add([]byte("#version: 0.2\nh e\nhe l\n"))
	f.Add([]byte("a b c\n\n\r\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBuilder()
		if err := b.setVocab(byteVocab("he", "hel", "ab")); err != nil {
			t.Fatal(err)
		}
		lines, err := mergeLines(data)
		if err != nil {
			return
		}
		if err := b.setMerges(lines); err != nil {
			return
		}
		if err := b.addSpecial("<|endoftext|>", -1, true); err != nil {
			t.Fatal(err)
		}
		tok, err := b.build()
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.DecodeRaw(tok.Encode("hello ab")); got != "hello ab" {
			t.Fatalf("round trip: %q", got)
		}
	})
}

// byteVocab returns the 256 byte tokens plus extra tokens (raw text) as a
// byte-level vocabulary.
func byteVocab(extra ...string) map[string]int {
	v := map[string]int{}
	for c := 0; c < 256; c++ {
		v[byteLevelEncode([]byte{byte(c)})] = c
	}
	for i, s := range extra {
		v[byteLevelEncode([]byte(s))] = 256 + i
	}
	return v
}

// miniTokenizerJSON is a small valid tokenizer.json (merges as strings or pairs).
func miniTokenizerJSON(t testing.TB, pairs bool) []byte {
	vocab := byteVocab("he", "ll", "hell", "hello", " w", " wo")
	vocab["<|endoftext|>"] = len(vocab)
	merges := [][2]string{{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"Ġw", "o"}}
	var m []any
	for _, p := range merges {
		if pairs {
			m = append(m, []string{p[0], p[1]})
		} else {
			m = append(m, p[0]+" "+p[1])
		}
	}
	doc := map[string]any{
		"added_tokens":  []any{map[string]any{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "special": true}},
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false},
		"model":         map[string]any{"type": "BPE", "dropout": nil, "vocab": vocab, "merges": m},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
