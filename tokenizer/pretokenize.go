package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The GPT-2 pre-tokenizer, written by hand because Go's regexp has no lookahead:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Character classes are those of the Hugging Face fast tokenizer (Oniguruma) and of
// tiktoken (Rust regex): \p{L} is general category L, \p{N} is N (Nd, Nl, No), and \s
// is the Unicode White_Space property (U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680,
// U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). Only U+0020 serves as the
// optional " ?" prefix. Contractions are matched case-sensitively, as in GPT-2.

type charClass uint8

const (
	classOther charClass = iota // neither letter, number nor space: [^\s\p{L}\p{N}]
	classLetter
	classNumber
	classSpace
)

var asciiClass = func() (c [128]charClass) {
	for b := 0; b < 128; b++ {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z':
			c[b] = classLetter
		case '0' <= b && b <= '9':
			c[b] = classNumber
		case b == ' ', '\t' <= b && b <= '\r':
			c[b] = classSpace
		default:
			c[b] = classOther
		}
	}
	return c
}()

// classify returns the class and byte length of the first character of s (non-empty).
// A byte that does not start a valid UTF-8 sequence is one character of class other,
// as U+FFFD would be.
func classify(s string) (charClass, int) {
	if b := s[0]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && size == 1:
		return classOther, 1
	case unicode.IsLetter(r):
		return classLetter, size
	case unicode.IsNumber(r):
		return classNumber, size
	case unicode.Is(unicode.White_Space, r):
		return classSpace, size
	}
	return classOther, size
}

// nextPretoken returns the byte length of the pre-token at the start of text
// (non-empty), the leftmost-first match of the GPT-2 pattern there.
func nextPretoken(text string) int {
	// 's|'t|'re|'ve|'m|'ll|'d
	if text[0] == '\'' && len(text) >= 2 {
		switch text[1] {
		case 's', 't', 'm', 'd':
			return 2
		case 'r', 'v':
			if len(text) >= 3 && text[2] == 'e' {
				return 3
			}
		case 'l':
			if len(text) >= 3 && text[2] == 'l' {
				return 3
			}
		}
	}
	// " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" with the optional space present.
	if text[0] == ' ' && len(text) > 1 {
		if next, _ := classify(text[1:]); next != classSpace {
			return 1 + runLength(text[1:], next)
		}
	}
	class, size := classify(text)
	if class != classSpace {
		return runLength(text, class)
	}
	// \s+(?!\S) then \s+: a whitespace run that is followed by a non-space character
	// gives its last character back (it prefixes the next pre-token), unless the run
	// is that single character.
	end, last := size, size
	for end < len(text) {
		c, n := classify(text[end:])
		if c != classSpace {
			if end > last {
				return end - last
			}
			return end
		}
		end += n
		last = n
	}
	return end
}

// runLength returns the byte length of the run of class characters at the start of s.
func runLength(s string, class charClass) int {
	i := 0
	for i < len(s) {
		c, n := classify(s[i:])
		if c != class {
			break
		}
		i += n
	}
	return i
}
