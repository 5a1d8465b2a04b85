package synapse

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPyRepr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `''`},
		{"hi", `'hi'`},
		{"it's", `"it's"`},
		{`say "hi"`, `'say "hi"'`},
		{`it's "x"`, `'it\'s "x"'`},
		{"a\\b", `'a\\b'`},
		{"\t\n\r", `'\t\n\r'`},
		{"\x00\x1f\x7f", `'\x00\x1f\x7f'`},
		{"\u0085\u00a0\u00ad\u00e9", `'\x85\xa0\xad` + "\u00e9'"},
		{"\u2028\u200b\ufeff\u3000", `'\u2028\u200b\ufeff\u3000'`},
		{"\U000E0001\U0010FFFF\uE000\u0378", `'\U000e0001\U0010ffff\ue000\u0378'`},
		{"\U0001F642 é", "'\U0001F642 é'"},
		{"\u0CF3", `'\u0cf3'`}, // assigned in Unicode 15.0: not printable under 14.0
	}
	for _, tc := range tests {
		if got := PyRepr(tc.in, CPython311); got != tc.want {
			t.Errorf("PyRepr(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := PyRepr("\u0CF3", CPython312); got != "'\u0CF3'" {
		t.Errorf("3.12 profile: %s", got)
	}
	if got := PyRepr("\U0002EBF0", CPython312); got != `'\U0002ebf0'` {
		t.Errorf("3.12 profile, CJK ext I: %s", got)
	}
	if got := PyRepr("\U0002EBF0", CPython313); got != "'\U0002EBF0'" {
		t.Errorf("3.13 profile, CJK ext I: %s", got)
	}
}

func TestPyFloatRepr(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{12, "12.0"}, {0.1, "0.1"}, {1e-5, "1e-05"}, {1e-4, "0.0001"}, {1e16, "1e+16"},
		{1e15, "1000000000000000.0"}, {123456789012345678, "1.2345678901234568e+17"},
		{math.Copysign(0, -1), "-0.0"}, {0, "0.0"}, {1.5e300, "1.5e+300"}, {5e-324, "5e-324"}, {-2.5, "-2.5"},
		{math.Inf(1), "inf"}, {math.NaN(), "nan"}, {0.000123, "0.000123"}, {9999999999999998, "9999999999999998.0"},
	}
	for _, tc := range tests {
		if got := PyFloatRepr(tc.in); got != tc.want {
			t.Errorf("PyFloatRepr(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPyStrJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"raw 'top' string"`, `raw 'top' string`},
		{`[1, -0, 1.0, 1e5, 2E-7, true, false, null]`, `[1, 0, 1.0, 100000.0, 2e-07, True, False, None]`},
		{`{"b": 1, "a": [{}], "b": 2}`, `{'b': 2, 'a': [{}]}`},
		{`[[], {}, ""]`, `[[], {}, '']`},
		{`123456789012345678901234567890`, `123456789012345678901234567890`},
	}
	for _, tc := range tests {
		got, err := PyStrJSON([]byte(tc.in), CPython311)
		if err != nil || got != tc.want {
			t.Errorf("PyStrJSON(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `[`, `[1,]`, `{"a"}`, `[1] 2`, strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if _, err := PyStrJSON([]byte(bad), CPython311); err == nil {
			t.Errorf("PyStrJSON(%.20s) accepted invalid or too deep input", bad)
		}
	}
}

// TestAgainstCPython compares the printability table and str() of random strings with
// local CPython interpreters, when installed: BTLM_PYTHONS (space-separated), else
// python3. The profile is chosen from each interpreter's unicodedata version.
func TestAgainstCPython(t *testing.T) {
	pys := strings.Fields(os.Getenv("BTLM_PYTHONS"))
	if len(pys) == 0 {
		pys = []string{"python3"}
	}
	for _, py := range pys {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(py)))+"/"+filepath.Base(py), func(t *testing.T) { compareWithCPython(t, py) })
	}
}

func compareWithCPython(t *testing.T, py string) {
	if _, err := exec.LookPath(py); err != nil {
		t.Skipf("no %s: %v", py, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs [][]string
	for i := 0; i < 300; i++ {
		var msgs []string
		for j := rng.IntN(3); j >= 0; j-- {
			var b strings.Builder
			for k := rng.IntN(12); k >= 0; k-- {
				var r rune
				switch rng.IntN(4) {
				case 0:
					r = rune(rng.IntN(0x80))
				case 1:
					r = rune(rng.IntN(0x3000))
				default:
					r = rune(rng.IntN(0x110000))
				}
				if !utf8.ValidRune(r) {
					r = '\''
				}
				b.WriteRune(r)
			}
			msgs = append(msgs, b.String())
		}
		inputs = append(inputs, msgs)
	}
	in, _ := json.Marshal(inputs)
	script := `
import sys, json, unicodedata
data = json.loads(sys.stdin.read())
print(unicodedata.unidata_version)
print("".join("1" if chr(c).isprintable() else "0" for c in range(0x110000)))
for msgs in data: print(json.dumps(str(msgs)))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("%s failed: %v", py, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	var prof Profile
	switch lines[0] {
	case "12.1.0":
		prof = CPython38
	case "13.0.0":
		prof = CPython310
	case "14.0.0":
		prof = CPython311
	case "15.0.0":
		prof = CPython312
	case "15.1.0":
		prof = CPython313
	default:
		t.Skipf("CPython unicodedata %s has no profile", lines[0])
	}
	bits := lines[1]
	mismatches := 0
	for c := rune(0); c < 0x110000; c++ {
		if c >= 0xD800 && c < 0xE000 {
			continue // surrogates: not representable in Go strings
		}
		if (bits[c] == '1') != IsPrintable(c, prof) {
			if mismatches++; mismatches < 10 {
				t.Errorf("U+%04X: CPython isprintable=%c, Go %v", c, bits[c], IsPrintable(c, prof))
			}
		}
	}
	for i, msgs := range inputs {
		var want string
		if err := json.Unmarshal([]byte(lines[2+i]), &want); err != nil {
			t.Fatal(err)
		}
		if got := PyStrList(msgs, prof); got != want {
			t.Errorf("str(%q): Go %q, CPython %q", msgs, got, want)
		}
	}
}

// TestMatchBodyHashProfiles: a hash made by an older or newer CPython over a message
// with a version-sensitive character is accepted through the profile fallback; any
// other mismatch is not.
func TestMatchBodyHashProfiles(t *testing.T) {
	msg := "new in 14.0: \u061D, in 15.0: \u0CF3, in 15.1: \U0002EBF0, in 13.0: \u08BE"
	p := NewPrompting([]string{"user"}, []string{msg})
	seen := map[string]bool{}
	for _, prof := range Profiles {
		h := BodyHash(p, prof)
		seen[h] = true
		if got, ok := MatchBodyHash(p, h); !ok || BodyHash(p, got) != h {
			t.Errorf("%v hash not matched (got %v, %v)", prof, got, ok)
		}
	}
	if len(seen) != len(Profiles) {
		t.Errorf("profiles should all differ on this message, got %d distinct hashes", len(seen))
	}
	plain := NewPrompting([]string{"user"}, []string{"plain"})
	if _, ok := MatchBodyHash(plain, BodyHash(p, DefaultProfile)); ok {
		t.Error("unrelated hash matched")
	}
	if got := PyRepr("\u061D", CPython310); got != `'\u061d'` {
		t.Errorf("3.10 repr of U+061D = %s", got)
	}
	if got := PyRepr("\u061D", CPython311); got != "'\u061D'" {
		t.Errorf("3.11 repr of U+061D = %s", got)
	}
}
