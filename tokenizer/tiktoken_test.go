package tokenizer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// The independent reference: js-tiktoken's r50k_base (GPT-2's ranks and pattern),
// driven by testdata/tiktoken.mjs. Its JavaScript regex differs from Hugging Face's
// in two characters only: JS \s lacks U+0085 and includes U+FEFF. Those two are kept
// out of the generated strings (TestPretokenize pins their Hugging Face behaviour),
// and TestTiktoken first checks that JS classifies every character of the pool as
// Go does.

type nodeRequest struct {
	Encode   []string `json:"encode,omitempty"`
	Classify []rune   `json:"classify,omitempty"`
	Decode   [][]int  `json:"decode,omitempty"`
}

type nodeAnswer struct {
	Encode   [][]int  `json:"encode"`
	Classify []string `json:"classify"`
	Decode   []string `json:"decode"`
}

// runNode sends one request to testdata/tiktoken.mjs.
func runNode(t *testing.T, req nodeRequest) nodeAnswer {
	t.Helper()
	module := testenv.NodeModule(t, "js-tiktoken")
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node executable: %v", err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "tiktoken.mjs"), module)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node tiktoken.mjs: %v\n%s", err, stderr.String())
	}
	var ans nodeAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		t.Fatalf("node answer: %v", err)
	}
	return ans
}

// Character pool for generated strings, by kind.
var (
	poolLetters = []string{
		"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"éèêëàâäôöûüçñßøåæœÿłőžšđ", "ÉÀÇÑØÅÆ", "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΩ",
		"абвгдежзийклмнопрстуфхцчшщъыьэюяАБВЖЯ", "אבגדהוזחטיכלמנסעפצקרשת",
		"ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "अआइईउऊकखगघचछजझटठडढणतथदधनपफबभमयरलवशसह",
		"กขฃคฅฆงจฉชซฌญฎฏฐ", "東京中文字日本語漢字北京上海", "ひらがなカタカナ", "한국어가나다라마바사",
		"ʰʲˈ", // modifier letters (Lm)
	}
	poolMarks   = []string{"\u0301\u0300\u0308\u0327\u0303", "\u093e\u093f\u0940\u094d\u0902", "\u0e31\u0e34\u0e48", "\u05b7\u05bc", "\u064e\u064f\u0650"}
	poolNumbers = []string{
		"0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "²³¹⁴⁰", "½¼¾⅓",
		"ⅠⅡⅢⅣⅫⅰⅱ", "①②③⑳", "〇〡〢",
	}
	poolSpaces = []string{
		" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\v", "\f", "\r",
		"\u00a0", "\u1680", "\u2000", "\u2003", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
	}
	poolOther = []string{
		".", ",", "!", "?", ";", ":", "-", "--", "...", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "/", "\\",
		"@", "#", "$", "%", "^", "&", "*", "_", "+", "=", "<", ">", "|", "~", "’", "“", "”", "—", "…", "€", "£", "©", "°",
		"\x00", "\x01", "\x07", "\x08", "\x0e", "\x1b", "\x1c", "\x1d", "\x1e", "\x1f", "\x7f", "\u0080", "\u009f",
		"\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufffd",
		"🙂", "😀", "👍", "👍🏽", "❤️", "👨\u200d👩\u200d👧", "🇫🇷", "🇯🇵", "1️⃣", "✅", "🚀", "🤖", "𝐀", "𝔸", "🏳️\u200d🌈",
	}
	poolWords = []string{
		"'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'M", "n't", "N'T",
		"’s", "'x", "''", "the", " the", "The", "I", "don", "can", "won", "it", "we", "they", "you",
		"<|endoftext|>", "<|endoftext|", "<|endof", "|>", "<|", "endoftext", "<|endoftext|><|endoftext|>",
		"http://example.com/a?b=c", "user:", "assistant:", "system:", "def f(x):", "    return x",
		"12,345.67", "3.14159", "1e-9", "0x1F", "2023-11-25", "#include <stdio.h>",
	}
)

// poolRunes lists every code point the pools use, for the classification check.
func poolRunes() []rune {
	seen := map[rune]bool{}
	var out []rune
	for _, pool := range [][]string{poolLetters, poolMarks, poolNumbers, poolSpaces, poolOther, poolWords} {
		for _, s := range pool {
			for _, r := range s {
				if !seen[r] {
					seen[r] = true
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// generateStrings returns n deterministic pseudo-random strings mixing the pools,
// vocabulary tokens, runs and (one in a hundred) long words glued from vocabulary
// tokens.
func generateStrings(tok *Tokenizer, n int) []string {
	rng := rand.New(rand.NewPCG(2023, 1125))
	pick := func(pool []string) string {
		s := pool[rng.IntN(len(pool))]
		if rng.IntN(3) == 0 {
			rs := []rune(s)
			i := rng.IntN(len(rs))
			return string(rs[i : i+1+rng.IntN(min(4, len(rs)-i))])
		}
		return s
	}
	vocabPiece := func() string {
		for {
			b := tok.TokenBytes(rng.IntN(tok.VocabSize() - 1))
			if utf8.Valid(b) {
				return string(b)
			}
		}
	}
	out := make([]string, 0, n)
	for len(out) < n {
		var sb strings.Builder
		if len(out)%100 == 99 {
			// A long word (hundreds of bytes): exercises the heap merge of long words.
			for sb.Len() < 150+rng.IntN(400) {
				sb.WriteString(strings.TrimLeft(vocabPiece(), " "))
			}
			out = append(out, sb.String())
			continue
		}
		parts := 1 + rng.IntN(12)
		for p := 0; p < parts; p++ {
			switch k := rng.IntN(20); {
			case k < 5:
				sb.WriteString(vocabPiece())
			case k < 8:
				sb.WriteString(pick(poolLetters))
			case k < 9:
				sb.WriteString(pick(poolMarks))
			case k < 11:
				sb.WriteString(pick(poolNumbers))
			case k < 14:
				sb.WriteString(pick(poolSpaces))
			case k < 17:
				sb.WriteString(pick(poolOther))
			case k < 19:
				sb.WriteString(pick(poolWords))
			default: // a run
				unit := pick([][]string{poolSpaces, poolOther, poolLetters, poolNumbers}[rng.IntN(4)])
				sb.WriteString(strings.Repeat(unit, 2+rng.IntN(12)))
			}
		}
		out = append(out, sb.String())
	}
	return out
}

// TestTiktoken compares Encode with js-tiktoken r50k_base on generated strings.
func TestTiktoken(t *testing.T) {
	tok := loadTiny(t)
	texts := generateStrings(tok, 4000)
	runes := poolRunes()
	ans := runNode(t, nodeRequest{Encode: texts, Classify: runes})

	if len(ans.Classify) != len(runes) || len(ans.Encode) != len(texts) {
		t.Fatalf("node answered %d classes and %d encodings, want %d and %d", len(ans.Classify), len(ans.Encode), len(runes), len(texts))
	}
	classNames := map[charClass]string{classLetter: "L", classNumber: "N", classSpace: "S", classOther: "O"}
	for i, r := range runes {
		c, _ := classify(string(r))
		if classNames[c] != ans.Classify[i] {
			t.Errorf("U+%04X: Go class %s, JavaScript %s (pool character differs between the engines)", r, classNames[c], ans.Classify[i])
		}
	}
	mismatches := 0
	for i, text := range texts {
		got := tok.Encode(text)
		if !reflect.DeepEqual(got, ans.Encode[i]) {
			if mismatches++; mismatches <= 10 {
				t.Errorf("Encode(%q)\n got  %v\n tiktoken %v", text, got, ans.Encode[i])
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d strings differ from js-tiktoken", mismatches, len(texts))
	}
}

// TestTextDecoder compares ReplaceInvalidUTF8 with the WHATWG TextDecoder, which
// substitutes maximal subparts as Python does, on random byte strings biased towards
// UTF-8 lead and continuation bytes.
func TestTextDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	interesting := []byte{0x00, 'a', ' ', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff}
	inputs := make([][]byte, 3000)
	req := nodeRequest{Decode: make([][]int, len(inputs))}
	for i := range inputs {
		b := make([]byte, rng.IntN(12))
		for j := range b {
			if rng.IntN(3) == 0 {
				b[j] = byte(rng.IntN(256))
			} else {
				b[j] = interesting[rng.IntN(len(interesting))]
			}
		}
		inputs[i] = b
		req.Decode[i] = make([]int, len(b))
		for j, c := range b {
			req.Decode[i][j] = int(c)
		}
	}
	ans := runNode(t, req)
	if len(ans.Decode) != len(inputs) {
		t.Fatalf("node answered %d decodings, want %d", len(ans.Decode), len(inputs))
	}
	for i, b := range inputs {
		if got := ReplaceInvalidUTF8(b); got != ans.Decode[i] {
			t.Errorf("ReplaceInvalidUTF8(%q) = %q, TextDecoder %q", b, got, ans.Decode[i])
		}
	}
}
