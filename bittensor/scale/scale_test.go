package scale

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors from the parity-scale-codec documentation and the Substrate docs.
func TestCompactVectors(t *testing.T) {
	tests := []struct {
		v   uint64
		hex string
	}{
		{0, "00"},
		{1, "04"},
		{42, "a8"},
		{63, "fc"},
		{64, "0101"},
		{69, "1501"},
		{16383, "fdff"},
		{16384, "02000100"},
		{1<<30 - 1, "feffffff"},
		{1 << 30, "0300000040"},
		{1<<32 - 1, "03ffffffff"},
		{1 << 32, "070000000001"},
		{100000000000000, "0b00407a10f35a"},
		{math.MaxUint64, "13ffffffffffffffff"},
	}
	for _, tc := range tests {
		got := AppendCompact(nil, tc.v)
		if hex.EncodeToString(got) != tc.hex {
			t.Errorf("AppendCompact(%d) = %x, want %s", tc.v, got, tc.hex)
		}
		d := NewDecoder(unhex(t, tc.hex))
		v, err := d.Compact()
		if err != nil || v != tc.v || d.Remaining() != 0 {
			t.Errorf("Compact(%s) = %d, %v (rest %d), want %d", tc.hex, v, err, d.Remaining(), tc.v)
		}
		bv, err := NewDecoder(unhex(t, tc.hex)).CompactBig()
		if err != nil || !bv.IsUint64() || bv.Uint64() != tc.v {
			t.Errorf("CompactBig(%s) = %v, %v", tc.hex, bv, err)
		}
		bb, err := AppendCompactBig(nil, new(big.Int).SetUint64(tc.v))
		if err != nil || !bytes.Equal(bb, got) {
			t.Errorf("AppendCompactBig(%d) = %x, %v", tc.v, bb, err)
		}
	}
}

func TestCompactBigRoundTrip(t *testing.T) {
	for _, s := range []string{"18446744073709551616", "340282366920938463463374607431768211455", "123456789012345678901234567890"} {
		v, _ := new(big.Int).SetString(s, 10)
		enc, err := AppendCompactBig(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(enc)
		got, err := d.CompactBig()
		if err != nil || got.Cmp(v) != 0 || d.Remaining() != 0 {
			t.Errorf("round trip %s: got %v, %v", s, got, err)
		}
		if _, err := NewDecoder(enc).Compact(); err == nil {
			t.Errorf("Compact accepted %s, which does not fit u64", s)
		}
	}
	if _, err := AppendCompactBig(nil, big.NewInt(-1)); !errors.Is(err, ErrNegative) {
		t.Errorf("negative: %v", err)
	}
	huge := new(big.Int).Lsh(big.NewInt(1), 600)
	if _, err := AppendCompactBig(nil, huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("2^600: %v", err)
	}
}

func TestCompactRejects(t *testing.T) {
	tests := []struct {
		name, hex string
		want      error
	}{
		{"empty", "", ErrTruncated},
		{"two-byte truncated", "01", ErrTruncated},
		{"four-byte truncated", "020000", ErrTruncated},
		{"big truncated", "03ffff", ErrTruncated},
		{"non-canonical two-byte", "0100", ErrInvalid},
		{"non-canonical four-byte", "02000000", ErrInvalid},
		{"non-canonical big (fits four-byte)", "03ffffff3f", ErrInvalid},
		{"non-canonical big (leading zero byte)", "07ffffffff00", ErrInvalid},
		{"too big for u64", "17000000000000000001", ErrInvalid},
	}
	for _, tc := range tests {
		d := NewDecoder(unhex(t, tc.hex))
		if _, err := d.Compact(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if d.Offset() != 0 {
			t.Errorf("%s: offset moved to %d on error", tc.name, d.Offset())
		}
	}
}

func TestFixedWidth(t *testing.T) {
	var b []byte
	b = AppendU8(b, 0xab)
	b = AppendU16(b, 0x1234)
	b = AppendU32(b, 0x5b9168)
	b = AppendU64(b, 1e15)
	ip := U128From64(0x09090909)
	b = AppendU128(b, ip)
	b = AppendBool(b, true)
	b = AppendBool(b, false)
	want := "ab" + "3412" + "68915b00" + "0080c6a47e8d0300" + "09090909000000000000000000000000" + "01" + "00"
	if hex.EncodeToString(b) != want {
		t.Fatalf("encoded %x\nwant    %s", b, want)
	}
	d := NewDecoder(b)
	u8, _ := d.U8()
	u16, _ := d.U16()
	u32, _ := d.U32()
	u64, _ := d.U64()
	u128, _ := d.U128()
	t1, _ := d.Bool()
	f1, err := d.Bool()
	if err != nil || u8 != 0xab || u16 != 0x1234 || u32 != 0x5b9168 || u64 != 1e15 || u128 != ip || !t1 || f1 {
		t.Fatalf("decoded %x %x %x %d %v %v %v: %v", u8, u16, u32, u64, u128, t1, f1, err)
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDecoder([]byte{2}).Bool(); !errors.Is(err, ErrInvalid) {
		t.Errorf("bool 2: %v", err)
	}
	if _, err := NewDecoder([]byte{1, 2, 3}).U32(); !errors.Is(err, ErrTruncated) {
		t.Errorf("short u32: %v", err)
	}
}

func TestUint128Big(t *testing.T) {
	max, _ := new(big.Int).SetString("340282366920938463463374607431768211455", 10)
	u, err := U128FromBig(max)
	if err != nil || u.Lo != math.MaxUint64 || u.Hi != math.MaxUint64 || u.Big().Cmp(max) != 0 {
		t.Fatalf("max u128: %+v %v", u, err)
	}
	if _, err := U128FromBig(new(big.Int).Add(max, big.NewInt(1))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("2^128: %v", err)
	}
	if u := U128From64(16909060); u.String() != "16909060" || !u.IsUint64() {
		t.Errorf("String = %s", u)
	}
}

func TestSeqOptionString(t *testing.T) {
	var b []byte
	b = AppendU16Seq(b, []uint16{1, 65535})
	b = AppendString(b, "héllo")
	b = AppendBytes(b, []byte{9, 8})
	v := uint32(7)
	b = AppendOption(b, &v, AppendU32)
	b = AppendOption[uint32](b, nil, AppendU32)
	var acct AccountID
	acct[0], acct[31] = 1, 2
	b = AppendAccountID(b, acct)

	d := NewDecoder(b)
	seq, err := Seq(d, 2, DecodeU16)
	if err != nil || len(seq) != 2 || seq[1] != 65535 {
		t.Fatalf("seq %v %v", seq, err)
	}
	s, err := d.String()
	if err != nil || s != "héllo" {
		t.Fatalf("string %q %v", s, err)
	}
	p, err := d.Bytes()
	if err != nil || !bytes.Equal(p, []byte{9, 8}) {
		t.Fatalf("bytes %x %v", p, err)
	}
	o1, err := Optional(d, DecodeU32)
	if err != nil || o1 == nil || *o1 != 7 {
		t.Fatalf("some: %v %v", o1, err)
	}
	o2, err := Optional(d, DecodeU32)
	if err != nil || o2 != nil {
		t.Fatalf("none: %v %v", o2, err)
	}
	a, err := d.AccountID()
	if err != nil || a != acct || d.Done() != nil {
		t.Fatalf("account %x %v", a, err)
	}
}

func TestLenBounds(t *testing.T) {
	// A length of 2^30 with 3 bytes of input must be refused before allocating.
	b := AppendCompact(nil, 1<<30)
	b = append(b, 1, 2, 3)
	if _, err := NewDecoder(b).Len(1); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge length: %v", err)
	}
	if _, err := Seq(NewDecoder(b), 2, DecodeU16); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge seq: %v", err)
	}
	// Four u16 need 8 bytes; 7 available.
	b = append(AppendCompact(nil, 4), make([]byte, 7)...)
	if _, err := NewDecoder(b).Len(2); !errors.Is(err, ErrInvalid) {
		t.Errorf("4×u16 in 7 bytes: %v", err)
	}
	if n, err := NewDecoder(AppendCompact(nil, MaxZeroSizedLen)).Len(0); err != nil || n != MaxZeroSizedLen {
		t.Errorf("zero-sized at limit: %d %v", n, err)
	}
	if _, err := NewDecoder(AppendCompact(nil, MaxZeroSizedLen+1)).Len(0); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero-sized over limit: %v", err)
	}
	if _, err := NewDecoder([]byte{0x01}).Option(); err != nil {
		t.Errorf("option 1: %v", err)
	}
	if _, err := NewDecoder([]byte{0x02}).Option(); !errors.Is(err, ErrInvalid) {
		t.Errorf("option 2: %v", err)
	}
}

// FuzzDecoder drives every decoder method over arbitrary input: none may panic, and any
// compact that decodes must re-encode to the same bytes (canonical form).
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0x00})
	f.Add([]byte{0x03, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(AppendString(nil, "serve_axon"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(data)
		start := d.Offset()
		if v, err := d.Compact(); err == nil {
			if got := AppendCompact(nil, v); !bytes.Equal(got, data[start:d.Offset()]) {
				t.Fatalf("compact %d re-encodes to %x, read %x", v, got, data[start:d.Offset()])
			}
		}
		d = NewDecoder(data)
		if v, err := d.CompactBig(); err == nil {
			got, err := AppendCompactBig(nil, v)
			if err != nil || !bytes.Equal(got, data[:d.Offset()]) {
				t.Fatalf("compact big %v re-encodes to %x, read %x", v, got, data[:d.Offset()])
			}
		}
		d = NewDecoder(data)
		for d.Remaining() > 0 {
			before := d.Offset()
			_, _ = d.Bytes()
			_, _ = Seq(d, 2, DecodeU16)
			_, _ = Optional(d, DecodeU64)
			_, _ = d.Bool()
			_, _ = d.U128()
			_, _ = d.Len(0)
			if d.Offset() == before {
				_ = d.Skip(1)
			}
		}
	})
}

func BenchmarkCompactRoundTrip(b *testing.B) {
	buf := make([]byte, 0, 16)
	for i := 0; i < b.N; i++ {
		buf = AppendCompact(buf[:0], uint64(i)*2654435761)
		if _, err := NewDecoder(buf).Compact(); err != nil {
			b.Fatal(err)
		}
	}
}
