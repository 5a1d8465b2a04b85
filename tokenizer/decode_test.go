package tokenizer

import (
	"strings"
	"testing"
)

// TestReplaceInvalidUTF8 holds hand-derived expectations of Python's
// bytes.decode("utf-8", errors="replace"): one U+FFFD per maximal subpart (the last
// row is the example of the Unicode Standard, §3.9 "U+FFFD Substitution of Maximal
// Subparts"). CPython 3 gives the same for every row.
func TestReplaceInvalidUTF8(t *testing.T) {
	const R = "\uFFFD"
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{"\x80", R},
		{"a\x80b", "a" + R + "b"},
		{"\xe2\x82", R},                             // truncated 3-byte: one, not two
		{"\xe2\x82a", R + "a"},                      // broken by ASCII
		{"\xe2(\xa1", R + "(" + R},                  // lead then non-continuation
		{"\xe2\x82\xe2\x82\xac", R + "€"},           // broken by a new lead
		{"\xe0\x80\x80", R + R + R},                 // E0 needs A0..BF next
		{"\xe0\xa0", R},                             // valid prefix of E0 A0 80
		{"\xed\xa0\x80", R + R + R},                 // surrogate D800
		{"\xed\x9f\xbf", "\ud7ff"},                  // last before the surrogates
		{"\xf0\x9f\x99", R},                         // emoji cut by max_new_tokens
		{"\xf0\x9f\x99\x82", "🙂"},                   //
		{"\xf0\x9fA", R + "A"},                      //
		{"\xf0\x80\x80\x80", R + R + R + R},         // F0 needs 90..BF next
		{"\xf4\x90\x80\x80", R + R + R + R},         // above U+10FFFF
		{"\xf4\x8f\xbf\xbf", "\U0010FFFF"},          //
		{"\xf5\x80", R + R},                         // F5 never starts a sequence
		{"\xc0\xaf", R + R},                         // overlong
		{"\xc1\xbf", R + R},                         //
		{"\xc2", R},                                 //
		{"\xc2\xc2", R + R},                         //
		{"\xc2\xa9", "©"},                           //
		{"\xf8\x88\x80\x80\x80", R + R + R + R + R}, // old 5-byte form
		{"\xff\xfe", R + R},                         //
		{"\xf1\x80\x80", R},                         // truncated 4-byte at the end
		{"\xf1\x80\x80\xe2\x82\xac", R + "€"},       //
		{"\xef\xbf\xbd", R},                         // a real U+FFFD stays one
		{"a\xf1\x80\x80\xe1\x80\xc2b\x80c\x80\xbfd", "a" + R + R + R + "b" + R + "c" + R + R + "d"},
	}
	for _, tc := range tests {
		if got := ReplaceInvalidUTF8([]byte(tc.in)); got != tc.want {
			t.Errorf("ReplaceInvalidUTF8(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCleanUpTokenization: transformers 4.30 clean_up_tokenization, replacements
// applied one after another (so " ' " is replaced before " 's").
func TestCleanUpTokenization(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no spaces.", "no spaces."},
		{"Hello , world .", "Hello, world."},
		{"Really ? Yes !", "Really? Yes!"},
		{"I do n't know", "I don't know"},
		{"I 'm here , it 's ok , we 've gone , they 're", "I'm here, it's ok, we've gone, they're"},
		{"say ' hi ' there", "say'hi'there"},
		{"it ' s", "it's"},
		{"a ' 's", "a''s"},
		{"a  ' s", "a's"},
		{"x ' ' y", "x'' y"},
		{"a  .", "a ."},
		{"I do n't , ok ?", "I don't, ok?"},
		{"don't touch 'quoted' words", "don't touch 'quoted' words"},
		{" .", "."},
	}
	for _, tc := range tests {
		if got := CleanUpTokenization(tc.in); got != tc.want {
			t.Errorf("CleanUpTokenization(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIncompleteTail(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {"a", 0}, {"\xc2", 1}, {"a\xe2\x82", 2}, {"\xf0\x9f\x99", 3},
		{"\xf0\x9f\x99\x82", 0}, {"\xe0\x80", 0}, {"\x80", 0}, {"\xff", 0},
		{"\xed\xa0", 0}, {"\xf4\x90", 0}, {"\xe2\x82\xac", 0}, {"\xc2\xa9\xe2", 1},
	}
	for _, tc := range tests {
		if got := incompleteTail([]byte(tc.in)); got != tc.want {
			t.Errorf("incompleteTail(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// streamDecode feeds ids one at a time and returns the emitted pieces.
func streamDecode(tok *Tokenizer, ids []int) (pieces []string, all string) {
	d := tok.NewStreamDecoder()
	for _, id := range ids {
		pieces = append(pieces, d.Add(id))
	}
	pieces = append(pieces, d.Flush())
	return pieces, strings.Join(pieces, "")
}

func TestStreamDecoder(t *testing.T) {
	tok := loadTiny(t)
	texts := []string{
		"Hello world! It's a test: naïve café, 東京, emoji 🙂 and numbers 12345.",
		"I do n't know , they 're here ' s it .",
		"👨\u200d👩\u200d👧 and 🇫🇷 flags",
		"trailing spaces   ",
	}
	for _, text := range texts {
		ids := tok.Encode(text)
		ids = append(ids[:len(ids)/2:len(ids)/2], append([]int{tok.EOS()}, ids[len(ids)/2:]...)...)
		pieces, got := streamDecode(tok, ids)
		if want := tok.Decode(ids); got != want {
			t.Errorf("stream %q = %q, want Decode %q", pieces, got, want)
		}
		for _, p := range pieces {
			if strings.ContainsRune(p, '\uFFFD') {
				t.Errorf("stream of valid text emitted U+FFFD in %q", pieces)
			}
		}
	}
	// A character split over tokens is emitted once it is complete.
	emoji := tok.byteIDs("🙂")
	d := tok.NewStreamDecoder()
	for i, id := range emoji[:3] {
		if got := d.Add(id); got != "" {
			t.Errorf("byte %d of an emoji emitted %q", i, got)
		}
	}
	if got := d.Add(emoji[3]); got != "🙂" {
		t.Errorf("completing the emoji emitted %q", got)
	}
	// An incomplete character at the end becomes one U+FFFD at Flush.
	d.Add(emoji[0])
	d.Add(emoji[1])
	if got := d.Flush(); got != "\uFFFD" {
		t.Errorf("Flush of a cut emoji = %q", got)
	}
	// Text that clean-up could still change is held back: " ," becomes ",".
	if got := d.Add(tok.Encode(" ")[0]); got != "" {
		t.Errorf("a trailing space was emitted early: %q", got)
	}
	if got := d.Add(tok.Encode(",")[0]) + d.Flush(); got != "," {
		t.Errorf("space then comma = %q, want \",\"", got)
	}
}
