package wallet

import (
	"errors"
	"fmt"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"
)

// SigningContext is the schnorrkel signing context used by substrate, bittensor 6.1.0
// (py-sr25519-bindings) and btwallet.
var SigningContext = []byte("substrate")

// BittensorSS58Prefix is the SS58 network prefix of Bittensor addresses.
const BittensorSS58Prefix = 42

// Sizes of the key material, in bytes.
const (
	SeedSize      = 32 // mini secret key ("secretSeed")
	SecretSize    = 64 // scalar || nonce ("privateKey" as btwallet writes it)
	PublicKeySize = 32
	SignatureSize = 64
)

// Keypair is an sr25519 key pair. The secret is unexported and never printed: the
// fmt verbs show only the SS58 address. A Keypair is safe for concurrent use.
type Keypair struct {
	public [32]byte
	ss58   string
	secret *schnorrkel.SecretKey

	// What the key was made from, kept so that it can be written back in the
	// bittensor 6 keyfile format. Empty/nil when unknown.
	phrase string
	seed   *[SeedSize]byte
}

// PublicKey returns the 32-byte ristretto255 public key (the "accountId").
func (k *Keypair) PublicKey() [32]byte { return k.public }

// SS58 returns the public key as an SS58 address with the Bittensor prefix 42.
func (k *Keypair) SS58() string { return k.ss58 }

// String returns the SS58 address, so that printing a Keypair never shows a secret.
func (k *Keypair) String() string { return k.ss58 }

// GoString returns a description without secrets (for %#v).
func (k *Keypair) GoString() string { return "wallet.Keypair{" + k.ss58 + "}" }

// Sign signs msg with schnorrkel "simple" signing in the "substrate" context and
// returns the 64-byte signature R || s with the schnorrkel marker bit set.
// Signatures are randomized.
func (k *Keypair) Sign(msg []byte) ([]byte, error) {
	if k == nil || k.secret == nil {
		return nil, errors.New("sign: key pair has no secret key")
	}
	sig, err := k.secret.Sign(schnorrkel.NewSigningContext(SigningContext, msg))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out := sig.Encode()
	return out[:], nil
}

// KeypairFromSeed expands a 32-byte mini secret key in Ed25519 mode, as substrate's
// sr25519 Pair::from_seed_slice and py-sr25519-bindings pair_from_seed do (§11.3).
func KeypairFromSeed(seed []byte) (*Keypair, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("seed: want %d bytes, got %d", SeedSize, len(seed))
	}
	var raw [SeedSize]byte
	copy(raw[:], seed)
	mini, err := schnorrkel.NewMiniSecretKeyFromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	kp, err := newKeypair(mini.ExpandEd25519())
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	kp.seed = &raw
	return kp, nil
}

// KeypairFromSecret loads a 64-byte schnorrkel secret key in the form
// SecretKey::to_bytes() = scalar (32, little-endian, canonical) || nonce (32), which is
// the "privateKey" btwallet writes. It is not the polkadot-js form (scalar×8 || nonce).
func KeypairFromSecret(secret []byte) (*Keypair, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("secret key: want %d bytes, got %d", SecretSize, len(secret))
	}
	var key, nonce [32]byte
	copy(key[:], secret[:32])
	copy(nonce[:], secret[32:])
	kp, err := newKeypair(schnorrkel.NewSecretKey(key, nonce))
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return kp, nil
}

// keypairFromEd25519Secret loads the polkadot-js 64-byte form (scalar×8 || nonce).
func keypairFromEd25519Secret(secret []byte) (*Keypair, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("secret key: want %d bytes, got %d", SecretSize, len(secret))
	}
	var b [SecretSize]byte
	copy(b[:], secret)
	kp, err := newKeypair(schnorrkel.NewSecretKeyFromEd25519Bytes(b))
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return kp, nil
}

// KeypairFromMnemonic derives a key from an English BIP39 mnemonic the substrate way
// (substrate-bip39, not standard BIP39): the mini secret is
// PBKDF2-HMAC-SHA512(entropy, "mnemonic", 2048)[0:32], expanded in Ed25519 mode.
// Words are separated by any whitespace and matched case-insensitively.
func KeypairFromMnemonic(phrase string) (*Keypair, error) {
	return keypairFromMnemonic(phrase, "")
}

func keypairFromMnemonic(phrase, password string) (*Keypair, error) {
	words, entropy, err := mnemonicEntropy(phrase)
	if err != nil {
		return nil, err
	}
	seed := miniSecretFromEntropy(entropy, password)
	kp, err := KeypairFromSeed(seed[:])
	if err != nil {
		return nil, err
	}
	if password == "" { // a passphrase cannot be stored in a bittensor keyfile
		kp.phrase = words
	} else {
		kp.seed = nil
	}
	return kp, nil
}

func newKeypair(sk *schnorrkel.SecretKey) (*Keypair, error) {
	pub, err := sk.Public()
	if err != nil {
		return nil, err
	}
	kp := &Keypair{public: pub.Encode(), secret: sk}
	kp.ss58 = SS58Encode(kp.public, BittensorSS58Prefix)
	return kp, nil
}

var (
	bytesPrefix = []byte("<Bytes>")
	bytesSuffix = []byte("</Bytes>")
)

// Verify reports whether sig is a valid sr25519 signature by pub over msg in the
// "substrate" context, or over "<Bytes>" + msg + "</Bytes>" (the polkadot-js wrapping
// that substrate-interface and btwallet also accept, §4.2). It rejects signatures
// without the schnorrkel marker bit (byte 63 & 0x80), with a non-canonical s (s >= ℓ)
// or a non-canonical R, and public keys that are not valid ristretto255 encodings or
// are the identity.
func Verify(pub [32]byte, msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	var raw [SignatureSize]byte
	copy(raw[:], sig)
	var s schnorrkel.Signature
	// Decode checks the marker bit, decodes R canonically and s with
	// FromCanonicalBytes (rejecting s >= ℓ).
	if err := s.Decode(raw); err != nil {
		return false
	}
	pk, err := schnorrkel.NewPublicKey(pub)
	if err != nil {
		return false
	}
	if verifyOne(pk, &s, msg) {
		return true
	}
	wrapped := make([]byte, 0, len(bytesPrefix)+len(msg)+len(bytesSuffix))
	wrapped = append(append(append(wrapped, bytesPrefix...), msg...), bytesSuffix...)
	return verifyOne(pk, &s, wrapped)
}

func verifyOne(pk *schnorrkel.PublicKey, s *schnorrkel.Signature, msg []byte) bool {
	ok, err := pk.Verify(s, schnorrkel.NewSigningContext(SigningContext, msg))
	return err == nil && ok
}
