package prompt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

const sys = "A chat between a curious user and an artificial intelligence assistant.\n" +
	"The assistant gives helpful, detailed, and polite answers to the user's questions. "

// Each case's want is what the seed's Python computes; the comment gives the
// derivation step by step (miner.py _process_history, then + "assistant: ").
func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name      string
		roles     []string
		messages  []string
		injection bool
		want      string
	}{
		{
			// for each pair: "system: "+m+"\n", "user: "+m+"\n"; then "assistant: ".
			name:     "system and user",
			roles:    []string{"system", "user"},
			messages: []string{"You are a helpful assistant.", "What is the capital of France?"},
			want:     "system: You are a helpful assistant.\nuser: What is the capital of France?\nassistant: ",
		},
		{
			// assistant turns are kept in order.
			name:     "multi-turn",
			roles:    []string{"user", "assistant", "user"},
			messages: []string{"hi", "hello", "bye"},
			want:     "user: hi\nassistant: hello\nuser: bye\nassistant: ",
		},
		{
			// zip() stops at the shorter list: the third message has no role.
			name:     "zip truncates to the shorter list",
			roles:    []string{"user", "user"},
			messages: []string{"a", "b", "c"},
			want:     "user: a\nuser: b\nassistant: ",
		},
		{
			// roles are compared with ==: "User" and "tool" match no branch.
			name:     "unknown and differently-cased roles dropped",
			roles:    []string{"User", "tool", "user"},
			messages: []string{"x", "y", "z"},
			want:     "user: z\nassistant: ",
		},
		{
			// no messages: history "" then "assistant: ".
			name: "empty",
			want: "assistant: ",
		},
		{
			// injection: history starts with system_prompt (no newline added); the system
			// message equal to messages[0] is skipped.
			name:      "injection replaces the first system message",
			roles:     []string{"system", "user"},
			messages:  []string{"You are a pirate.", "hi"},
			injection: true,
			want:      sys + "user: hi\nassistant: ",
		},
		{
			// injection: a later system message with the same text as messages[0] is
			// skipped too (text comparison), a different one is kept.
			name:      "injection compares texts, not positions",
			roles:     []string{"system", "user", "system", "system"},
			messages:  []string{"S", "q", "S", "T"},
			injection: true,
			want:      sys + "user: q\nsystem: T\nassistant: ",
		},
		{
			// injection with a first *user* message: a system message equal to it is dropped.
			name:      "injection drops a system message equal to a first user message",
			roles:     []string{"user", "system"},
			messages:  []string{"same", "same"},
			injection: true,
			want:      sys + "user: same\nassistant: ",
		},
		{
			// injection without any system message: prompt prepended, everything kept.
			name:      "injection without system messages",
			roles:     []string{"user"},
			messages:  []string{"hi"},
			injection: true,
			want:      sys + "user: hi\nassistant: ",
		},
		{
			// messages are inserted verbatim: colons and newlines are not escaped.
			name:     "verbatim content",
			roles:    []string{"user"},
			messages: []string{"a: b\nuser: c"},
			want:     "user: a: b\nuser: c\nassistant: ",
		},
	} {
		if got := Build(tc.roles, tc.messages, tc.injection, sys); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestPipelineCompletion(t *testing.T) {
	for _, tc := range []struct{ full, prompt, want string }{
		// generated_text = prompt_text + text[len(decoded prompt):]
		{"user: hi\nassistant:  Hello", "user: hi\nassistant: ", " Hello"},
		// clean-up turned "assistant: ." into "assistant:." in the full text, so the
		// offset (taken from the prompt decoded alone, 20 code points) skips the ".".
		{"user: hi\nassistant:. Yes", "user: hi\nassistant: ", " Yes"},
		// code points, not bytes: "é" is one.
		{"café: ok", "café:", " ok"},
		// full text shorter than the prompt: nothing.
		{"ab", "abc", ""},
	} {
		if got := PipelineCompletion(tc.full, tc.prompt); got != tc.want {
			t.Errorf("PipelineCompletion(%q, %q) = %q, want %q", tc.full, tc.prompt, got, tc.want)
		}
	}
}

func TestSeed(t *testing.T) {
	p := "system: s\nuser: q\nassistant: "
	for _, tc := range []struct{ name, completion, want string }{
		// (p + c).split(":")[-1] is " " + c: the space of "assistant: " survives.
		{"plain", "Paris.", " Paris."},
		// a completion starting with a space gives two.
		{"leading space", " Paris", "  Paris"},
		// any colon truncates: only the text after the model's last ':' remains.
		{"colon", "Note: it is Paris", " it is Paris"},
		{"new turn", "Paris\nuser: and Spain?", " and Spain?"},
		{"trailing colon", "Answer:", ""},
		// no stripping, newlines kept.
		{"newlines", "a\nb\n", " a\nb\n"},
		{"empty", "", " "},
	} {
		if got := Seed(p, tc.completion); got != tc.want {
			t.Errorf("%s: Seed = %q, want %q", tc.name, got, tc.want)
		}
	}
	// .replace(history, "") only matters for a prompt without a colon.
	if got := Seed("ab", "cab"); got != "c" {
		t.Errorf(`Seed("ab", "cab") = %q, want "c" (("abcab").split(":")[-1].replace("ab", ""))`, got)
	}
	if got := Seed("", "x"); got != "x" {
		t.Errorf(`Seed("", "x") = %q`, got)
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ completion, want string }{
		{" Paris.", "Paris."},
		{" It is Paris.\nuser: and Spain?\nassistant: Madrid", "It is Paris."},
		{"Hi\nsystem: you are", "Hi"},
		{"Note: colons stay", "Note: colons stay"},
		{"\nuser: only a new turn", ""},
		{"  a\n\n b \t\n", "a\n\n b"},
		{"User: capitalised is not a turn", "User: capitalised is not a turn"},
		{"x\x1c", "x"}, // Python's strip() removes U+001C
	} {
		if got := Clean(tc.completion); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.completion, got, tc.want)
		}
	}
}

// stream feeds chunks through a streamer and returns the concatenated output.
func stream(f Format, promptText string, chunks []string) (string, bool) {
	s := f.NewStreamer(promptText)
	var b strings.Builder
	stopped := false
	for _, c := range chunks {
		out, done := s.Write(c)
		b.WriteString(out)
		if done {
			stopped = true
			break
		}
	}
	b.WriteString(s.Close())
	return b.String(), stopped
}

// chunkings splits s in several ways: per rune, per 2 and 3 bytes on rune
// boundaries, whole.
func chunkings(s string) [][]string {
	var out [][]string
	for _, n := range []int{1, 2, 3, 1 << 30} {
		var parts []string
		cur := ""
		for _, r := range s {
			cur += string(r)
			if utf8.RuneCountInString(cur) >= n {
				parts = append(parts, cur)
				cur = ""
			}
		}
		if cur != "" {
			parts = append(parts, cur)
		}
		out = append(out, parts)
	}
	return out
}

func TestStreamersMatchUnary(t *testing.T) {
	p := "user: q\nassistant: "
	for _, c := range []string{
		"", " Paris.", "  lead and trail  \n", "a\nuser: b", "a \n\nsystem: x", "\nuser: x",
		"a\nus", "a\nuse", "line\n\nnext", "x \u3000 y\u3000", "a\nsystem", "\n\n\n",
	} {
		for _, chunks := range chunkings(c) {
			if got, _ := stream(FormatClean, p, chunks); got != Clean(c) {
				t.Errorf("clean stream of %q in %q = %q, want %q", c, chunks, got, Clean(c))
			}
			if !strings.Contains(c, ":") {
				if got, _ := stream(FormatSeed, p, chunks); got != Seed(p, c) {
					t.Errorf("seed stream of %q = %q, want %q", c, got, Seed(p, c))
				}
			}
		}
	}
	// The clean stream reports done at the turn marker so generation can stop.
	if _, stopped := stream(FormatClean, p, []string{"ok", "\nuser", ":", " more"}); !stopped {
		t.Error("clean stream did not stop at \\nuser:")
	}
	// A seed stream cannot take text back: with a colon it differs from the unary result.
	if got, _ := stream(FormatSeed, p, []string{"Note", ": x"}); got != " Note: x" {
		t.Errorf("seed stream with a colon = %q", got)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"seed", "clean"} {
		if f, err := ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("Seed"); err == nil {
		t.Error("ParseFormat accepted Seed")
	}
	if got := FormatClean.Complete("p: ", " a\nuser: b"); got != "a" {
		t.Errorf("FormatClean.Complete = %q", got)
	}
	if got := FormatSeed.Complete("p: ", "a"); got != " a" {
		t.Errorf("FormatSeed.Complete = %q", got)
	}
}

// FuzzCleanStream: however the completion is chunked, the clean stream equals Clean.
func FuzzCleanStream(f *testing.F) {
	f.Add("a\nuser: b", uint8(3))
	f.Add(" \n\nsystem", uint8(1))
	f.Add("x\u3000\n", uint8(2))
	f.Fuzz(func(t *testing.T, s string, step uint8) {
		if !utf8.ValidString(s) || len(s) > 512 {
			return
		}
		n := int(step%7) + 1
		var chunks []string
		for len(s) > 0 {
			k := 0
			for i := 0; i < n && k < len(s); i++ {
				_, size := utf8.DecodeRuneInString(s[k:])
				k += size
			}
			chunks = append(chunks, s[:k])
			s = s[k:]
		}
		whole := strings.Join(chunks, "")
		if got, _ := stream(FormatClean, "p: ", chunks); got != Clean(whole) {
			t.Fatalf("chunks %q: stream %q, Clean %q", chunks, got, Clean(whole))
		}
	})
}

func BenchmarkCleanStream(b *testing.B) {
	chunks := strings.Fields(strings.Repeat("The capital of France is Paris . \n\n ", 40))
	for b.Loop() {
		s := FormatClean.NewStreamer("")
		for _, c := range chunks {
			s.Write(" " + c)
		}
		s.Close()
	}
}

func BenchmarkBuild(b *testing.B) {
	roles := []string{"system", "user", "assistant", "user"}
	msgs := []string{sys, strings.Repeat("question ", 50), strings.Repeat("answer ", 50), "follow-up?"}
	for b.Loop() {
		Build(roles, msgs, true, sys)
	}
}
