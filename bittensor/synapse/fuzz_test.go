package synapse

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// unrepr decodes a CPython string repr produced by PyRepr (test oracle).
func unrepr(t *testing.T, r string) string {
	t.Helper()
	if len(r) < 2 || r[0] != r[len(r)-1] || (r[0] != '\'' && r[0] != '"') {
		t.Fatalf("repr %q: bad quotes", r)
	}
	q, body := r[0], r[1:len(r)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == q {
			t.Fatalf("repr %q: unescaped quote", r)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			t.Fatalf("repr %q: dangling backslash", r)
		}
		n := 0
		switch body[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"':
			b.WriteByte(body[i])
		case 'x':
			n = 2
		case 'u':
			n = 4
		case 'U':
			n = 8
		default:
			t.Fatalf("repr %q: unknown escape", r)
		}
		if n > 0 {
			v, err := strconv.ParseUint(body[i+1:i+1+n], 16, 32)
			if err != nil {
				t.Fatalf("repr %q: bad hex escape", r)
			}
			b.WriteRune(rune(v))
			i += n
		}
	}
	return b.String()
}

func FuzzPyRepr(f *testing.F) {
	for _, s := range []string{"", "it's", `"`, "a\nb", "\x00\x7f\u0085", "h\u00e9llo \U0001F642", "\u2028", "\U000E0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		for _, p := range Profiles {
			r := PyRepr(s, p)
			if !utf8.ValidString(r) {
				t.Fatalf("repr of %q is not UTF-8", s)
			}
			if got := unrepr(t, r); got != s {
				t.Fatalf("unrepr(repr(%q)) = %q", s, got)
			}
			for _, c := range r {
				if c != ' ' && c < 0x80 && !(c > 0x20 && c < 0x7f) {
					t.Fatalf("repr %q contains raw control %U", r, c)
				}
			}
		}
		lst := PyStrList([]string{s, s}, DefaultProfile)
		if !strings.HasPrefix(lst, "[") || !strings.HasSuffix(lst, "]") {
			t.Fatalf("list repr %q", lst)
		}
		if BodyHashOf([]string{lst}) == "" {
			t.Fatal("empty hash")
		}
	})
}

func FuzzPyStrJSON(f *testing.F) {
	for _, s := range []string{`["hi"]`, `[]`, `{"a": [1, 2.5, null, true]}`, `"x"`, `1e400`, `[[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := PyStrJSON(raw, DefaultProfile)
		if err != nil {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("PyStrJSON accepted invalid JSON %q -> %q", raw, s)
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil && list != nil && s != PyStrList(list, DefaultProfile) {
			t.Fatalf("generic %q != typed %q", s, PyStrList(list, DefaultProfile))
		}
	})
}

func FuzzParseHeaders(f *testing.F) {
	f.Add("bt_header_dendrite_nonce", "1700000000000000000", "timeout", "12.0", "bt_header_input_obj_messages", "W10=")
	f.Add("Bt_header_axon_port", "8091", "TIMEOUT", "inf", "bt_header_dendrite_version", "1_0")
	f.Add("header_size", "-1", "total_size", " 12 ", "bt_header_axon_status_code", "99999999999")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		h := http.Header{}
		h[k1] = append(h[k1], v1)
		h[k2] = append(h[k2], v2)
		h[k3] = append(h[k3], v3)
		hv, err := ParseHeaders(h)
		if err != nil {
			if _, ok := err.(*HeaderError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		// Whatever parsed must re-encode and parse back to the same terminal values.
		var hs []Header
		hs = TerminalHeaders(hs, PrefixDendrite, &hv.Dendrite)
		hs = TerminalHeaders(hs, PrefixAxon, &hv.Axon)
		h2 := http.Header{}
		for _, kv := range hs {
			SetHeader(h2, kv.Name, kv.Value)
		}
		hv2, err := ParseHeaders(h2)
		if err != nil {
			t.Fatalf("re-encoded headers do not parse: %v (%v)", err, hs)
		}
		a, _ := json.Marshal([]TerminalInfo{hv.Dendrite, hv.Axon})
		b, _ := json.Marshal([]TerminalInfo{hv2.Dendrite, hv2.Axon})
		if string(a) != string(b) {
			t.Fatalf("round trip changed %s -> %s", a, b)
		}
	})
}

func FuzzDecodePrompting(f *testing.F) {
	f.Add([]byte(`{"roles":["user"],"messages":["hi"],"completion":"","dendrite":{"nonce":1}}`))
	f.Add([]byte(`{"roles":null,"messages":[]}`))
	f.Add([]byte(`{"timeout": 1e999}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Prompting
		if err := Decode(body, &p); err != nil {
			return
		}
		if p.Roles == nil || p.Messages == nil || p.Name != "Prompting" {
			t.Fatalf("Decode accepted a body without required fields: %+v", p)
		}
		_ = BodyHash(&p, DefaultProfile)
		if _, err := json.Marshal(&p); err != nil && !strings.Contains(err.Error(), "cannot encode") {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
