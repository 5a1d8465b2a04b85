package wallet

import (
	"bytes"
	"testing"
)

const benchMessage = "1700000000000000000.5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX.5Fbao5svHqLUXapsBpsjLtGQ4FW2xy3AavUkdyJAkWEwuqKn.5ecbd69c-1cec-11ee-b0dc-e29ce36fec1a.e0e37eb7f2cc8e8cd1d99053c97a43fd5c2a67c7ca30a7d233e535ac480d4848"

func benchKey(b *testing.B) *Keypair {
	kp, err := KeypairFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	return kp
}

func BenchmarkSign(b *testing.B) {
	kp := benchKey(b)
	msg := []byte(benchMessage)
	for b.Loop() {
		if _, err := kp.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	kp := benchKey(b)
	msg := []byte(benchMessage)
	sig, _ := kp.Sign(msg)
	pub := kp.PublicKey()
	for b.Loop() {
		if !Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkVerifyInvalid is the cost of a forged signature: both the raw and the
// <Bytes>-wrapped message are tried.
func BenchmarkVerifyInvalid(b *testing.B) {
	kp := benchKey(b)
	msg := []byte(benchMessage)
	sig, _ := kp.Sign(msg)
	pub := kp.PublicKey()
	bad := append([]byte(nil), msg...)
	bad[0] ^= 1
	for b.Loop() {
		if Verify(pub, bad, sig) {
			b.Fatal("forgery verified")
		}
	}
}

func BenchmarkSS58Decode(b *testing.B) {
	for b.Loop() {
		if _, _, err := SS58Decode(testSS58); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeypairFromMnemonic(b *testing.B) {
	for b.Loop() {
		if _, err := KeypairFromMnemonic(testPhrase); err != nil {
			b.Fatal(err)
		}
	}
}
