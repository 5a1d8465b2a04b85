package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles creates a model directory holding the given files.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gpt2TokenizerJSON converts the btlm-tiny vocab.json + merges.txt into a
// tokenizer.json as transformers' GPT2Converter would write it.
func gpt2TokenizerJSON(t *testing.T, pairMerges bool) string {
	t.Helper()
	dir := tinyDir(t)
	var vocab map[string]int
	data, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &vocab); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var merges []any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#version") {
			continue
		}
		if pairMerges {
			l, r, _ := strings.Cut(line, " ")
			merges = append(merges, []string{l, r})
		} else {
			merges = append(merges, line)
		}
	}
	doc := map[string]any{
		"version":       "1.0",
		"added_tokens":  []any{map[string]any{"id": 50256, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}},
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"decoder":       map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model":         map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false, "vocab": vocab, "merges": merges},
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestLoadTokenizerJSON: a tokenizer.json (merges as strings or as pairs) gives the
// same tokenizer as vocab.json + merges.txt.
func TestLoadTokenizerJSON(t *testing.T) {
	ref := loadTiny(t)
	texts := generateStrings(ref, 300)
	for _, pairs := range []bool{false, true} {
		dir := writeFiles(t, map[string]string{"tokenizer.json": gpt2TokenizerJSON(t, pairs)})
		tok, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if tok.EOS() != 50256 || tok.VocabSize() != 50257 || !tok.IsSpecial(50256) {
			t.Errorf("pairs=%v: EOS %d, VocabSize %d", pairs, tok.EOS(), tok.VocabSize())
		}
		for _, s := range texts {
			if got, want := tok.Encode(s), ref.Encode(s); !reflect.DeepEqual(got, want) {
				t.Fatalf("pairs=%v: Encode(%q) = %v, vocab.json gives %v", pairs, s, got, want)
			}
		}
	}
}

// TestAddedTokens: added_tokens.json and additional special tokens are split out of
// the text; only special ones are skipped by Decode. A special token missing from
// the vocabulary gets the next id. add_prefix_space prefixes a space.
func TestAddedTokens(t *testing.T) {
	dir := tinyDir(t)
	vocab, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	merges, err := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	model := writeFiles(t, map[string]string{
		"vocab.json":              string(vocab),
		"merges.txt":              string(merges),
		"added_tokens.json":       `{"<|user|>": 50257}`,
		"special_tokens_map.json": `{"eos_token": {"content": "<|endoftext|>", "lstrip": false}, "pad_token": "<|pad|>", "additional_special_tokens": ["<|sys|>"]}`,
	})
	tok, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 50260 {
		t.Errorf("VocabSize() = %d, want 50260", tok.VocabSize())
	}
	ids := tok.Encode("<|sys|>Hi<|user|> a<|pad|><|endoftext|>")
	want := []int{50259, 17250, 50257, 257, 50258, 50256}
	// <|pad|> and <|sys|> are added in a fixed order after added_tokens.json: pad
	// (a named special token) before the additional ones.
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	if got := tok.Decode(ids); got != "Hi<|user|> a" {
		t.Errorf("Decode = %q", got)
	}

	prefixed := writeFiles(t, map[string]string{
		"vocab.json":            string(vocab),
		"merges.txt":            string(merges),
		"tokenizer_config.json": `{"add_prefix_space": true, "eos_token": "<|endoftext|>"}`,
	})
	tok, err = Load(prefixed)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("Hello<|endoftext|>world"); !reflect.DeepEqual(got, []int{18435, 50256, 995}) {
		t.Errorf("add_prefix_space Encode = %v, want [18435 50256 995] (' Hello', eos, ' world')", got)
	}
}

func TestLoadErrors(t *testing.T) {
	bytesOnly, err := json.Marshal(byteVocab())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty dir", nil, "no vocab.json and merges.txt"},
		{"vocab only", map[string]string{"vocab.json": string(bytesOnly)}, "no vocab.json and merges.txt"},
		{"bad vocab json", map[string]string{"vocab.json": "{", "merges.txt": ""}, "parse vocab.json"},
		{"empty vocab", map[string]string{"vocab.json": "{}", "merges.txt": ""}, "empty vocabulary"},
		{"negative id", map[string]string{"vocab.json": `{"a": -1}`, "merges.txt": ""}, "outside"},
		{"duplicate id", map[string]string{"vocab.json": `{"a": 0, "b": 0}`, "merges.txt": ""}, "used by two tokens"},
		{"missing byte", map[string]string{"vocab.json": `{"a": 0}`, "merges.txt": ""}, "no token for byte 0x00"},
		{"merge of unknown token", map[string]string{"vocab.json": string(bytesOnly), "merges.txt": "#version: 0.2\nx y\n"}, "merge 1"},
		{"merge not a pair", map[string]string{"vocab.json": string(bytesOnly), "merges.txt": "#version: 0.2\na b\nabc\n"}, "line 3"},
		{"bad special map", map[string]string{"vocab.json": string(bytesOnly), "merges.txt": "", "special_tokens_map.json": `{"eos_token": 5}`}, "eos_token"},
		{"not BPE", map[string]string{"tokenizer.json": `{"model": {"type": "WordPiece"}, "pre_tokenizer": {"type": "ByteLevel"}}`}, "not BPE"},
		{"not byte level", map[string]string{"tokenizer.json": `{"model": {"type": "BPE"}, "pre_tokenizer": {"type": "Metaspace"}}`}, "not ByteLevel"},
		{"normalizer", map[string]string{"tokenizer.json": `{"normalizer": {"type": "NFC"}, "model": {"type": "BPE"}, "pre_tokenizer": {"type": "ByteLevel"}}`}, "normalizer"},
		{"bad merge entry", map[string]string{"tokenizer.json": `{"model": {"type": "BPE", "vocab": ` + string(bytesOnly) + `, "merges": [1]}, "pre_tokenizer": {"type": "ByteLevel"}}`}, "merge 1"},
	}
	for _, tc := range tests {
		dir := writeFiles(t, tc.files)
		_, err := Load(dir)
		if err == nil {
			t.Errorf("%s: Load succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error %q does not name the directory and %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}
