package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// tinyDir is the shared btlm-tiny model directory: the GPT-2 vocab.json and
// merges.txt with BTLM's tokenizer_config.json and special_tokens_map.json.
func tinyDir(t testing.TB) string {
	t.Helper()
	return testenv.Shared(t, "testdata/btlm-tiny")
}

var tiny struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

// loadTiny loads the btlm-tiny tokenizer once per test binary.
func loadTiny(t testing.TB) *Tokenizer {
	t.Helper()
	dir := tinyDir(t)
	tiny.once.Do(func() { tiny.tok, tiny.err = Load(dir) })
	if tiny.err != nil {
		t.Fatal(tiny.err)
	}
	return tiny.tok
}

func TestLoadGPT2(t *testing.T) {
	tok := loadTiny(t)
	if got := tok.EOS(); got != 50256 {
		t.Errorf("EOS() = %d, want 50256", got)
	}
	if got := tok.VocabSize(); got != 50257 {
		t.Errorf("VocabSize() = %d, want 50257", got)
	}
	if !tok.IsSpecial(50256) || tok.IsSpecial(0) || tok.IsSpecial(-1) || tok.IsSpecial(50257) {
		t.Error("IsSpecial: only 50256 is special")
	}
	if got := string(tok.TokenBytes(50256)); got != "<|endoftext|>" {
		t.Errorf("TokenBytes(50256) = %q", got)
	}
	if got := string(tok.TokenBytes(220)); got != " " {
		t.Errorf("TokenBytes(220) = %q, want a space (Ġ)", got)
	}
	if got := len(tok.merges); got != 50000 {
		t.Errorf("%d merges, want 50000", got)
	}
}

// TestGoldenPromptIDs checks the prompt ids recorded in golden.json (GPT-2 BPE by
// Hugging Face).
func TestGoldenPromptIDs(t *testing.T) {
	tok := loadTiny(t)
	data, err := os.ReadFile(filepath.Join(tinyDir(t), "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Prompt    string `json:"prompt"`
			PromptIDs []int  `json:"prompt_ids"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) == 0 {
		t.Fatal("golden.json has no cases")
	}
	for _, c := range golden.Cases {
		if got := tok.Encode(c.Prompt); !reflect.DeepEqual(got, c.PromptIDs) {
			t.Errorf("Encode(%q) = %v, want %v", c.Prompt, got, c.PromptIDs)
		}
		if got := tok.Decode(c.PromptIDs); got != CleanUpTokenization(c.Prompt) {
			t.Errorf("Decode(%v) = %q", c.PromptIDs, got)
		}
	}
}

// TestEncodeKnownIDs uses GPT-2 ids known from the vocabulary, and Hugging Face
// GPT2TokenizerFast's handling of "<|endoftext|>" written in the text (split out as
// 50256, spaces around it kept).
func TestEncodeKnownIDs(t *testing.T) {
	tok := loadTiny(t)
	tests := []struct {
		text string
		want []int
	}{
		{"", []int{}},
		{"a", []int{64}},
		{" ", []int{220}},
		{"Hello world", []int{15496, 995}},
		{"<|endoftext|>", []int{50256}},
		{"a <|endoftext|> b", []int{64, 220, 50256, 275}},
		{"<|endoftext|><|endoftext|>", []int{50256, 50256}},
		{"x<|endoftext|>", []int{87, 50256}},
		// Not the literal token: BPE'd as text ("<", "|", "end", "of", "text", "|").
		{"<|endoftext|", []int{27, 91, 437, 1659, 5239, 91}},
		// Matching is case-sensitive. (These two cases' ids agree with js-tiktoken r50k_base.)
		{"<|ENDOFTEXT|>", []int{27, 91, 10619, 46, 9792, 13918, 91, 29}},
	}
	for _, tc := range tests {
		got := tok.Encode(tc.text)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	tok := loadTiny(t)
	emoji := tok.Encode("🙂") // four single-byte tokens or fewer merged ones
	tests := []struct {
		name     string
		ids      []int
		decode   string
		rawDecod string
	}{
		{"empty", nil, "", ""},
		{"special skipped", []int{15496, 50256, 995}, "Hello world", "Hello<|endoftext|> world"},
		{"cleanup", tok.Encode("I do n't know , it 's fine ."), "I don't know, it's fine.", "I do n't know , it 's fine ."},
		{"out of range ids skipped", []int{-1, 64, 50257, 1 << 30}, "a", "a"},
		{"cut emoji", emoji[:len(emoji)-1], "\uFFFD", "\uFFFD"},
		{"whole emoji", emoji, "🙂", "🙂"},
	}
	for _, tc := range tests {
		if got := tok.Decode(tc.ids); got != tc.decode {
			t.Errorf("%s: Decode(%v) = %q, want %q", tc.name, tc.ids, got, tc.decode)
		}
		if got := tok.DecodeRaw(tc.ids); got != tc.rawDecod {
			t.Errorf("%s: DecodeRaw(%v) = %q, want %q", tc.name, tc.ids, got, tc.rawDecod)
		}
	}
}

// TestEncodeInvalidUTF8 pins the documented behaviour for byte strings that are not
// UTF-8: invalid bytes are pre-tokenized like U+FFFD (class "other") and BPE'd as
// their raw bytes, so the bytes survive a round trip.
func TestEncodeInvalidUTF8(t *testing.T) {
	tok := loadTiny(t)
	for _, s := range []string{"\xff", "a\xffb", " \xff\xfe!", "caf\xc3", "\xe2\x82 euro", "\xed\xa0\x80x"} {
		ids := tok.Encode(s)
		if got := string(tok.decodeBytes(ids, false)); got != s {
			t.Errorf("bytes of Encode(%q) = %q", s, got)
		}
		if got, want := tok.DecodeRaw(ids), ReplaceInvalidUTF8([]byte(s)); got != want {
			t.Errorf("DecodeRaw(Encode(%q)) = %q, want %q", s, got, want)
		}
	}
	// "a\xffb": the invalid byte is its own pre-token between two letters.
	if got, want := tok.Encode("a\xffb"), []int{64, tok.byteIDs("\xff")[0], 65}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode(a\\xffb) = %v, want %v", got, want)
	}
}

// byteIDs returns the single-byte token ids of s.
func (t *Tokenizer) byteIDs(s string) []int {
	ids := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		ids[i] = int(t.byteToken[s[i]])
	}
	return ids
}

// TestMergeSmallLarge checks that the heap BPE used for long words merges exactly as
// the direct loop does.
func TestMergeSmallLarge(t *testing.T) {
	tok := loadTiny(t)
	words := []string{
		"hello", " internationalization", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", " the", "!!!!!!!!!!!",
		"東京都渋谷区", "🙂🙂🙂🙂", "0123456789", strings.Repeat("ab", 40), strings.Repeat(" ", 70),
		"Supercalifragilisticexpialidocious", "\xff\xfe\xfd",
	}
	for _, w := range words {
		small, large := tok.mergeSmall(w), tok.mergeLarge(w)
		if !reflect.DeepEqual(small, large) {
			t.Errorf("%q: direct %v, heap %v", w, small, large)
		}
	}
}

// TestLongWordBounded encodes a hostile 1 MB single-letter word and a 1 MB
// whitespace run; the heap merge keeps this linearithmic.
func TestLongWordBounded(t *testing.T) {
	tok := loadTiny(t)
	for _, s := range []string{strings.Repeat("a", 1<<20), strings.Repeat(" ", 1<<20) + "x", strings.Repeat("🙂", 1<<18)} {
		ids := tok.Encode(s)
		if len(ids) == 0 || len(ids) > len(s) {
			t.Fatalf("Encode of %d bytes gave %d ids", len(s), len(ids))
		}
		if got := tok.DecodeRaw(ids); got != s {
			t.Fatalf("round trip of %d bytes failed", len(s))
		}
	}
}

func TestWordCacheBounded(t *testing.T) {
	c := newWordCache()
	for i := 0; i < 5*cacheGeneration; i++ {
		c.put(strings.Repeat("x", i%50)+string(rune('a'+i%26))+strings.Repeat("y", i/26%7)+string(rune(i)), []int32{int32(i)})
	}
	if n := len(c.cur) + len(c.old); n > 2*cacheGeneration {
		t.Errorf("cache holds %d entries, bound %d", n, 2*cacheGeneration)
	}
	c.put(strings.Repeat("z", maxCachedWord+1), []int32{1})
	if _, ok := c.get(strings.Repeat("z", maxCachedWord+1)); ok {
		t.Error("a word longer than maxCachedWord was cached")
	}
	c.put("kept", []int32{7})
	if v, ok := c.get("kept"); !ok || v[0] != 7 {
		t.Error("cache lost a fresh entry")
	}
}

// TestConcurrentEncode runs Encode from several goroutines (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := loadTiny(t)
	text := "The quick brown fox jumps over the lazy dog. 東京 🙂 12345 it's"
	want := tok.Encode(text)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if got := tok.Encode(text); !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent Encode differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestAddedTokenSplit: added tokens are matched leftmost first, the longest of
// those starting at the same place, without overlaps (as Hugging Face's
// AddedVocabulary split does).
func TestAddedTokenSplit(t *testing.T) {
	b := newBuilder()
	if err := b.setVocab(byteVocab()); err != nil {
		t.Fatal(err)
	}
	if err := b.setMerges(nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ab", "abc", "bcd", "<|endoftext|>"} {
		if err := b.addSpecial(s, -1, s == "<|endoftext|>"); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := b.build()
	if err != nil {
		t.Fatal(err)
	}
	ab, abc, bcd, eos := tok.added[idx(tok, "ab")].id, tok.added[idx(tok, "abc")].id, tok.added[idx(tok, "bcd")].id, tok.EOS()
	tests := []struct {
		text string
		want []int
	}{
		{"xabcd", []int{'x', abc, 'd'}},
		{"xabd", []int{'x', ab, 'd'}},
		{"bcdab", []int{bcd, ab}},
		{"abcbcd<|endoftext|>ab", []int{abc, bcd, eos, ab}},
		{"a b c", []int{'a', ' ', 'b', ' ', 'c'}},
	}
	for _, tc := range tests {
		if got := tok.Encode(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	// Many occurrences of one token while others never occur: every token's text
	// is searched once (no quadratic rescans).
	text := strings.Repeat("<|endoftext|>x", 100000)
	ids := tok.Encode(text)
	if len(ids) != 200000 || ids[0] != eos || ids[1] != 'x' {
		t.Errorf("Encode of 100000 special tokens gave %d ids", len(ids))
	}
}

func idx(t *Tokenizer, content string) int {
	for i, a := range t.added {
		if a.content == content {
			return i
		}
	}
	return -1
}
