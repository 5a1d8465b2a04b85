package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Limits on the files Load reads (GPT-2's are 1 MB, 456 kB and 1.4 MB).
const (
	maxFileSize  = 256 << 20
	maxVocabSize = 1 << 20
)

// defaultSpecial is GPT2Tokenizer's default unk/bos/eos token.
const defaultSpecial = "<|endoftext|>"

// Load reads a byte-level BPE tokenizer from a model directory: vocab.json and
// merges.txt as GPT2Tokenizer reads them, or, when either is absent, tokenizer.json
// (a BPE model with a ByteLevel pre-tokenizer). Special tokens come from
// special_tokens_map.json and tokenizer_config.json (bos/eos/unk/pad/sep/cls/mask and
// additional_special_tokens, also added_tokens_decoder), added tokens from
// added_tokens.json and tokenizer.json's added_tokens; as in GPT2Tokenizer, eos, bos
// and unk default to "<|endoftext|>". A special token missing from the vocabulary
// gets the next free id, as Hugging Face's add_tokens does.
func Load(dir string) (*Tokenizer, error) {
	t, err := load(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer from %s: %w", dir, err)
	}
	return t, nil
}

func load(dir string) (*Tokenizer, error) {
	b := newBuilder()
	vocabPath, mergesPath := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	switch {
	case exists(vocabPath) && exists(mergesPath):
		vocab := map[string]int{}
		if err := readJSON(vocabPath, &vocab); err != nil {
			return nil, err
		}
		if err := b.setVocab(vocab); err != nil {
			return nil, fmt.Errorf("vocab.json: %w", err)
		}
		data, err := readFile(mergesPath)
		if err != nil {
			return nil, err
		}
		lines, err := mergeLines(data)
		if err == nil {
			err = b.setMerges(lines)
		}
		if err != nil {
			return nil, fmt.Errorf("merges.txt: %w", err)
		}
	case exists(filepath.Join(dir, "tokenizer.json")):
		if err := b.readTokenizerJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
			return nil, fmt.Errorf("tokenizer.json: %w", err)
		}
	default:
		return nil, errors.New("no vocab.json and merges.txt, and no tokenizer.json")
	}
	if err := b.readSpecialTokens(dir); err != nil {
		return nil, err
	}
	return b.build()
}

// builder collects a tokenizer's parts while the files are read.
type builder struct {
	vocab       map[string]int // byte-level spelling → id
	tokenBytes  [][]byte
	idOfBytes   map[string]int
	merges      map[uint64]merge
	added       map[string]addedToken
	eos         string
	prefixSpace bool
}

func newBuilder() *builder {
	return &builder{idOfBytes: map[string]int{}, added: map[string]addedToken{}, eos: defaultSpecial}
}

// setVocab installs a byte-level vocabulary (token string → id).
func (b *builder) setVocab(vocab map[string]int) error {
	if len(vocab) == 0 {
		return errors.New("empty vocabulary")
	}
	b.vocab = vocab
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id >= maxVocabSize {
			return fmt.Errorf("token %q has id %d outside [0, %d)", tok, id, maxVocabSize)
		}
		maxID = max(maxID, id)
	}
	b.tokenBytes = make([][]byte, maxID+1)
	for tok, id := range vocab {
		if b.tokenBytes[id] != nil {
			return fmt.Errorf("id %d used by two tokens", id)
		}
		raw := byteLevelDecode(tok)
		b.tokenBytes[id] = raw
		b.idOfBytes[string(raw)] = id
	}
	for c := 0; c < 256; c++ {
		if _, ok := b.idOfBytes[string([]byte{byte(c)})]; !ok {
			return fmt.Errorf("no token for byte 0x%02x (%q): not a byte-level BPE vocabulary", c, string(byteToRune[c]))
		}
	}
	return nil
}

// setMerges installs merge rules, one "left right" pair per entry, in rank order.
// As in Hugging Face, a pair listed twice keeps its last rank.
func (b *builder) setMerges(lines [][2]string) error {
	b.merges = make(map[uint64]merge, len(lines))
	for rank, pair := range lines {
		left, lok := b.idOfBytes[string(byteLevelDecode(pair[0]))]
		right, rok := b.idOfBytes[string(byteLevelDecode(pair[1]))]
		merged, mok := b.idOfBytes[string(byteLevelDecode(pair[0]+pair[1]))]
		if !lok || !rok || !mok {
			return fmt.Errorf("merge %d (%q %q) uses a token that is not in the vocabulary", rank+1, pair[0], pair[1])
		}
		b.merges[pairKey(int32(left), int32(right))] = merge{rank: int32(rank), id: int32(merged)}
	}
	return nil
}

// mergeLines parses merges.txt: an optional "#version" line, then one "left right"
// pair per line (empty lines are skipped, as are a trailing newline's).
func mergeLines(data []byte) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if text == "" || (line == 1 && strings.HasPrefix(text, "#version")) {
			continue
		}
		left, right, ok := strings.Cut(text, " ")
		if !ok || left == "" || right == "" || strings.Contains(right, " ") {
			return nil, fmt.Errorf("line %d: %.60q is not a pair of tokens", line, text)
		}
		out = append(out, [2]string{left, right})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// addSpecial registers a literal token; special ones are skipped by Decode.
func (b *builder) addSpecial(content string, id int, special bool) error {
	if content == "" {
		return nil
	}
	if old, ok := b.added[content]; ok {
		special = special || old.special
		if id < 0 {
			id = old.id
		}
	}
	if id < 0 {
		if vid, ok := b.vocab[content]; ok {
			id = vid // convert_tokens_to_ids: looked up by its spelling
		}
	}
	if id < 0 {
		id = len(b.tokenBytes)
	}
	if id >= maxVocabSize {
		return fmt.Errorf("added token %q: id %d too large", content, id)
	}
	for len(b.tokenBytes) <= id {
		b.tokenBytes = append(b.tokenBytes, nil)
	}
	if b.tokenBytes[id] == nil {
		b.tokenBytes[id] = byteLevelDecode(content) // as the ByteLevel decoder reads it
	}
	b.added[content] = addedToken{content: content, id: id, special: special}
	return nil
}

// build checks the collected parts and returns the tokenizer.
func (b *builder) build() (*Tokenizer, error) {
	if b.merges == nil {
		return nil, errors.New("no merges")
	}
	t := &Tokenizer{
		tokenBytes:  b.tokenBytes,
		merges:      b.merges,
		special:     make([]bool, len(b.tokenBytes)),
		eos:         -1,
		prefixSpace: b.prefixSpace,
		cache:       newWordCache(),
	}
	for c := 0; c < 256; c++ {
		t.byteToken[c] = int32(b.idOfBytes[string([]byte{byte(c)})])
	}
	for _, a := range b.added {
		t.added = append(t.added, a)
		if a.special {
			t.special[a.id] = true
		}
	}
	sort.Slice(t.added, func(i, j int) bool { return t.added[i].content < t.added[j].content })
	if a, ok := b.added[b.eos]; ok {
		t.eos = a.id
	} else {
		return nil, fmt.Errorf("eos token %q is not defined", b.eos)
	}
	return t, nil
}

// readSpecialTokens reads the special and added tokens of the model directory.
func (b *builder) readSpecialTokens(dir string) error {
	// The order of transformers SPECIAL_TOKENS_ATTRIBUTES (new ids follow it).
	names := []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}
	found := map[string]string{"bos_token": defaultSpecial, "eos_token": defaultSpecial, "unk_token": defaultSpecial}
	var extra []string
	for _, file := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		path := filepath.Join(dir, file)
		if !exists(path) {
			continue
		}
		var m map[string]json.RawMessage
		if err := readJSON(path, &m); err != nil {
			return err
		}
		for _, name := range names {
			if raw, ok := m[name]; ok {
				s, err := tokenContent(raw)
				if err != nil {
					return fmt.Errorf("%s: %s: %w", file, name, err)
				}
				found[name] = s
			}
		}
		if raw, ok := m["additional_special_tokens"]; ok && string(raw) != "null" {
			var list []json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				return fmt.Errorf("%s: additional_special_tokens: %w", file, err)
			}
			for _, item := range list {
				s, err := tokenContent(item)
				if err != nil {
					return fmt.Errorf("%s: additional_special_tokens: %w", file, err)
				}
				extra = append(extra, s)
			}
		}
		if raw, ok := m["add_prefix_space"]; ok && file == "tokenizer_config.json" {
			_ = json.Unmarshal(raw, &b.prefixSpace)
		}
		if raw, ok := m["added_tokens_decoder"]; ok && string(raw) != "null" {
			var dec map[string]struct {
				Content string `json:"content"`
				Special bool   `json:"special"`
			}
			if err := json.Unmarshal(raw, &dec); err != nil {
				return fmt.Errorf("%s: added_tokens_decoder: %w", file, err)
			}
			for idText, tok := range dec {
				id, err := strconv.Atoi(idText)
				if err != nil || id < 0 {
					return fmt.Errorf("%s: added_tokens_decoder: bad id %q", file, idText)
				}
				if err := b.addSpecial(tok.Content, id, tok.Special); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			}
		}
	}
	if path := filepath.Join(dir, "added_tokens.json"); exists(path) {
		var m map[string]int
		if err := readJSON(path, &m); err != nil {
			return err
		}
		for content, id := range m {
			if id < 0 {
				return fmt.Errorf("added_tokens.json: %q has negative id", content)
			}
			if err := b.addSpecial(content, id, false); err != nil {
				return fmt.Errorf("added_tokens.json: %w", err)
			}
		}
	}
	for _, name := range names {
		if err := b.addSpecial(found[name], -1, true); err != nil {
			return err
		}
	}
	for _, s := range extra {
		if err := b.addSpecial(s, -1, true); err != nil {
			return err
		}
	}
	b.eos = found["eos_token"]
	return nil
}

// tokenContent reads a special-token value: a string, {"content": ...} or null.
func tokenContent(raw json.RawMessage) (string, error) {
	if string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", fmt.Errorf("want a string or an object with content, got %.40s", raw)
	}
	return *obj.Content, nil
}

// readTokenizerJSON reads a Hugging Face tokenizers file holding a byte-level BPE.
func (b *builder) readTokenizerJSON(path string) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	return b.parseTokenizerJSON(data)
}

// parseTokenizerJSON reads the model, pre-tokenizer and added tokens of a
// tokenizer.json.
func (b *builder) parseTokenizerJSON(data []byte) error {
	var file struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Normalizer   json.RawMessage `json:"normalizer"`
		PreTokenizer *struct {
			Type           string `json:"type"`
			AddPrefixSpace bool   `json:"add_prefix_space"`
		} `json:"pre_tokenizer"`
		Model struct {
			Type                    string            `json:"type"`
			Dropout                 *float64          `json:"dropout"`
			ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
			EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
			Vocab                   map[string]int    `json:"vocab"`
			Merges                  []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return err
	}
	m := file.Model
	switch {
	case m.Type != "" && m.Type != "BPE":
		return fmt.Errorf("model type %q is not BPE", m.Type)
	case m.Dropout != nil && *m.Dropout != 0:
		return errors.New("BPE dropout is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "",
		m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return errors.New("continuing_subword_prefix/end_of_word_suffix are not supported")
	case len(file.Normalizer) > 0 && string(file.Normalizer) != "null":
		return errors.New("a normalizer is not supported (GPT-2 has none)")
	case file.PreTokenizer == nil || file.PreTokenizer.Type != "ByteLevel":
		return errors.New("pre_tokenizer is not ByteLevel")
	}
	b.prefixSpace = file.PreTokenizer.AddPrefixSpace
	if err := b.setVocab(m.Vocab); err != nil {
		return err
	}
	lines := make([][2]string, 0, len(m.Merges))
	for i, raw := range m.Merges {
		var s string
		var pair []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			left, right, ok := strings.Cut(s, " ")
			if !ok {
				return fmt.Errorf("merge %d: %q is not a pair", i+1, s)
			}
			lines = append(lines, [2]string{left, right})
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			lines = append(lines, [2]string{pair[0], pair[1]})
		default:
			return fmt.Errorf("merge %d: want \"a b\" or [\"a\", \"b\"], got %.40s", i+1, raw)
		}
	}
	if err := b.setMerges(lines); err != nil {
		return err
	}
	for _, a := range file.AddedTokens {
		if err := b.addSpecial(a.Content, a.ID, a.Special); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), maxFileSize)
	}
	return data, nil
}

func readJSON(path string, v any) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	return nil
}
