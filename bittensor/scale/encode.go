// Package scale implements the SCALE codec of parity-scale-codec (the encoding used by
// Substrate runtimes such as subtensor): little-endian fixed-width integers, compact
// integers, booleans, length-prefixed vectors and strings, options, enums and fixed
// arrays.
//
// Encoding is append-style: every Append function appends the encoding of a value to a
// byte slice and returns the extended slice. Decoding goes through a Decoder, which is
// bounded: it never reads past its input, never panics, and checks every length prefix
// against the bytes that remain before allocating anything.
//
// Reference: parity-scale-codec 3.x ("SCALE Codec" in the Substrate docs).
package scale

import (
	"encoding/binary"
	"errors"
	"math/big"
)

// AccountID is a 32-byte Substrate account id (AccountId32, the sr25519 public key).
type AccountID [32]byte

// Largest values of each compact mode.
const (
	maxSingleByte = 1<<6 - 1
	maxTwoByte    = 1<<14 - 1
	maxFourByte   = 1<<30 - 1
)

// AppendU8 appends v.
func AppendU8(b []byte, v uint8) []byte { return append(b, v) }

// AppendU16 appends v little-endian.
func AppendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }

// AppendU32 appends v little-endian.
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// AppendU64 appends v little-endian.
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// AppendU128 appends v little-endian (16 bytes).
func AppendU128(b []byte, v Uint128) []byte {
	b = binary.LittleEndian.AppendUint64(b, v.Lo)
	return binary.LittleEndian.AppendUint64(b, v.Hi)
}

// AppendBool appends 0x01 for true and 0x00 for false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendCompact appends v as a SCALE compact integer, in its shortest (canonical) form.
func AppendCompact(b []byte, v uint64) []byte {
	switch {
	case v <= maxSingleByte:
		return append(b, byte(v)<<2)
	case v <= maxTwoByte:
		return binary.LittleEndian.AppendUint16(b, uint16(v)<<2|0b01)
	case v <= maxFourByte:
		return binary.LittleEndian.AppendUint32(b, uint32(v)<<2|0b10)
	}
	n := 8
	for n > 4 && byte(v>>(8*(n-1))) == 0 {
		n--
	}
	b = append(b, byte(n-4)<<2|0b11)
	for i := 0; i < n; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// ErrNegative is returned when a negative big integer is given for an unsigned encoding.
var ErrNegative = errors.New("scale: negative value for an unsigned integer")

// ErrTooLarge is returned when a value does not fit the requested encoding.
var ErrTooLarge = errors.New("scale: value too large")

// AppendCompactBig appends a non-negative big integer as a compact integer. Values up to
// 2^536-1 (67 bytes) can be encoded.
func AppendCompactBig(b []byte, v *big.Int) ([]byte, error) {
	if v.Sign() < 0 {
		return b, ErrNegative
	}
	if v.IsUint64() {
		return AppendCompact(b, v.Uint64()), nil
	}
	be := v.Bytes() // big-endian, no leading zeros, len > 8
	if len(be) > 67 {
		return b, ErrTooLarge
	}
	b = append(b, byte(len(be)-4)<<2|0b11)
	for i := len(be) - 1; i >= 0; i-- {
		b = append(b, be[i])
	}
	return b, nil
}

// AppendBytes appends p as Vec<u8>: a compact length then the bytes.
func AppendBytes(b []byte, p []byte) []byte {
	b = AppendCompact(b, uint64(len(p)))
	return append(b, p...)
}

// AppendString appends s as a SCALE string (the same encoding as Vec<u8> of its UTF-8 bytes).
func AppendString(b []byte, s string) []byte {
	b = AppendCompact(b, uint64(len(s)))
	return append(b, s...)
}

// AppendSeq appends a vector: a compact length, then each element encoded by enc.
func AppendSeq[T any](b []byte, items []T, enc func([]byte, T) []byte) []byte {
	b = AppendCompact(b, uint64(len(items)))
	for _, it := range items {
		b = enc(b, it)
	}
	return b
}

// AppendOption appends Option<T>: 0x00 for None (v == nil), else 0x01 then enc(*v).
func AppendOption[T any](b []byte, v *T, enc func([]byte, T) []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	return enc(append(b, 1), *v)
}

// AppendAccountID appends the 32 bytes of an account id.
func AppendAccountID(b []byte, a AccountID) []byte { return append(b, a[:]...) }

// AppendU16Seq appends a Vec<u16>.
func AppendU16Seq(b []byte, v []uint16) []byte { return AppendSeq(b, v, AppendU16) }
