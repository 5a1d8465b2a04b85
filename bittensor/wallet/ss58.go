package wallet

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// SS58 errors, wrapped by SS58Decode with the offending address.
var (
	ErrSS58Base58   = errors.New("invalid base58 character")
	ErrSS58Length   = errors.New("invalid decoded address length")
	ErrSS58Checksum = errors.New("invalid decoded address checksum")
	ErrSS58Prefix   = errors.New("invalid address prefix")
)

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base58Alphabet); i++ {
		t[base58Alphabet[i]] = int8(i)
	}
	return t
}()

// maxSS58Len bounds the input before any work is done: a 32-byte account with a
// two-byte prefix and checksum is 36 bytes, at most 50 base58 characters.
const maxSS58Len = 50

// SS58Encode returns the SS58 address of a 32-byte public key with the given network
// prefix (0..16383; 42 for Bittensor): base58btc(prefix || pub || checksum), checksum =
// BLAKE2b-512("SS58PRE" || prefix || pub)[0:2] (§11.3). Prefixes 64 and above use the
// two-byte form. It panics on a prefix above 16383, a programming error.
func SS58Encode(pub [32]byte, prefix uint16) string {
	var payload []byte
	switch {
	case prefix < 64:
		payload = make([]byte, 0, 1+32+2)
		payload = append(payload, byte(prefix))
	case prefix < 16384:
		payload = make([]byte, 0, 2+32+2)
		payload = append(payload,
			byte((prefix&0xfc)>>2)|0x40,
			byte(prefix>>8)|byte((prefix&0x03)<<6))
	default:
		panic(fmt.Sprintf("wallet: SS58 prefix %d out of range", prefix))
	}
	payload = append(payload, pub[:]...)
	sum := ss58Checksum(payload)
	payload = append(payload, sum[0], sum[1])
	return base58Encode(payload)
}

// SS58Decode parses an SS58 address of a 32-byte account, verifying its checksum. It
// accepts any network prefix (as bittensor 6.1.0 does); callers that need Bittensor
// addresses compare prefix with BittensorSS58Prefix.
func SS58Decode(addr string) (pub [32]byte, prefix uint16, err error) {
	if len(addr) > maxSS58Len {
		return pub, 0, fmt.Errorf("decoding ss58 address (%d characters): %w", len(addr), ErrSS58Length)
	}
	raw, err := base58Decode(addr)
	if err != nil {
		return pub, 0, fmt.Errorf("decoding %q: %w", addr, err)
	}
	if len(raw) != 1+32+2 && len(raw) != 2+32+2 {
		return pub, 0, fmt.Errorf("decoding %q: %w", addr, ErrSS58Length)
	}
	prefixLen := 1
	switch {
	case raw[0] < 64:
		prefix = uint16(raw[0])
	case raw[0] < 128:
		prefixLen = 2
		lower := (raw[0] << 2) | (raw[1] >> 6)
		upper := raw[1] & 0x3f
		prefix = uint16(lower) | uint16(upper)<<8
	default:
		return pub, 0, fmt.Errorf("decoding %q: %w", addr, ErrSS58Prefix)
	}
	if len(raw) != prefixLen+32+2 {
		return pub, 0, fmt.Errorf("decoding %q: %w", addr, ErrSS58Length)
	}
	body := raw[:prefixLen+32]
	sum := ss58Checksum(body)
	if sum[0] != raw[len(raw)-2] || sum[1] != raw[len(raw)-1] {
		return pub, 0, fmt.Errorf("decoding %q: %w", addr, ErrSS58Checksum)
	}
	copy(pub[:], raw[prefixLen:])
	return pub, prefix, nil
}

func ss58Checksum(payload []byte) [2]byte {
	h, _ := blake2b.New512(nil) // cannot fail without a key
	h.Write([]byte("SS58PRE"))
	h.Write(payload)
	var sum [64]byte
	h.Sum(sum[:0])
	return [2]byte{sum[0], sum[1]}
}

// base58Encode encodes b with the bitcoin alphabet, one '1' per leading zero byte.
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.37
	digits := make([]byte, 0, len(b)*137/100+1)
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	out := make([]byte, zeros+len(digits))
	for i := 0; i < zeros; i++ {
		out[i] = '1'
	}
	for i, d := range digits {
		out[len(out)-1-i] = base58Alphabet[d]
	}
	return string(out)
}

// base58Decode is the inverse of base58Encode.
func base58Decode(s string) ([]byte, error) {
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	bytesLE := make([]byte, 0, len(s))
	for i := zeros; i < len(s); i++ {
		v := base58Index[s[i]]
		if v < 0 {
			return nil, fmt.Errorf("%w %q at index %d", ErrSS58Base58, s[i], i)
		}
		carry := int(v)
		for j := range bytesLE {
			carry += int(bytesLE[j]) * 58
			bytesLE[j] = byte(carry)
			carry >>= 8
		}
		for carry > 0 {
			bytesLE = append(bytesLE, byte(carry))
			carry >>= 8
		}
	}
	out := make([]byte, zeros+len(bytesLE))
	for i, c := range bytesLE {
		out[len(out)-1-i] = c
	}
	return out, nil
}
