package subtensor

import (
	"encoding/binary"
	"math/bits"
)

// Era is a transaction's validity window (sp_runtime::generic::Era). The zero value is
// immortal.
type Era struct {
	Period uint64 // power of two in [4, 65536]; 0 = immortal
	Phase  uint64 // birth block modulo Period
}

// MortalEra returns the era of period (rounded up to a power of two and clamped to
// [4, 65536]) starting at block current, as sp_runtime's Era::mortal computes it:
// phase = current % period, quantised to max(period >> 12, 1).
func MortalEra(period, current uint64) Era {
	p := uint64(1) << bits.Len64(max(period, 1)-1)
	p = min(max(p, 4), 1<<16)
	quant := max(p>>12, 1)
	return Era{Period: p, Phase: current % p / quant * quant}
}

// Immortal reports whether the era never expires.
func (e Era) Immortal() bool { return e.Period == 0 }

// Encode returns the SCALE form: 0x00 for immortal, else the 2-byte little-endian
// min(15, max(1, trailing_zeros(period) - 1)) | (phase / quant) << 4.
func (e Era) Encode() []byte {
	if e.Immortal() {
		return []byte{0}
	}
	quant := max(e.Period>>12, 1)
	low := min(15, max(1, bits.TrailingZeros64(e.Period)-1))
	v := uint16(low) | uint16(e.Phase/quant)<<4
	return binary.LittleEndian.AppendUint16(nil, v)
}

// Birth returns the first block of the era that contains block current (the block
// whose hash the signature commits to); 0 for immortal eras.
func (e Era) Birth(current uint64) uint64 {
	if e.Immortal() {
		return 0
	}
	return (max(current, e.Phase)-e.Phase)/e.Period*e.Period + e.Phase
}
