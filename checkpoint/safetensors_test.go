package checkpoint

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestSafetensorsDTypes(t *testing.T) {
	f64 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(-2.5))
	f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(1e-3))
	file := buildSafetensors(t, []stTensor{
		{"f32", "F32", []int{2, 2}, f32Bytes(1, -2.5, float32(math.Inf(1)), 3e-38)},
		// bf16: 1.0, -0.83984375 (a rounded ALiBi slope), smallest subnormal, -inf.
		{"bf16", "BF16", []int{4}, u16Bytes(0x3f80, 0xbf57, 0x0001, 0xff80)},
		// f16: 1.0, -2.0, 65504 (max), smallest subnormal 2^-24, -0.
		{"f16", "F16", []int{5}, u16Bytes(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000)},
		{"f64", "F64", []int{2}, f64},
		{"scalar", "F32", []int{}, f32Bytes(7)},
		{"empty", "F32", []int{0, 3}, nil},
		{"mask", "U8", []int{2}, []byte{1, 0}},
	}, nil)
	c := &Checkpoint{format: "safetensors", tensors: map[string]*tensorEntry{}}
	if err := c.addSafetensors(memFile(file)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"f32":    {1, -2.5, float32(math.Inf(1)), 3e-38},
		"bf16":   {1, -0.83984375, math.Float32frombits(0x00010000), float32(math.Inf(-1))},
		"f16":    {1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Copysign(0, -1))},
		"f64":    {-2.5, float32(1e-3)},
		"scalar": {7},
		"empty":  {},
	}
	for name, w := range want {
		if got := readAll(t, c, name); !equalFloats(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if info, _ := c.Lookup("mask"); info.DType != U8 {
		t.Errorf("mask dtype %s", info.DType)
	}
	if err := c.ReadFloat32("mask", make([]float32, 2)); err == nil {
		t.Error("reading a U8 tensor as float32: no error")
	}
	if err := c.ReadFloat32("f32", make([]float32, 3)); err == nil {
		t.Error("wrong destination length: no error")
	}
	if err := c.ReadFloat32("nope", nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing tensor: %v", err)
	}
}

// TestF16Exhaustive compares every half-precision bit pattern with a float64 decoding.
func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		exp, mant := (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && mant == 0:
			want = math.Inf(int(sign))
		case exp == 0x1f:
			if got := F16ToFloat32(uint16(h)); !math.IsNaN(float64(got)) {
				t.Fatalf("f16 %#04x = %g, want NaN", h, got)
			}
			continue
		case exp == 0:
			want = sign * math.Ldexp(float64(mant), -24)
		default:
			want = sign * math.Ldexp(1+float64(mant)/1024, exp-15)
		}
		if got := F16ToFloat32(uint16(h)); math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("f16 %#04x = %g, want %g", h, got, want)
		}
	}
	for _, b := range []uint16{0x3f80, 0x4049, 0x0001, 0x7f7f, 0x8000} {
		if got := math.Float32bits(BF16ToFloat32(b)); got != uint32(b)<<16 {
			t.Errorf("bf16 %#04x widened to %#08x", b, got)
		}
	}
}

func TestSafetensorsCorrupt(t *testing.T) {
	good := []stTensor{{"a", "F32", []int{2, 3}, f32Bytes(1, 2, 3, 4, 5, 6)}, {"b", "BF16", []int{2}, u16Bytes(1, 2)}}
	valid := buildSafetensors(t, good, nil)
	withLen := func(n uint64) []byte {
		b := append([]byte(nil), valid...)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	edit := func(f func(map[string]any)) []byte { return buildSafetensors(t, good, f) }
	entry := func(dtype string, shape []int, off []int) map[string]any {
		return map[string]any{"dtype": dtype, "shape": shape, "data_offsets": off}
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "shorter than the 8-byte header length"},
		{"short file", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"header length past end", withLen(uint64(len(valid))), "exceeds the file"},
		{"header length huge", withLen(1 << 62), "exceeds the limit"},
		{"header length short", withLen(10), "header JSON"},
		{"truncated data", valid[:len(valid)-3], "outside data section"},
		{"not json", append(binary.LittleEndian.AppendUint64(nil, 4), "abcd"...), "not a JSON object"},
		{"bad dtype", edit(func(h map[string]any) { h["a"] = entry("Q4", []int{2, 3}, []int{0, 24}) }), `unsupported dtype "Q4"`},
		{"wrong shape", edit(func(h map[string]any) { h["a"] = entry("F32", []int{2, 4}, []int{0, 24}) }), `tensor "a": 24 bytes of data for F32[2 4] (want 32)`},
		{"negative dim", edit(func(h map[string]any) { h["a"] = entry("F32", []int{-2, -3}, []int{0, 24}) }), "bad dimension"},
		{"offsets reversed", edit(func(h map[string]any) { h["a"] = entry("F32", []int{2, 3}, []int{24, 0}) }), "outside data section"},
		{"offsets count", edit(func(h map[string]any) { h["a"] = entry("F32", []int{2, 3}, []int{0}) }), "2 entries"},
		{"overlap", edit(func(h map[string]any) { h["b"] = entry("BF16", []int{2}, []int{20, 24}) }), "overlap"},
		{"too many dims", edit(func(h map[string]any) { h["b"] = entry("BF16", []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, []int{24, 26}) }), "dimensions"},
		{"overflowing shape", edit(func(h map[string]any) {
			h["b"] = entry("BF16", []int{1 << 30, 1 << 30, 1 << 30}, []int{24, 28})
		}), "too large"},
		{"bad metadata", edit(func(h map[string]any) { h["__metadata__"] = map[string]any{"x": 1} }), "__metadata__"},
		{"entry not object", edit(func(h map[string]any) { h["a"] = 5 }), `tensor "a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ck := &Checkpoint{tensors: map[string]*tensorEntry{}}
			err := ck.addSafetensors(memFile(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func FuzzSafetensors(f *testing.F) {
	f.Add(buildSafetensors(f, []stTensor{{"a", "F32", []int{2}, f32Bytes(1, 2)}, {"b", "BF16", []int{1, 2}, u16Bytes(3, 4)}}, nil))
	f.Add(buildSafetensors(f, []stTensor{{"x", "F16", []int{}, u16Bytes(0x3c00)}}, nil))
	f.Fuzz(func(t *testing.T, file []byte) {
		c := &Checkpoint{tensors: map[string]*tensorEntry{}}
		if err := c.addSafetensors(memFile(file)); err != nil {
			return
		}
		for _, info := range c.Tensors() {
			if info.NumElements() > 1<<20 || !info.DType.IsFloat() {
				continue
			}
			if err := c.ReadFloat32(info.Name, make([]float32, info.NumElements())); err != nil {
				t.Fatalf("accepted tensor %s cannot be read: %v", info.Name, err)
			}
		}
	})
}
