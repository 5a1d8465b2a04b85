package wallet

import (
	"bytes"
	"errors"
	"testing"
)

func TestSS58Vectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.SS58.Valid) == 0 || len(v.SS58.Invalid) == 0 {
		t.Fatal("no ss58 vectors")
	}
	for _, tc := range v.SS58.Valid {
		t.Run(tc.Name, func(t *testing.T) {
			pub := mustPub(t, tc.PublicKey)
			if got := SS58Encode(pub, tc.Prefix); got != tc.Address {
				t.Errorf("SS58Encode(prefix %d) = %s, want %s", tc.Prefix, got, tc.Address)
			}
			raw, err := base58Decode(tc.Address)
			if err != nil || !bytes.Equal(raw, mustHex(t, tc.Decoded)) {
				t.Errorf("base58 decode = %x, %v; want %s", raw, err, tc.Decoded)
			}
			gotPub, prefix, err := SS58Decode(tc.Address)
			if err != nil {
				t.Fatal(err)
			}
			if gotPub != pub || prefix != tc.Prefix {
				t.Errorf("SS58Decode = %x prefix %d", gotPub, prefix)
			}
		})
	}
	wantErr := map[string]error{
		"bad_checksum":             ErrSS58Checksum,
		"invalid_base58_character": ErrSS58Base58,
		"bad_length":               ErrSS58Length,
	}
	for _, tc := range v.SS58.Invalid {
		t.Run(tc.Name, func(t *testing.T) {
			_, _, err := SS58Decode(tc.Address)
			want, ok := wantErr[tc.Reason]
			if !ok {
				t.Fatalf("unknown reason %q in vectors", tc.Reason)
			}
			if !errors.Is(err, want) {
				t.Errorf("SS58Decode error %v, want %v", err, want)
			}
		})
	}
}

func TestSS58EdgeCases(t *testing.T) {
	pub := [32]byte{1, 2, 3}
	// Two-byte prefixes (64..16383) round-trip.
	for _, prefix := range []uint16{0, 1, 42, 63, 64, 255, 1284, 16383} {
		addr := SS58Encode(pub, prefix)
		got, p, err := SS58Decode(addr)
		if err != nil || got != pub || p != prefix {
			t.Errorf("prefix %d: %s -> %x %d %v", prefix, addr, got, p, err)
		}
	}
	for name, addr := range map[string]string{
		"empty":        "",
		"only ones":    "1111",
		"too long":     "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX5HDvhV6WDCjCK",
		"one char":     "5",
		"non-ascii":    "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66Bs\u00e9",
		"lowercase l":  "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66Bsl",
		"with space":   " 5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX",
		"33-byte body": base58Encode(append([]byte{42}, make([]byte, 35)...)),
	} {
		if _, _, err := SS58Decode(addr); err == nil {
			t.Errorf("%s: %q accepted", name, addr)
		}
	}
}

func FuzzSS58Decode(f *testing.F) {
	f.Add("5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX")
	f.Add("16ADqpMa4yzfmWs3nuTSMhfZ2ckeGtvqhPWCNqECEGDcGgU2")
	f.Add("111111111111111111111111111111111HC1")
	f.Add("5HDvhV6WDC0CKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX")
	f.Add("")
	f.Fuzz(func(t *testing.T, addr string) {
		pub, prefix, err := SS58Decode(addr)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same address.
		if got := SS58Encode(pub, prefix); got != addr {
			t.Fatalf("SS58Decode(%q) = %x/%d re-encodes to %q", addr, pub, prefix, got)
		}
	})
}
