package metadata

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var bob = func() scale.AccountID {
	var a scale.AccountID
	b, _ := hex.DecodeString("8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48")
	copy(a[:], b)
	return a
}()

func decodeTest(t *testing.T, version uint8) *Metadata {
	t.Helper()
	m, err := Decode(encodeMetadata(testMetadata(version)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, v := range []uint8{14, 15} {
		want := testMetadata(v)
		got, err := Decode(encodeMetadata(want))
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		// Decoding then encoding again reproduces the input byte for byte.
		if !bytes.Equal(encodeMetadata(got), encodeMetadata(want)) {
			t.Errorf("v%d: re-encoded metadata differs", v)
		}
		if len(got.Types) != len(want.Types) || got.Types[tAxonInfo].Fields[2].Name != "ip" ||
			got.Pallets[1].Storage[0].Hashers[1] != Blake2_128Concat || *got.Pallets[1].Calls != tCall ||
			got.Extrinsic.SignedExtensions[1].Identifier != "CheckNonce" {
			t.Errorf("v%d: decoded fields wrong: %+v", v, got.Pallets[1])
		}
		if v == 15 && (len(got.APIs) != 1 || got.APIs[0].Methods[0].Inputs[0].Name != "netuid" || got.Pallets[1].Docs[0] != "subtensor") {
			t.Errorf("v15 apis %+v", got.APIs)
		}
		if got.OuterCall != want.OuterCall {
			t.Errorf("v%d outer call %d", v, got.OuterCall)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encodeMetadata(testMetadata(14))
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("mexa"), good[4:]...)},
		{"version 13", append([]byte("meta\x0d"), good[5:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte(nil), good...), 0)},
	}
	for _, tc := range tests {
		if _, err := Decode(tc.in); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// A dangling type reference is caught at decode time.
	m := testMetadata(14)
	m.Types[tAccount].Fields[0].Type = 999
	if _, err := Decode(encodeMetadata(m)); err == nil || !strings.Contains(err.Error(), "missing type 999") {
		t.Errorf("dangling reference: %v", err)
	}
	if _, err := Decode(append([]byte("meta\x0d"), good[5:]...)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("v13: %v", err)
	}
}

func TestUnwrap(t *testing.T) {
	raw := encodeMetadata(testMetadata(15))
	some := scale.AppendBytes([]byte{1}, raw)
	vec := scale.AppendBytes(nil, raw)
	for name, in := range map[string][]byte{"bare": raw, "Option<Vec<u8>>": some, "Vec<u8>": vec} {
		got, err := Unwrap(in)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Unwrap([]byte{0}); err == nil || !strings.Contains(err.Error(), "None") {
		t.Errorf("None: %v", err)
	}
	if _, err := Unwrap([]byte{1, 2, 3}); err == nil {
		t.Error("garbage accepted")
	}
}

// Storage prefixes and the Uids(3, Bob) key from shared/reference/subtensor-chain.md §3.
func TestHashersAndStorageKeys(t *testing.T) {
	prefixes := map[string]string{
		"SubtensorModule": "658faa385070e074c85bf6b568cf0555",
		"Uids":            "aab1b4e78e1ea8305462ee53b3686dc8",
		"Axons":           "b4e0c7b1d5f74994fcd58c28ab601fec",
		"Keys":            "9f99a2ce711f3a31b2fc05604c93f179",
		"SubnetworkN":     "a1048e9d244171852dfe8db314dc68ca",
		"System":          "26aa394eea5630e07c48ae0c9558cef7",
		"Account":         "b99d880ec681799c0cf30e8886371da9",
	}
	for in, want := range prefixes {
		if got := hex.EncodeToString(TwoX128([]byte(in))); got != want {
			t.Errorf("twox128(%s) = %s, want %s", in, got, want)
		}
	}
	if got := hex.EncodeToString(Blake2b128(bob[:])); got != "4f9aea1afa791265fae359272badc1cf" {
		t.Errorf("blake2_128(Bob) = %s", got)
	}
	m := decodeTest(t, 14)
	key, err := m.StorageKey("SubtensorModule", "Uids", uint16(3), bob)
	want := "658faa385070e074c85bf6b568cf0555" + "aab1b4e78e1ea8305462ee53b3686dc8" + "0300" +
		"4f9aea1afa791265fae359272badc1cf" + "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48"
	if err != nil || hex.EncodeToString(key) != want {
		t.Fatalf("Uids(3, Bob) = %x, %v\nwant %s", key, err, want)
	}
	keys, err := m.DecodeStorageKey("SubtensorModule", "Uids", key)
	if err != nil || len(keys) != 2 || keys[0] != uint64(3) || !bytes.Equal(keys[1].([]byte), bob[:]) {
		t.Errorf("DecodeStorageKey = %v, %v", keys, err)
	}
	prefix, err := m.StorageKey("SubtensorModule", "Uids", 3)
	if err != nil || !bytes.HasPrefix(key, prefix) || len(prefix) != 34 {
		t.Errorf("partial key %x, %v", prefix, err)
	}
	if k, _ := m.StorageKey("System", "Number"); hex.EncodeToString(k) != "26aa394eea5630e07c48ae0c9558cef7"+hex.EncodeToString(TwoX128([]byte("Number"))) {
		t.Errorf("System.Number key %x", k)
	}
	hashed, err := m.StorageKey("SubtensorModule", "Hashed", 1, bob)
	if err != nil || len(hashed) != 32+8+2+16 {
		t.Fatalf("Hashed key %x %v", hashed, err)
	}
	if keys, err := m.DecodeStorageKey("SubtensorModule", "Hashed", hashed); err != nil || keys[0] != uint64(1) || keys[1] != nil {
		t.Errorf("Hashed keys %v %v", keys, err)
	}
	for name, args := range map[string][]any{
		"too many keys":  {1, bob, 3},
		"wrong key type": {"x"},
		"u16 overflow":   {70000},
	} {
		if _, err := m.StorageKey("SubtensorModule", "Uids", args...); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := m.StorageKey("SubtensorModule", "Nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing item: %v", err)
	}
	if _, err := m.DecodeStorageKey("SubtensorModule", "Uids", key[:40]); err == nil {
		t.Error("truncated key decoded")
	}
}

// Hasher outputs for fixed inputs: blake2b from RFC 7693 implementations (Python
// hashlib), xxh64("") = 0xef46db3751d8e999 from the xxHash reference.
func TestHasherVectors(t *testing.T) {
	tests := []struct {
		h    Hasher
		in   string
		want string
	}{
		{Blake2_256, "", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"},
		{Blake2_128, "abc", "cf4ab791c62b8d2b2109c90275287816"},
		{Blake2_128Concat, "abc", "cf4ab791c62b8d2b2109c90275287816" + "616263"},
		{Twox64Concat, "", "99e9d85137db46ef"},
		{Twox128, "SubtensorModule", "658faa385070e074c85bf6b568cf0555"},
		{Identity, "ab", "6162"},
	}
	for _, tc := range tests {
		got, err := tc.h.Hash(nil, []byte(tc.in))
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("%v(%q) = %x, %v; want %s", tc.h, tc.in, got, err, tc.want)
		}
	}
	if got, _ := Twox256.Hash(nil, []byte("x")); len(got) != 32 || !bytes.Equal(got[:16], TwoX128([]byte("x"))) {
		t.Errorf("twox256 must extend twox128: %x", got)
	}
	if _, err := Hasher(9).Hash(nil, nil); err == nil {
		t.Error("unknown hasher accepted")
	}
}

func TestCallsAndErrors(t *testing.T) {
	m := decodeTest(t, 14)
	idx, err := m.CallIndex("SubtensorModule", "burned_register")
	if err != nil || idx != [2]byte{7, 7} {
		t.Errorf("burned_register index %v %v", idx, err)
	}
	// Worked example from shared/reference/subtensor-chain.md §2 (accepted on spec 218).
	call, err := m.EncodeCall("SubtensorModule", "serve_axon", map[string]any{
		"netuid": 1, "version": 6001000, "ip": scale.U128From64(0x09090909), "port": uint16(8093),
		"ip_type": 4, "protocol": 4, "placeholder1": 0, "placeholder2": 0})
	want := "0704 0100 68915b00 09090909000000000000000000000000 9d1f 04 04 00 00"
	if err != nil || !bytes.Equal(call, mustHex(t, want)) {
		t.Errorf("serve_axon = %x, %v", call, err)
	}
	call, err = m.EncodeCall("SubtensorModule", "set_weights", map[string]any{
		"netuid": 1, "dests": []uint16{1}, "weights": []any{65535}, "version_key": uint64(1)})
	if err != nil || hex.EncodeToString(call) != "0700"+"0100"+"040100"+"04ffff"+"0100000000000000" {
		t.Errorf("set_weights = %x, %v", call, err)
	}
	call, err = m.EncodeCall("SubtensorModule", "burned_register", map[string]any{"netuid": 1, "hotkey": bob})
	if err != nil || hex.EncodeToString(call) != "0707"+"0100"+hex.EncodeToString(bob[:]) {
		t.Errorf("burned_register = %x, %v", call, err)
	}
	bad := []map[string]any{
		{"netuid": 1},                         // missing hotkey
		{"netuid": 1, "hotkey": bob, "x": 1},  // unknown arg
		{"netuid": -1, "hotkey": bob},         // out of range
		{"netuid": 1, "hotkey": []byte{1, 2}}, // wrong length
	}
	for i, args := range bad {
		if _, err := m.EncodeCall("SubtensorModule", "burned_register", args); err == nil {
			t.Errorf("bad args %d accepted", i)
		}
	}
	if _, err := m.CallIndex("SubtensorModule", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing call: %v", err)
	}
	if _, err := m.CallIndex("Nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pallet: %v", err)
	}
	me, err := m.LookupModuleError(7, 3)
	if err != nil || me.Error() != "SubtensorModule.InvalidIpAddress: The ip address is invalid." {
		t.Errorf("module error %v %v", me, err)
	}
	if _, err := m.LookupModuleError(7, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown error index: %v", err)
	}
	p, ev, err := m.Event(7, 2)
	if err != nil || p.Name != "SubtensorModule" || ev.Name != "AxonServed" {
		t.Errorf("event %v %v", ev, err)
	}
	c, err := m.Constant("SubtensorModule", "InitialTempo")
	if v, _ := m.DecodeValue(c.Type, c.Value); err != nil || v != uint64(100) {
		t.Errorf("constant %v %v", v, err)
	}
	zs := map[string]bool{}
	for _, s := range m.Extrinsic.SignedExtensions {
		z1, _ := m.IsZeroSized(s.Type)
		z2, _ := m.IsZeroSized(s.AdditionalSigned)
		zs[s.Identifier] = z1 && z2
	}
	if !zs["CheckNonZeroSender"] || zs["CheckNonce"] {
		t.Errorf("zero-sized extensions %v", zs)
	}
	m15 := decodeTest(t, 15)
	if api, err := m15.RuntimeAPIMethod("NeuronInfoRuntimeApi", "get_neurons_lite"); err != nil || api.Output != tVecU8 {
		t.Errorf("runtime api %v %v", api, err)
	}
}

func TestDynamicRoundTrip(t *testing.T) {
	m := decodeTest(t, 14)
	u128max, _ := new(big.Int).SetString("340282366920938463463374607431768211455", 10)
	tests := []struct {
		name string
		id   TypeID
		in   any // value to encode
		hex  string
		out  any // value decoded (nil: same as in)
	}{
		{"u16", tU16, uint64(258), "0201", nil},
		{"i32 negative", tI32, int64(-2), "feffffff", nil},
		{"u128 max", tU128, u128max, strings.Repeat("ff", 16), nil},
		{"bool", tBool, true, "01", nil},
		{"str", tStr, "héllo", "1868c3a96c6c6f", nil},
		{"char", tChar, 'é', "e9000000", nil},
		{"account newtype", tAccount, bob, hex.EncodeToString(bob[:]), bob[:]},
		{"vec u8", tVecU8, []byte{1, 2}, "080102", nil},
		{"vec u16 from []int", tVecU16, []int{1, 2}, "0801000200", []any{uint64(1), uint64(2)}},
		{"compact u64", tCompactU64, 1 << 30, "0300000040", uint64(1 << 30)},
		{"compact u128 big", tCompactU128, u128max, "33" + strings.Repeat("ff", 16), nil},
		{"option none", tOptionU16, nil, "00", Enum{Variant: "None"}},
		{"option some bare", tOptionU16, 5, "010500", Enum{Variant: "Some", Index: 1, Value: uint64(5)}},
		{"option some enum", tOptionU16, Enum{Variant: "Some", Value: 5}, "010500", Enum{Variant: "Some", Index: 1, Value: uint64(5)}},
		{"tuple", tTuple, []any{3, bob}, "0300" + hex.EncodeToString(bob[:]), []any{uint64(3), bob[:]}},
		{"unit", tUnit, nil, "", []any{}},
		{"bitvec", tBitVec, BitSequence{Len: 10, Data: []byte{0xff, 0x03}}, "28ff03", nil},
		{"axon info", tAxonInfo, map[string]any{"block": 5, "version": 610, "ip": 16909060, "port": 8091, "ip_type": 4, "protocol": 4, "placeholder1": 0, "placeholder2": 0},
			"0500000000000000" + "62020000" + "04030201000000000000000000000000" + "9b1f" + "04040000",
			map[string]any{"block": uint64(5), "version": uint64(610), "ip": new(big.Int).SetUint64(16909060), "port": uint64(8091), "ip_type": uint64(4), "protocol": uint64(4), "placeholder1": uint64(0), "placeholder2": uint64(0)}},
		{"enum by name", tError, "InvalidIpAddress", "03", Enum{Variant: "InvalidIpAddress", Index: 3}},
		{"recursive", tSelf, map[string]any{"next": map[string]any{"next": nil}}, "0100",
			map[string]any{"next": Enum{Variant: "Some", Index: 1, Value: map[string]any{"next": Enum{Variant: "None"}}}}},
	}
	for _, tc := range tests {
		enc, err := m.EncodeValue(nil, tc.id, tc.in)
		if err != nil {
			t.Errorf("%s: encode: %v", tc.name, err)
			continue
		}
		if hex.EncodeToString(enc) != tc.hex {
			t.Errorf("%s: encoded %x, want %s", tc.name, enc, tc.hex)
		}
		got, err := m.DecodeValue(tc.id, enc)
		if err != nil {
			t.Errorf("%s: decode: %v", tc.name, err)
			continue
		}
		want := tc.out
		if want == nil {
			want = tc.in
		}
		if !equalValues(got, want) {
			t.Errorf("%s: decoded %#v, want %#v", tc.name, got, want)
		}
		again, err := m.EncodeValue(nil, tc.id, got)
		if err != nil || !bytes.Equal(again, enc) {
			t.Errorf("%s: re-encoding the decoded value gave %x, %v", tc.name, again, err)
		}
	}
}

// equalValues is reflect.DeepEqual with big integers compared by value.
func equalValues(a, b any) bool {
	if x, ok := a.(*big.Int); ok {
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !equalValues(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case Enum:
		y, ok := b.(Enum)
		return ok && x.Variant == y.Variant && x.Index == y.Index && equalValues(x.Value, y.Value)
	}
	return reflect.DeepEqual(a, b)
}

func TestDynamicDecodeRejects(t *testing.T) {
	m := decodeTest(t, 14)
	tests := []struct {
		name string
		id   TypeID
		hex  string
	}{
		{"short u32", tU32, "0102"},
		{"trailing", tU16, "010203"},
		{"bad bool", tBool, "02"},
		{"unknown variant", tOptionU16, "02"},
		{"vec longer than input", tVecU16, "fd03" + "0100"},
		{"vec of accounts longer than input", tVecAccount, "08" + strings.Repeat("00", 40)},
		{"compact u128 overflow", tCompactU128, "37" + strings.Repeat("ff", 17)},
		{"compact u64 overflow", tCompactU64, "17" + strings.Repeat("ff", 9)},
		{"bad char", tChar, "0000d800"},
		{"bitvec longer than input", tBitVec, "a1" + "ff"},
		{"deep recursion", tSelf, strings.Repeat("01", 200) + "00"},
		{"missing type", 9999, "00"},
	}
	for _, tc := range tests {
		if v, err := m.DecodeValue(tc.id, mustHex(t, tc.hex)); err == nil {
			t.Errorf("%s: decoded %v", tc.name, v)
		}
	}
	// Vectors of zero-sized elements: a few bytes may not create millions of values.
	hostile := scale.AppendCompact(nil, 1000)
	for i := 0; i < 1000; i++ {
		hostile = scale.AppendCompact(hostile, scale.MaxZeroSizedLen)
	}
	if _, err := m.DecodeValue(tVecVecUnit, hostile); err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Errorf("Vec<Vec<()>> bomb: %v", err)
	}
	if v, err := m.DecodeValue(tVecVecUnit, mustHex(t, "080c00")); err != nil || len(v.([]any)) != 2 || len(v.([]any)[0].([]any)) != 3 {
		t.Errorf("small Vec<Vec<()>>: %v %v", v, err)
	}
	// A self-referencing composite with no bytes of its own must fail, not recurse forever.
	mm := testMetadata(14)
	mm.Types = append(mm.Types, Type{ID: TypeID(len(mm.Types)), Kind: KindComposite, Fields: []Field{{Type: TypeID(len(mm.Types))}}})
	m2, err := Decode(encodeMetadata(mm))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.DecodeValue(TypeID(len(mm.Types)-1), nil); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Errorf("self-reference: %v", err)
	}
	if _, err := m2.IsZeroSized(TypeID(len(mm.Types) - 1)); err == nil {
		t.Error("IsZeroSized of a self-reference did not fail")
	}
	// A chain of composites each holding two copies of the next: walking it naively
	// takes 2^depth steps; IsZeroSized and DecodeValue must stay linear.
	mm = testMetadata(14)
	base := TypeID(len(mm.Types))
	for i := TypeID(0); i < 200; i++ {
		next := base + i + 1
		if i == 199 {
			next = tUnit
		}
		mm.Types = append(mm.Types, Type{ID: base + i, Kind: KindComposite, Fields: []Field{{Name: "a", Type: next}, {Name: "b", Type: next}}})
	}
	m3, err := Decode(encodeMetadata(mm))
	if err != nil {
		t.Fatal(err)
	}
	if z, err := m3.IsZeroSized(base); err != nil || !z {
		t.Errorf("binary chain of units: zero-sized %v, %v", z, err)
	}
	if _, err := m3.DecodeValue(base, nil); err == nil {
		t.Error("exponential value decoded")
	}
}

func TestStorageValueDefaults(t *testing.T) {
	m := decodeTest(t, 14)
	if v, err := m.DecodeStorageValue("SubtensorModule", "SubnetworkN", nil); err != nil || v != uint64(0) {
		t.Errorf("absent default: %v %v", v, err)
	}
	if v, err := m.DecodeStorageValue("SubtensorModule", "Uids", nil); err != nil || v != nil {
		t.Errorf("absent optional: %v %v", v, err)
	}
	if v, err := m.DecodeStorageValue("SubtensorModule", "Uids", []byte{1, 0}); err != nil || v != uint64(1) {
		t.Errorf("present: %v %v", v, err)
	}
	if _, err := m.DecodeStorageValue("SubtensorModule", "Uids", []byte{1}); err == nil {
		t.Error("short value accepted")
	}
}

// FuzzDecode feeds arbitrary bytes to the metadata decoder and, when they decode, every
// type of the result to the dynamic decoder: nothing may panic or over-allocate.
func FuzzDecode(f *testing.F) {
	f.Add(encodeMetadata(testMetadata(14)))
	f.Add(encodeMetadata(testMetadata(15)))
	f.Add([]byte("meta\x0e\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		for i := range m.Types {
			_, _ = m.DecodeValue(m.Types[i].ID, data[len(data)/2:])
			_, _ = m.IsZeroSized(m.Types[i].ID)
		}
	})
}

// FuzzDecodeValue decodes arbitrary bytes as every type of the test registry; whatever
// decodes must re-encode to the same bytes.
func FuzzDecodeValue(f *testing.F) {
	m, err := Decode(encodeMetadata(testMetadata(14)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(tAxonInfo), mustHex(f, "0500000000000000"+"62020000"+"04030201000000000000000000000000"+"9b1f04040000"))
	f.Add(uint8(tSelf), []byte{1, 1, 1, 0})
	f.Add(uint8(tVecAccount), append([]byte{4}, bob[:]...))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		id := TypeID(int(typ) % len(m.Types))
		v, err := m.DecodeValue(id, data)
		if err != nil {
			return
		}
		enc, err := m.EncodeValue(nil, id, v)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("type %d: %x decoded to %#v, re-encoded to %x (%v)", id, data, v, enc, err)
		}
	})
}

func BenchmarkEncodeCall(b *testing.B) {
	m, _ := Decode(encodeMetadata(testMetadata(14)))
	args := map[string]any{"netuid": 1, "version": 610, "ip": 16909060, "port": 8091, "ip_type": 4, "protocol": 4, "placeholder1": 0, "placeholder2": 0}
	for i := 0; i < b.N; i++ {
		if _, err := m.EncodeCall("SubtensorModule", "serve_axon", args); err != nil {
			b.Fatal(err)
		}
	}
}
