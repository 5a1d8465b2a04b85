package wallet

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestSignatureVectorsValid(t *testing.T) {
	v := loadVectors(t)
	if len(v.Signatures.Valid) == 0 {
		t.Fatal("no valid signature vectors")
	}
	for _, tc := range v.Signatures.Valid {
		t.Run(tc.ID, func(t *testing.T) {
			msg := []byte(tc.Message)
			if !bytes.Equal(msg, mustHex(t, tc.MessageHex)) {
				t.Fatal("message and message_utf8_hex differ")
			}
			pub := mustPub(t, tc.SignerPublicKey)
			if p, prefix, err := SS58Decode(tc.SignerSS58); err != nil || p != pub || prefix != 42 {
				t.Fatalf("signer ss58 %s: %x %d %v", tc.SignerSS58, p, prefix, err)
			}
			sigs := map[string]string{"signature": tc.Signature, "signature_alt": tc.SignatureAlt}
			if tc.SignatureDoc != "" {
				sigs["signature_doc"] = tc.SignatureDoc
			}
			for name, s := range sigs {
				sig := mustHex(t, s)
				if !Verify(pub, msg, sig) {
					t.Errorf("%s does not verify", name)
				}
				wrapped := append(append([]byte("<Bytes>"), msg...), "</Bytes>"...)
				if tc.BytesWrapped {
					if !Verify(pub, wrapped, sig) {
						t.Errorf("%s does not verify over the wrapped message itself", name)
					}
					if verifyRaw(t, pub, msg, sig) {
						t.Errorf("%s: wrapped vector verified without the <Bytes> fallback", name)
					}
				}
				if Verify(pub, append(msg, ' '), sig) {
					t.Errorf("%s verifies for a changed message", name)
				}
			}
			// The signer's seed reproduces the public key and signs verifiably.
			kp, err := KeypairFromSeed(mustHex(t, tc.SignerSeed))
			if err != nil {
				t.Fatal(err)
			}
			if kp.PublicKey() != pub {
				t.Errorf("signer seed gives %x", kp.PublicKey())
			}
			sig, err := kp.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !Verify(pub, msg, sig) {
				t.Error("fresh signature does not verify")
			}
		})
	}
}

// verifyRaw verifies without the <Bytes> fallback, by checking a message that
// Verify would wrap to something else.
func verifyRaw(t *testing.T, pub [32]byte, msg, sig []byte) bool {
	t.Helper()
	pk, err := parsePublicKeyForTest(pub)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := parseSignatureForTest(sig)
	return ok && verifyOne(pk, s, msg)
}

func TestSignatureVectorsInvalid(t *testing.T) {
	v := loadVectors(t)
	if len(v.Signatures.Invalid) < 5 {
		t.Fatalf("want at least 5 invalid signature vectors, got %d", len(v.Signatures.Invalid))
	}
	for _, tc := range v.Signatures.Invalid {
		t.Run(tc.ID, func(t *testing.T) {
			if Verify(mustPub(t, tc.SignerPublicKey), []byte(tc.Message), mustHex(t, tc.Signature)) {
				t.Error("accepted")
			}
		})
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	v := loadVectors(t)
	good := v.Signatures.Valid[0]
	pub := mustPub(t, good.SignerPublicKey)
	msg := []byte(good.Message)
	sig := mustHex(t, good.Signature)
	if !Verify(pub, msg, sig) {
		t.Fatal("base vector does not verify")
	}
	tweak := func(f func(s []byte) []byte) []byte { return f(append([]byte(nil), sig...)) }
	cases := map[string]struct {
		pub [32]byte
		sig []byte
	}{
		"empty signature":      {pub, nil},
		"63 bytes":             {pub, sig[:63]},
		"65 bytes":             {pub, append(append([]byte(nil), sig...), 0)},
		"R not a point":        {pub, tweak(func(s []byte) []byte { copy(s, bytes.Repeat([]byte{0xff}, 32)); return s })},
		"s all ones":           {pub, tweak(func(s []byte) []byte { copy(s[32:], bytes.Repeat([]byte{0xff}, 32)); return s })},
		"zero signature":       {pub, append(make([]byte, 63), 0x80)},
		"identity public key":  {[32]byte{}, sig},
		"public key not point": {[32]byte{0xff, 0xff}, sig},
	}
	for name, tc := range cases {
		if Verify(tc.pub, msg, tc.sig) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestExternalInkVector(t *testing.T) {
	// ink! sr25519_verify test vector (axon-protocol.md §4.5): signed over the
	// <Bytes>-wrapped message.
	pub := [32]byte(mustHex(t, "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"))
	sig, _ := hex.DecodeString("0a7da2b631704cdcfe93c740e41217b9ac667a0c8755d8da1a8232db527f487c87e780d2edc1896aeb6b1bef0bc7c38d9df2135b633eab8bfb1777e82fad3a8f")
	if !Verify(pub, []byte("<Bytes>0x46fb7408d4f285228f4af516ea25851b</Bytes>"), sig) {
		t.Error("wrapped message does not verify")
	}
	if !Verify(pub, []byte("0x46fb7408d4f285228f4af516ea25851b"), sig) {
		t.Error("bare message does not verify through the <Bytes> fallback")
	}
}
