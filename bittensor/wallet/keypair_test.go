package wallet

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestMnemonicVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Keys.MnemonicVectors) == 0 {
		t.Fatal("no mnemonic vectors")
	}
	for _, tc := range v.Keys.MnemonicVectors {
		t.Run(tc.Name, func(t *testing.T) {
			words, entropy, err := mnemonicEntropy(tc.Mnemonic)
			if err != nil {
				t.Fatal(err)
			}
			if words != tc.Mnemonic {
				t.Errorf("normalized phrase %q", words)
			}
			if !bytes.Equal(entropy, mustHex(t, tc.Entropy)) {
				t.Errorf("entropy %x, want %s", entropy, tc.Entropy)
			}
			if got := mnemonicFromEntropy(entropy); got != tc.Mnemonic {
				t.Errorf("mnemonicFromEntropy = %q", got)
			}
			kp, err := keypairFromMnemonic(tc.Mnemonic, tc.Passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if kp.seed == nil || !bytes.Equal(kp.seed[:], mustHex(t, tc.SecretSeed)) {
				t.Errorf("secretSeed %x, want %s", kp.seed, tc.SecretSeed)
			}
			checkKeypair(t, kp, tc.PublicKey, tc.SS58Address)
			if got := SS58Encode(kp.PublicKey(), 0); got != tc.SS58AddressPrefix0 {
				t.Errorf("prefix-0 address %s, want %s", got, tc.SS58AddressPrefix0)
			}
			fromSecret, err := KeypairFromSecret(mustHex(t, tc.PrivateKey))
			if err != nil {
				t.Fatal(err)
			}
			checkKeypair(t, fromSecret, tc.PublicKey, tc.SS58Address)
			pjs, err := keypairFromEd25519Secret(mustHex(t, tc.PolkadotJSSecretKey))
			if err != nil {
				t.Fatal(err)
			}
			checkKeypair(t, pjs, tc.PublicKey, tc.SS58Address)
			// The two 64-byte forms are not interchangeable.
			if wrong, err := KeypairFromSecret(mustHex(t, tc.PolkadotJSSecretKey)); err == nil && wrong.PublicKey() == kp.PublicKey() {
				t.Error("polkadot-js secret accepted as a btwallet privateKey")
			}
		})
	}
}

func TestSeedVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Keys.SeedVectors) == 0 {
		t.Fatal("no seed vectors")
	}
	for _, tc := range v.Keys.SeedVectors {
		t.Run(tc.Name, func(t *testing.T) {
			kp, err := KeypairFromSeed(mustHex(t, tc.Seed))
			if err != nil {
				t.Fatal(err)
			}
			checkKeypair(t, kp, tc.PublicKey, tc.SS58Address)
			fromSecret, err := KeypairFromSecret(mustHex(t, tc.PrivateKey))
			if err != nil {
				t.Fatal(err)
			}
			checkKeypair(t, fromSecret, tc.PublicKey, tc.SS58Address)
			pjs, err := keypairFromEd25519Secret(mustHex(t, tc.PolkadotJSSecretKey))
			if err != nil {
				t.Fatal(err)
			}
			checkKeypair(t, pjs, tc.PublicKey, tc.SS58Address)
		})
	}
}

// checkKeypair checks the public key and address, and that the key signs verifiably.
func checkKeypair(t *testing.T, kp *Keypair, pubHex, ss58 string) {
	t.Helper()
	if kp.PublicKey() != mustPub(t, pubHex) {
		t.Errorf("public key %x, want %s", kp.PublicKey(), pubHex)
	}
	if kp.SS58() != ss58 {
		t.Errorf("ss58 %s, want %s", kp.SS58(), ss58)
	}
	msg := []byte("btlm-miner test message " + ss58)
	sig, err := kp.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != SignatureSize || sig[63]&0x80 == 0 {
		t.Fatalf("signature %x: want 64 bytes with the marker bit", sig)
	}
	if !Verify(kp.PublicKey(), msg, sig) {
		t.Error("own signature does not verify")
	}
	if Verify(kp.PublicKey(), append(msg, '!'), sig) {
		t.Error("signature verifies for another message")
	}
}

func TestKeypairConstructorsRejectBadInput(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := KeypairFromSeed(make([]byte, n)); err == nil {
			t.Errorf("KeypairFromSeed accepted %d bytes", n)
		}
	}
	for _, n := range []int{0, 32, 63, 65} {
		if _, err := KeypairFromSecret(make([]byte, n)); err == nil {
			t.Errorf("KeypairFromSecret accepted %d bytes", n)
		}
	}
	// A scalar >= the group order is not a canonical secret key.
	bad := bytes.Repeat([]byte{0xff}, SecretSize)
	if _, err := KeypairFromSecret(bad); err == nil {
		t.Error("KeypairFromSecret accepted a non-canonical scalar")
	}
	const phrase = "old leopard transfer rib spatial phone calm indicate online fire caution review"
	for name, p := range map[string]string{
		"empty":         "",
		"11 words":      strings.Join(strings.Fields(phrase)[:11], " "),
		"13 words":      phrase + " abandon",
		"unknown word":  strings.Replace(phrase, "leopard", "leopardx", 1),
		"bad checksum":  strings.Replace(phrase, "review", "abandon", 1),
		"swapped words": strings.Replace(strings.Replace(phrase, "old", "X", 1), "leopard", "old", 1),
		"huge":          strings.Repeat("abandon ", 1000),
		"non-english":   "абв где",
		"25 words":      strings.Repeat("abandon ", 24) + "art",
	} {
		if _, err := KeypairFromMnemonic(p); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "leopard") {
			t.Errorf("%s: error quotes the phrase: %v", name, err)
		}
	}
	// Whitespace and case are normalized.
	kp, err := KeypairFromMnemonic("  OLD leopard\ttransfer rib spatial phone calm indicate online fire caution\nreview ")
	if err != nil {
		t.Fatal(err)
	}
	if kp.SS58() != "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX" || kp.phrase != phrase {
		t.Errorf("normalized phrase gave %s / %q", kp.SS58(), kp.phrase)
	}
}

func TestNewMnemonicRoundTrip(t *testing.T) {
	for _, n := range []int{12, 15, 18, 21, 24} {
		m, err := NewMnemonic(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(strings.Fields(m)); got != n {
			t.Errorf("NewMnemonic(%d) has %d words", n, got)
		}
		if _, err := KeypairFromMnemonic(m); err != nil {
			t.Errorf("NewMnemonic(%d) does not load: %v", n, err)
		}
	}
	a, _ := NewMnemonic(12)
	b, _ := NewMnemonic(12)
	if a == b {
		t.Error("two fresh mnemonics are equal")
	}
	for _, n := range []int{0, 11, 13, 27} {
		if _, err := NewMnemonic(n); err == nil {
			t.Errorf("NewMnemonic(%d) accepted", n)
		}
	}
}

func TestKeypairNeverFormatsSecrets(t *testing.T) {
	kp, err := KeypairFromSeed(bytes.Repeat([]byte{0x11}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, kp)
		if !strings.Contains(out, kp.SS58()) || strings.Contains(out, "1111") || strings.Contains(out, "17 17") {
			t.Errorf("%s formats as %q", verb, out)
		}
	}
}

func TestPublicOnlyKeypairCannotSign(t *testing.T) {
	var kp *Keypair
	if _, err := kp.Sign([]byte("x")); err == nil {
		t.Error("nil key pair signed")
	}
	if _, err := (&Keypair{}).Sign([]byte("x")); err == nil {
		t.Error("key pair without secret signed")
	}
}

func FuzzMnemonic(f *testing.F) {
	f.Add("old leopard transfer rib spatial phone calm indicate online fire caution review")
	f.Add("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
	f.Add(" ABANDON\tzoo ")
	f.Fuzz(func(t *testing.T, phrase string) {
		words, entropy, err := mnemonicEntropy(phrase)
		if err != nil {
			return
		}
		// A phrase that parses is the encoding of its entropy.
		if got := mnemonicFromEntropy(entropy); got != words {
			t.Fatalf("entropy %x encodes to %q, parsed from %q", entropy, got, words)
		}
	})
}

func TestParseSeedHex(t *testing.T) {
	seed := strings.Repeat("ab", SeedSize)
	tests := []struct {
		name, in string
		errHas   string
	}{
		{"bare", seed, ""},
		{"0x and space", " 0x" + seed + "\n", ""},
		{"0X", "0X" + seed, ""},
		{"short", "0x" + seed[2:], "hex digits"},
		{"long", seed + "00", "hex digits"},
		{"not hex", strings.Repeat("zz", SeedSize), "not valid hex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseSeedHex(tc.in)
			switch {
			case tc.errHas == "" && (err != nil || len(b) != SeedSize || b[0] != 0xab):
				t.Errorf("ParseSeedHex = %x, %v", b, err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("err = %v, want one containing %q", err, tc.errHas)
			case err != nil && strings.Contains(err.Error(), "zz"):
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}
