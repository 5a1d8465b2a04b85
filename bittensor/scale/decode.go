package scale

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// ErrTruncated is returned (wrapped) when the input ends before a value is complete.
var ErrTruncated = errors.New("scale: input truncated")

// ErrInvalid is returned (wrapped) for malformed input: a bool other than 0/1, an option
// tag other than 0/1, a non-canonical compact, a length larger than the input can hold.
var ErrInvalid = errors.New("scale: invalid encoding")

// MaxZeroSizedLen bounds the length of vectors whose elements take no bytes (such as
// Vec<()>), whose length cannot be checked against the remaining input.
const MaxZeroSizedLen = 1 << 16

// Decoder reads SCALE values from a byte slice. It never reads past the slice, and every
// method returns an error (wrapping ErrTruncated or ErrInvalid) instead of panicking.
// Byte slices returned by Decoder alias the input unless documented otherwise.
type Decoder struct {
	buf []byte
	off int
}

// NewDecoder returns a Decoder reading b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Offset returns the number of bytes read so far.
func (d *Decoder) Offset() int { return d.off }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.off:] }

// Done returns an error if unread bytes remain.
func (d *Decoder) Done() error {
	if r := d.Remaining(); r != 0 {
		return fmt.Errorf("%w: %d trailing bytes at offset %d", ErrInvalid, r, d.off)
	}
	return nil
}

func (d *Decoder) truncated(n int) error {
	return fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrTruncated, n, d.off, d.Remaining())
}

func (d *Decoder) invalid(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrInvalid, d.off, fmt.Sprintf(format, args...))
}

// Fixed consumes n bytes and returns them (aliasing the input).
func (d *Decoder) Fixed(n int) ([]byte, error) {
	if n < 0 || n > d.Remaining() {
		return nil, d.truncated(n)
	}
	p := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return p, nil
}

// Skip consumes n bytes.
func (d *Decoder) Skip(n int) error {
	_, err := d.Fixed(n)
	return err
}

// U8 decodes a u8.
func (d *Decoder) U8() (uint8, error) {
	if d.Remaining() < 1 {
		return 0, d.truncated(1)
	}
	v := d.buf[d.off]
	d.off++
	return v, nil
}

// U16 decodes a little-endian u16.
func (d *Decoder) U16() (uint16, error) {
	p, err := d.Fixed(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(p), nil
}

// U32 decodes a little-endian u32.
func (d *Decoder) U32() (uint32, error) {
	p, err := d.Fixed(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(p), nil
}

// U64 decodes a little-endian u64.
func (d *Decoder) U64() (uint64, error) {
	p, err := d.Fixed(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(p), nil
}

// U128 decodes a little-endian u128.
func (d *Decoder) U128() (Uint128, error) {
	p, err := d.Fixed(16)
	if err != nil {
		return Uint128{}, err
	}
	return Uint128{Lo: binary.LittleEndian.Uint64(p), Hi: binary.LittleEndian.Uint64(p[8:])}, nil
}

// Bool decodes a bool; any byte other than 0 or 1 is an error.
func (d *Decoder) Bool() (bool, error) {
	v, err := d.U8()
	if err != nil {
		return false, err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	d.off--
	return false, d.invalid("bool byte 0x%02x", v)
}

// Option decodes an Option tag: false for None (0x00), true for Some (0x01).
func (d *Decoder) Option() (bool, error) {
	v, err := d.U8()
	if err != nil {
		return false, err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	d.off--
	return false, d.invalid("option tag 0x%02x", v)
}

// AccountID decodes a 32-byte account id.
func (d *Decoder) AccountID() (AccountID, error) {
	var a AccountID
	p, err := d.Fixed(32)
	if err != nil {
		return a, err
	}
	copy(a[:], p)
	return a, nil
}

// compactHeader reads the compact prefix. For the big-integer mode it returns the number
// of value bytes that follow (4..67) and big = true; otherwise the value itself.
func (d *Decoder) compactHeader() (v uint64, nBig int, err error) {
	start := d.off
	b0, err := d.U8()
	if err != nil {
		return 0, 0, err
	}
	switch b0 & 0b11 {
	case 0b00:
		return uint64(b0 >> 2), 0, nil
	case 0b01:
		b1, err := d.U8()
		if err != nil {
			d.off = start
			return 0, 0, err
		}
		v := uint64(b0)>>2 | uint64(b1)<<6
		if v <= maxSingleByte {
			d.off = start
			return 0, 0, d.invalid("non-canonical compact %d in two bytes", v)
		}
		return v, 0, nil
	case 0b10:
		rest, err := d.Fixed(3)
		if err != nil {
			d.off = start
			return 0, 0, err
		}
		v := uint64(b0)>>2 | uint64(rest[0])<<6 | uint64(rest[1])<<14 | uint64(rest[2])<<22
		if v <= maxTwoByte {
			d.off = start
			return 0, 0, d.invalid("non-canonical compact %d in four bytes", v)
		}
		return v, 0, nil
	}
	return 0, int(b0>>2) + 4, nil
}

// Compact decodes a compact integer that must fit in 64 bits.
func (d *Decoder) Compact() (uint64, error) {
	start := d.off
	v, n, err := d.compactHeader()
	if err != nil || n == 0 {
		return v, err
	}
	if n > 8 {
		d.off = start
		return 0, d.invalid("compact of %d bytes does not fit in u64", n)
	}
	p, err := d.Fixed(n)
	if err != nil {
		d.off = start
		return 0, err
	}
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	if p[n-1] == 0 || v <= maxFourByte {
		d.off = start
		return 0, d.invalid("non-canonical compact %d in %d bytes", v, n)
	}
	return v, nil
}

// CompactBig decodes a compact integer of any size (up to 67 bytes).
func (d *Decoder) CompactBig() (*big.Int, error) {
	start := d.off
	v, n, err := d.compactHeader()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return new(big.Int).SetUint64(v), nil
	}
	p, err := d.Fixed(n)
	if err != nil {
		d.off = start
		return nil, err
	}
	be := make([]byte, n)
	for i := range p {
		be[n-1-i] = p[i]
	}
	x := new(big.Int).SetBytes(be)
	if p[n-1] == 0 || (x.IsUint64() && x.Uint64() <= maxFourByte) {
		d.off = start
		return nil, d.invalid("non-canonical compact in %d bytes", n)
	}
	return x, nil
}

// CompactMax decodes a compact integer and checks it against max (the largest value of
// the integer type it stands for, e.g. math.MaxUint16 for Compact<u16>).
func (d *Decoder) CompactMax(max uint64) (uint64, error) {
	start := d.off
	v, err := d.Compact()
	if err != nil {
		return 0, err
	}
	if v > max {
		d.off = start
		return 0, d.invalid("compact %d exceeds %d", v, max)
	}
	return v, nil
}

// Len decodes a compact length prefix of a sequence whose elements take at least
// minElemSize bytes each, and checks that the remaining input can hold that many. For
// zero-sized elements (minElemSize 0) the length is limited to MaxZeroSizedLen.
func (d *Decoder) Len(minElemSize int) (int, error) {
	start := d.off
	n, err := d.Compact()
	if err != nil {
		return 0, err
	}
	rem := uint64(d.Remaining())
	if minElemSize <= 0 {
		if n > MaxZeroSizedLen {
			d.off = start
			return 0, d.invalid("length %d of zero-sized elements exceeds %d", n, MaxZeroSizedLen)
		}
		return int(n), nil
	}
	if n > rem/uint64(minElemSize) {
		d.off = start
		return 0, d.invalid("length %d × %d bytes exceeds the %d bytes left", n, minElemSize, rem)
	}
	return int(n), nil
}

// Bytes decodes a Vec<u8> and returns its bytes (aliasing the input).
func (d *Decoder) Bytes() ([]byte, error) {
	start := d.off
	n, err := d.Len(1)
	if err != nil {
		return nil, err
	}
	p, err := d.Fixed(n)
	if err != nil {
		d.off = start
	}
	return p, err
}

// String decodes a SCALE string. Invalid UTF-8 is kept as is.
func (d *Decoder) String() (string, error) {
	p, err := d.Bytes()
	return string(p), err
}

// Seq decodes a vector whose elements take at least minElemSize bytes, using dec for each
// element.
func Seq[T any](d *Decoder, minElemSize int, dec func(*Decoder) (T, error)) ([]T, error) {
	n, err := d.Len(minElemSize)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, n)
	for i := 0; i < n; i++ {
		v, err := dec(d)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Optional decodes Option<T> with dec; it returns nil for None.
func Optional[T any](d *Decoder, dec func(*Decoder) (T, error)) (*T, error) {
	some, err := d.Option()
	if err != nil || !some {
		return nil, err
	}
	v, err := dec(d)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// (*Decoder).U16 etc. as plain functions, for use with Seq and Optional.

// DecodeU8 is (*Decoder).U8 as a function.
func DecodeU8(d *Decoder) (uint8, error) { return d.U8() }

// DecodeU16 is (*Decoder).U16 as a function.
func DecodeU16(d *Decoder) (uint16, error) { return d.U16() }

// DecodeU32 is (*Decoder).U32 as a function.
func DecodeU32(d *Decoder) (uint32, error) { return d.U32() }

// DecodeU64 is (*Decoder).U64 as a function.
func DecodeU64(d *Decoder) (uint64, error) { return d.U64() }

// DecodeCompact is (*Decoder).Compact as a function.
func DecodeCompact(d *Decoder) (uint64, error) { return d.Compact() }

// DecodeString is (*Decoder).String as a function.
func DecodeString(d *Decoder) (string, error) { return d.String() }

// DecodeAccountID is (*Decoder).AccountID as a function.
func DecodeAccountID(d *Decoder) (AccountID, error) { return d.AccountID() }
