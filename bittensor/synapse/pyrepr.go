package synapse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Profile selects the Unicode database whose printability rules PyRepr follows.
// CPython's str.isprintable (and so repr) treats a character as printable unless its
// general category is Cc, Cf, Cs, Co, Cn, Zl, Zp or Zs (the ASCII space excepted).
// That is exactly Go's unicode.IsPrint rule, so each profile is Go's table (Unicode
// 15.0.0 in Go 1.26) adjusted by the characters whose assignment differs.
type Profile uint8

const (
	// CPython311 is Unicode 14.0.0 (CPython 3.11, the interpreter that produced the
	// shared test vectors): Go's table minus the characters new in Unicode 15.0.
	CPython311 Profile = iota
	// CPython312 is Unicode 15.0.0 (CPython 3.12): Go's own table.
	CPython312
	// CPython313 is Unicode 15.1.0 (CPython 3.13): Go's table plus the characters
	// added in 15.1 (CJK Extension I, four ideographic description characters, U+31EF).
	CPython313
)

// DefaultProfile is the profile tried first when hashing.
const DefaultProfile = CPython311

// Profiles lists every supported profile, the default first.
var Profiles = []Profile{CPython311, CPython312, CPython313}

func (p Profile) String() string {
	switch p {
	case CPython311:
		return "cpython3.11/unicode14.0"
	case CPython312:
		return "cpython3.12/unicode15.0"
	case CPython313:
		return "cpython3.13/unicode15.1"
	}
	return "profile(" + strconv.Itoa(int(p)) + ")"
}

// IsPrintable reports whether CPython (of the given profile) considers r printable.
func IsPrintable(r rune, p Profile) bool {
	if r < 0x80 {
		return r >= 0x20 && r < 0x7f
	}
	switch p {
	case CPython311:
		if inRanges(r, unicode15Additions) {
			return false
		}
	case CPython313:
		if inRanges(r, unicode151Additions) {
			return true
		}
	}
	return unicode.IsPrint(r)
}

func inRanges(r rune, table [][2]rune) bool {
	lo, hi := 0, len(table)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < table[m][0]:
			hi = m
		case r > table[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// needsProfile reports whether s contains a character whose printability differs
// between the profiles, i.e. whether hashing s under another profile can give a
// different result.
func needsProfile(s string) bool {
	for _, r := range s {
		if r >= 0xCF3 && (inRanges(r, unicode15Additions) || inRanges(r, unicode151Additions)) {
			return true
		}
	}
	return false
}

// AppendPyRepr appends CPython's repr() of the string s (unicode_repr): quote choice,
// backslash escapes and \x/\u/\U escapes for non-printable characters, lowercase hex.
// Invalid UTF-8 bytes are treated as U+FFFD, which Go strings decoded from JSON never
// contain.
func AppendPyRepr(dst []byte, s string, p Profile) []byte {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	dst = append(dst, quote)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == quote || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'x', hexDigit[c>>4], hexDigit[c&15])
			default:
				dst = append(dst, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if IsPrintable(r, p) {
			dst = append(dst, s[i:i+size]...)
		} else {
			dst = appendEscape(dst, r)
		}
		i += size
	}
	return append(dst, quote)
}

const hexDigit = "0123456789abcdef"

func appendEscape(dst []byte, r rune) []byte {
	var n int
	switch {
	case r <= 0xff:
		dst, n = append(dst, '\\', 'x'), 2
	case r <= 0xffff:
		dst, n = append(dst, '\\', 'u'), 4
	default:
		dst, n = append(dst, '\\', 'U'), 8
	}
	for shift := 4 * (n - 1); shift >= 0; shift -= 4 {
		dst = append(dst, hexDigit[(r>>shift)&15])
	}
	return dst
}

// PyRepr returns CPython's repr() of s.
func PyRepr(s string, p Profile) string { return string(AppendPyRepr(nil, s, p)) }

// PyStrList returns CPython's str() of a list of strings: "[" + ", ".join(map(repr, xs)) + "]".
func PyStrList(xs []string, p Profile) string { return string(AppendPyStrList(nil, xs, p)) }

// AppendPyStrList appends PyStrList(xs, p) to dst.
func AppendPyStrList(dst []byte, xs []string, p Profile) []byte {
	dst = append(dst, '[')
	for i, x := range xs {
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		dst = AppendPyRepr(dst, x, p)
	}
	return append(dst, ']')
}

// PyFloatRepr formats f as CPython's repr(float) does (shortest round-trip digits,
// fixed notation when the decimal exponent is in [-4, 16), else d.ddde±XX).
func PyFloatRepr(f float64) string { return string(appendPyFloat(nil, f)) }

func appendPyFloat(dst []byte, f float64) []byte {
	switch {
	case f != f:
		return append(dst, "nan"...)
	case f > 1.7976931348623157e308:
		return append(dst, "inf"...)
	case f < -1.7976931348623157e308:
		return append(dst, "-inf"...)
	}
	e := strconv.AppendFloat(nil, f, 'e', -1, 64) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	ei := bytes.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(string(e[ei+1:]))
	digits := make([]byte, 0, ei)
	for _, c := range e[:ei] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	decpt := exp + 1 // value = 0.DIGITS × 10^decpt
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			dst = append(dst, '0', '.')
			for i := 0; i < -decpt; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, digits...)
		case decpt >= len(digits):
			dst = append(dst, digits...)
			for i := len(digits); i < decpt; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, '.', '0')
		default:
			dst = append(dst, digits[:decpt]...)
			dst = append(dst, '.')
			dst = append(dst, digits[decpt:]...)
		}
		return dst
	}
	dst = append(dst, digits[0])
	if len(digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else {
		dst = append(dst, '+')
	}
	if exp < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}

// Limits for PyStrJSON, so that hostile input cannot exhaust the stack.
const maxJSONDepth = 64

// ErrJSONTooDeep is returned by PyStrJSON for values nested deeper than 64 levels.
var ErrJSONTooDeep = errors.New("pyrepr: JSON nested too deeply")

// PyStrJSON returns CPython's str() of the value that json.loads(raw) produces: a
// top-level string is returned raw, containers use repr() of their items, dicts keep
// key order (a repeated key keeps its first position and its last value, as
// json.loads does), integers print in decimal, floats as repr(float), true/false/null
// as True/False/None. It is the generic form of the computed_body_hash input.
func PyStrJSON(raw []byte, p Profile) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := parseOrdered(dec, 0)
	if err != nil {
		return "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("pyrepr: trailing data after JSON value")
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return string(appendPyValue(nil, v, p)), nil
}

type orderedDict struct {
	keys []string
	vals map[string]any
}

func parseOrdered(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, ErrJSONTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("pyrepr: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			list := []any{}
			for dec.More() {
				v, err := parseOrdered(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("pyrepr: %w", err)
			}
			return list, nil
		case '{':
			d := &orderedDict{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("pyrepr: %w", err)
				}
				k, _ := kt.(string)
				v, err := parseOrdered(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, seen := d.vals[k]; !seen {
					d.keys = append(d.keys, k)
				}
				d.vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("pyrepr: %w", err)
			}
			return d, nil
		}
		return nil, fmt.Errorf("pyrepr: unexpected %v", t)
	default:
		return tok, nil
	}
}

func appendPyValue(dst []byte, v any, p Profile) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "None"...)
	case bool:
		if t {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case string:
		return AppendPyRepr(dst, t, p)
	case json.Number:
		return appendPyNumber(dst, string(t))
	case []any:
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',', ' ')
			}
			dst = appendPyValue(dst, x, p)
		}
		return append(dst, ']')
	case *orderedDict:
		dst = append(dst, '{')
		for i, k := range t.keys {
			if i > 0 {
				dst = append(dst, ',', ' ')
			}
			dst = AppendPyRepr(dst, k, p)
			dst = append(dst, ':', ' ')
			dst = appendPyValue(dst, t.vals[k], p)
		}
		return append(dst, '}')
	}
	return dst
}

// appendPyNumber prints a JSON number literal the way Python prints what json.loads
// makes of it: an int (no '.', 'e' or 'E') in canonical decimal, otherwise a float.
func appendPyNumber(dst []byte, lit string) []byte {
	if strings.ContainsAny(lit, ".eE") {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil { // out of range: Python gives inf
			if strings.HasPrefix(lit, "-") {
				return append(dst, "-inf"...)
			}
			return append(dst, "inf"...)
		}
		return appendPyFloat(dst, f)
	}
	if lit == "-0" {
		return append(dst, '0')
	}
	return append(dst, lit...)
}
