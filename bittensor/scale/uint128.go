package scale

import (
	"fmt"
	"math/big"
)

// Uint128 is an unsigned 128-bit integer, as used by u128 fields (subtensor's AxonInfo.ip).
type Uint128 struct {
	Lo, Hi uint64
}

// U128From64 returns v as a Uint128.
func U128From64(v uint64) Uint128 { return Uint128{Lo: v} }

// U128FromBig converts a big integer in [0, 2^128) to a Uint128.
func U128FromBig(v *big.Int) (Uint128, error) {
	if v.Sign() < 0 {
		return Uint128{}, ErrNegative
	}
	if v.BitLen() > 128 {
		return Uint128{}, fmt.Errorf("%w: %d bits for u128", ErrTooLarge, v.BitLen())
	}
	lo := new(big.Int).And(v, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(v, 64)
	return Uint128{Lo: lo.Uint64(), Hi: hi.Uint64()}, nil
}

// Big returns the value as a new big integer.
func (u Uint128) Big() *big.Int {
	v := new(big.Int).SetUint64(u.Hi)
	v.Lsh(v, 64)
	return v.Or(v, new(big.Int).SetUint64(u.Lo))
}

// IsUint64 reports whether the value fits in 64 bits.
func (u Uint128) IsUint64() bool { return u.Hi == 0 }

// String returns the decimal form.
func (u Uint128) String() string { return u.Big().String() }
