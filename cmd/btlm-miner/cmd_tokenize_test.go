package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

func TestTokenizeGoldenPrompts(t *testing.T) {
	dir, cases := tinyModel(t)
	for _, c := range cases {
		code, stdout, stderr := runModelCLI(t, "tokenize", "--btlm.model", dir, "--json", c.Prompt)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var out struct {
			IDs []int `json:"ids"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("output %q: %v", stdout, err)
		}
		if !slices.Equal(out.IDs, c.PromptIDs) {
			t.Errorf("%q: ids %v, want %v", c.Prompt, out.IDs, c.PromptIDs)
		}

		code, stdout, _ = runModelCLI(t, "tokenize", "--btlm.model", dir, c.Prompt)
		if want := formatIDList(c.PromptIDs) + "\n"; code != 0 || stdout != want {
			t.Errorf("%q: plain output %q, want %q", c.Prompt, stdout, want)
		}
	}
}

func TestTokenizeDecode(t *testing.T) {
	dir := testenv.Shared(t, "testdata/btlm-tiny")
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("Hello world! naïve 東京 🙂")
	list := formatIDList(ids)
	for _, args := range [][]string{
		{"--decode", list},
		{"--decode=" + list},
		{"--decode", "[" + strings.ReplaceAll(list, ",", ", ") + "]"},
		{list, "--decode"},
	} {
		code, stdout, stderr := runModelCLI(t, append([]string{"tokenize", "--btlm.model", dir}, args...)...)
		if code != 0 || stdout != "Hello world! naïve 東京 🙂\n" {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, code, stdout, stderr)
		}
	}
	// Special tokens are skipped and clean-up applied, as the pipeline decodes.
	code, stdout, _ := runModelCLI(t, "tokenize", "--btlm.model", dir, "--json", "--decode", "15496,995,50256,13")
	var out struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
		t.Fatalf("exit %d output %q: %v", code, stdout, err)
	}
	if want := tok.Decode([]int{15496, 995, 50256, 13}); out.Text != want || out.Text != "Hello world." {
		t.Errorf("text %q, want %q", out.Text, "Hello world.")
	}
}

func TestTokenizeErrors(t *testing.T) {
	dir := testenv.Shared(t, "testdata/btlm-tiny")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing directory", []string{"--btlm.model", "/nonexistent/model", "x"}, 1, "does not exist"},
		{"hub repo id not cached offline", []string{"--btlm.model", "cerebras/btlm-3b-8k-base", "x"}, 1, "HF_HUB_OFFLINE"},
		{"no tokenizer files", []string{"--btlm.model", modelCopy(t, dir, []string{"vocab.json", "merges.txt"}, nil), "x"}, 1, "load tokenizer"},
		{"truncated vocab.json", []string{"--btlm.model", modelCopy(t, dir, nil, map[string][]byte{"vocab.json": []byte(`{"a": 0, "b"`)}), "x"}, 1, "load tokenizer"},
		{"id outside vocabulary", []string{"--btlm.model", dir, "--decode", "1,50257"}, 1, "outside the vocabulary"},
		{"not an id", []string{"--btlm.model", dir, "--decode", "1,x"}, 1, "not a decimal integer"},
		{"no text", []string{"--btlm.model", dir}, 2, "exactly one argument"},
		{"two texts", []string{"--btlm.model", dir, "a", "b"}, 2, "exactly one argument"},
		{"decode= and text", []string{"--btlm.model", dir, "--decode=1", "a"}, 2, "no further arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runModelCLI(t, append([]string{"tokenize"}, tc.args...)...)
			wantOneLineError(t, code, stderr, tc.code, tc.want)
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestParseIDList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{"1,2,3", []int{1, 2, 3}, ""},
		{" 1, 2 ,3 ", []int{1, 2, 3}, ""},
		{"1 2\t3\n", []int{1, 2, 3}, ""},
		{"[1,2,3]", []int{1, 2, 3}, ""},
		{"[]", []int{}, ""},
		{"", []int{}, ""},
		{"0,99", []int{0, 99}, ""},
		{"1,,2", []int{1, 2}, ""},
		{",", nil, "no ids"},
		{"100", nil, "outside"},
		{"-1", nil, "outside"},
		{"1.5", nil, "decimal"},
		{"0x10", nil, "decimal"},
		{"99999999999999999999999", nil, "decimal"},
		{"[1,2", nil, "']'"},
		{strings.Repeat("1,", maxIDListLength), nil, "allowed"},
	}
	for _, tc := range tests {
		got, err := parseIDList(tc.in, 100)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseIDList(%.30q): err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseIDList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseIDList: never panics, only returns ids inside the vocabulary, and whatever
// it accepts re-parses identically from formatIDList.
func FuzzParseIDList(f *testing.F) {
	for _, s := range []string{"1,2,3", "[4, 5]", "", ",", "-1", "1e3", "[", " 7 \n8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := parseIDList(s, 50257)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || id >= 50257 {
				t.Fatalf("accepted id %d", id)
			}
		}
		again, err := parseIDList(formatIDList(ids), 50257)
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("round trip of %v: %v, %v", ids, again, err)
		}
	})
}
