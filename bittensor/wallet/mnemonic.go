package wallet

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"strings"

	bip39 "github.com/cosmos/go-bip39"
	"golang.org/x/crypto/pbkdf2"
)

// The English BIP39 word list comes from github.com/cosmos/go-bip39 (already a
// dependency of go-schnorrkel), which verifies its CRC32 at init. Only the list is
// used: the entropy decoding below is our own, with the checksum checked bit by bit.
var (
	wordList  = bip39.EnglishWordList
	wordIndex = func() map[string]uint16 {
		m := make(map[string]uint16, len(wordList))
		for i, w := range wordList {
			m[w] = uint16(i)
		}
		return m
	}()
)

// maxMnemonicLen bounds a phrase before splitting: 24 words of at most 8 letters.
const maxMnemonicLen = 1024

// mnemonicEntropy normalizes phrase (whitespace-separated, case-insensitive) and
// returns the normalized phrase and its BIP39 entropy, verifying word count, words
// and checksum.
func mnemonicEntropy(phrase string) (string, []byte, error) {
	if len(phrase) > maxMnemonicLen {
		return "", nil, fmt.Errorf("mnemonic: too long (%d bytes)", len(phrase))
	}
	words := strings.Fields(strings.ToLower(phrase))
	n := len(words)
	if n < 12 || n > 24 || n%3 != 0 {
		return "", nil, fmt.Errorf("mnemonic: want 12, 15, 18, 21 or 24 words, got %d", n)
	}
	// n words carry 11n bits: 32k entropy bits + k checksum bits, with k = n/3.
	bits := make([]byte, (11*n+7)/8)
	for i, w := range words {
		idx, ok := wordIndex[w]
		if !ok {
			return "", nil, fmt.Errorf("mnemonic: word %d is not in the BIP39 English list", i+1)
		}
		for b := 0; b < 11; b++ {
			if idx&(1<<(10-b)) != 0 {
				pos := 11*i + b
				bits[pos/8] |= 0x80 >> (pos % 8)
			}
		}
	}
	checksumBits := n / 3
	entropy := bits[:4*checksumBits]
	sum := sha256.Sum256(entropy)
	for b := 0; b < checksumBits; b++ {
		pos := 32*checksumBits + b
		got := bits[pos/8]&(0x80>>(pos%8)) != 0
		want := sum[b/8]&(0x80>>(b%8)) != 0
		if got != want {
			return "", nil, fmt.Errorf("mnemonic: checksum mismatch (a word is wrong or out of order)")
		}
	}
	return strings.Join(words, " "), append([]byte(nil), entropy...), nil
}

// miniSecretFromEntropy is substrate-bip39's mini_secret_from_entropy:
// PBKDF2-HMAC-SHA512(password = entropy, salt = "mnemonic" + password, 2048)[0:32].
func miniSecretFromEntropy(entropy []byte, password string) [SeedSize]byte {
	out := pbkdf2.Key(entropy, []byte("mnemonic"+password), 2048, 64, sha512.New)
	var seed [SeedSize]byte
	copy(seed[:], out)
	return seed
}

// NewMnemonic returns a fresh English BIP39 mnemonic of words words (12, 15, 18, 21
// or 24) from crypto/rand. bittensor creates 12-word hotkey mnemonics by default.
func NewMnemonic(words int) (string, error) {
	if words < 12 || words > 24 || words%3 != 0 {
		return "", fmt.Errorf("mnemonic: want 12, 15, 18, 21 or 24 words, got %d", words)
	}
	entropy := make([]byte, words/3*4)
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("mnemonic: %w", err)
	}
	return mnemonicFromEntropy(entropy), nil
}

// mnemonicFromEntropy encodes 16..32 bytes of entropy (a multiple of 4) as words.
func mnemonicFromEntropy(entropy []byte) string {
	checksumBits := len(entropy) / 4
	sum := sha256.Sum256(entropy)
	data := append(append([]byte(nil), entropy...), sum[0]) // at most 8 checksum bits
	n := (len(entropy)*8 + checksumBits) / 11
	words := make([]string, n)
	for i := range words {
		var idx uint16
		for b := 0; b < 11; b++ {
			pos := 11*i + b
			idx <<= 1
			if data[pos/8]&(0x80>>(pos%8)) != 0 {
				idx |= 1
			}
		}
		words[i] = wordList[idx]
	}
	return strings.Join(words, " ")
}
