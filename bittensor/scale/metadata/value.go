package metadata

import (
	"fmt"
	"math"
	"math/big"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// maxDepth bounds the nesting of dynamically decoded or encoded values (and of type
// walks), so hostile metadata with self-referencing types cannot recurse forever.
const maxDepth = 64

// Enum is a dynamically decoded variant value. Value holds the variant's fields by the
// composite rules (map[string]any for named fields, the value itself for one unnamed
// field, []any for several, nil for none).
type Enum struct {
	Variant string
	Index   uint8
	Value   any
}

// BitSequence is a dynamically decoded BitVec: Len bits stored in Data as encoded (the
// store type and bit order of the type apply).
type BitSequence struct {
	Len  int
	Data []byte
}

// DecodeValue decodes all of b as a value of type id. Trailing bytes are an error.
func (m *Metadata) DecodeValue(id TypeID, b []byte) (any, error) {
	d := scale.NewDecoder(b)
	v, err := m.Decode(d, id)
	if err != nil {
		return nil, err
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("type %d: %w", id, err)
	}
	return v, nil
}

// Decode decodes one value of type id from d.
//
// The number of values it creates is bounded by the input size (see valueBudget), so
// hostile input such as long vectors of zero-sized elements cannot make it allocate
// without bound.
func (m *Metadata) Decode(d *scale.Decoder, id TypeID) (any, error) {
	vd := &valueDecoder{Decoder: d, budget: valueBudget(d.Remaining())}
	return m.decode(vd, id, 0)
}

// valueBudget is the number of values (elements, fields) a decode of n bytes may create:
// well above what real data needs (about one value per byte), far below what zero-sized
// elements would otherwise allow.
func valueBudget(n int) int { return 4*n + 4096 }

// valueDecoder is a scale.Decoder with the remaining value budget of one Decode.
type valueDecoder struct {
	*scale.Decoder
	budget int
}

// spend takes n values from the budget.
func (d *valueDecoder) spend(n int) error {
	d.budget -= n
	if d.budget < 0 {
		return fmt.Errorf("%w at offset %d: too many values for %d bytes of input", scale.ErrInvalid, d.Offset(), d.Offset()+d.Remaining())
	}
	return nil
}

func (m *Metadata) decode(d *valueDecoder, id TypeID, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("type %d: nesting deeper than %d", id, maxDepth)
	}
	t, err := m.Type(id)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindComposite:
		v, err := m.decodeFields(d, t.Fields, depth)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typeName(t), err)
		}
		if v == nil {
			return map[string]any{}, nil
		}
		return v, nil
	case KindVariant:
		start := d.Offset()
		idx, err := d.U8()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typeName(t), err)
		}
		va, ok := t.VariantByIndex(idx)
		if !ok {
			return nil, fmt.Errorf("%s: %w at offset %d: no variant %d", typeName(t), scale.ErrInvalid, start, idx)
		}
		v, err := m.decodeFields(d, va.Fields, depth)
		if err != nil {
			return nil, fmt.Errorf("%s::%s: %w", typeName(t), va.Name, err)
		}
		return Enum{Variant: va.Name, Index: idx, Value: v}, nil
	case KindSequence:
		if m.isU8(t.Elem) {
			p, err := d.Bytes()
			if err != nil {
				return nil, err
			}
			return append([]byte(nil), p...), nil
		}
		n, err := d.Len(m.MinSize(t.Elem))
		if err != nil {
			return nil, fmt.Errorf("sequence type %d: %w", id, err)
		}
		return m.decodeList(d, t.Elem, n, depth)
	case KindArray:
		if m.isU8(t.Elem) {
			p, err := d.Fixed(int(min(t.Len, math.MaxInt32)))
			if err != nil {
				return nil, err
			}
			return append([]byte(nil), p...), nil
		}
		es := m.MinSize(t.Elem)
		if (es == 0 && t.Len > scale.MaxZeroSizedLen) || (es > 0 && uint64(t.Len) > uint64(d.Remaining())/uint64(es)) {
			return nil, fmt.Errorf("array type %d: %w: %d elements do not fit in %d bytes", id, scale.ErrTruncated, t.Len, d.Remaining())
		}
		return m.decodeList(d, t.Elem, int(t.Len), depth)
	case KindTuple:
		if err := d.spend(len(t.Tuple)); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(t.Tuple))
		for i, e := range t.Tuple {
			v, err := m.decode(d, e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("tuple type %d element %d: %w", id, i, err)
			}
			out = append(out, v)
		}
		return out, nil
	case KindPrimitive:
		return decodePrimitive(d.Decoder, t.Primitive)
	case KindCompact:
		return m.decodeCompact(d, t.Elem, depth)
	case KindBitSequence:
		return m.decodeBits(d, t)
	}
	return nil, fmt.Errorf("type %d: unknown kind %d", id, t.Kind)
}

func typeName(t *Type) string {
	if len(t.Path) > 0 {
		return t.PathString()
	}
	return fmt.Sprintf("type %d", t.ID)
}

func (m *Metadata) decodeList(d *valueDecoder, elem TypeID, n int, depth int) ([]any, error) {
	if err := d.spend(n); err != nil {
		return nil, err
	}
	out := make([]any, 0, n)
	for i := 0; i < n; i++ {
		v, err := m.decode(d, elem, depth+1)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeFields applies the composite rules; it returns nil for no fields.
func (m *Metadata) decodeFields(d *valueDecoder, fields []Field, depth int) (any, error) {
	if err := d.spend(len(fields)); err != nil {
		return nil, err
	}
	switch {
	case len(fields) == 0:
		return nil, nil
	case fields[0].Name == "" && len(fields) == 1:
		return m.decode(d, fields[0].Type, depth+1)
	case fields[0].Name == "":
		out := make([]any, 0, len(fields))
		for i, f := range fields {
			v, err := m.decode(d, f.Type, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", i, err)
			}
			out = append(out, v)
		}
		return out, nil
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		v, err := m.decode(d, f.Type, depth+1)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		out[f.Name] = v
	}
	return out, nil
}

func (m *Metadata) isU8(id TypeID) bool {
	t, err := m.Type(id)
	return err == nil && t.Kind == KindPrimitive && t.Primitive == U8
}

// compactInner resolves the integer primitive behind Compact<T>, looking through
// single-field composites (Compact<Perbill> and similar newtypes).
func (m *Metadata) compactInner(id TypeID) (Primitive, error) {
	for depth := 0; depth <= maxDepth; depth++ {
		t, err := m.Type(id)
		if err != nil {
			return 0, err
		}
		switch {
		case t.Kind == KindPrimitive && t.Primitive >= U8 && t.Primitive <= U256:
			return t.Primitive, nil
		case t.Kind == KindComposite && len(t.Fields) == 1:
			id = t.Fields[0].Type
		case t.Kind == KindComposite && len(t.Fields) == 0, t.Kind == KindTuple && len(t.Tuple) == 0:
			return 0, nil // Compact<()>: encodes nothing
		default:
			return 0, fmt.Errorf("compact of %s type %d", t.Kind, t.ID)
		}
	}
	return 0, fmt.Errorf("compact of type %d: nesting deeper than %d", id, maxDepth)
}

var primMax = map[Primitive]uint64{U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64}

func (m *Metadata) decodeCompact(d *valueDecoder, elem TypeID, depth int) (any, error) {
	p, err := m.compactInner(elem)
	if err != nil {
		return nil, err
	}
	if p == 0 {
		return map[string]any{}, nil
	}
	if max, ok := primMax[p]; ok {
		return d.CompactMax(max)
	}
	start := d.Offset()
	v, err := d.CompactBig()
	if err != nil {
		return nil, err
	}
	if v.BitLen() > p.size()*8 {
		return nil, fmt.Errorf("%w at offset %d: compact exceeds %s", scale.ErrInvalid, start, p)
	}
	if v.IsUint64() {
		return v.Uint64(), nil
	}
	return v, nil
}

func decodePrimitive(d *scale.Decoder, p Primitive) (any, error) {
	switch p {
	case Bool:
		return d.Bool()
	case Char:
		v, err := d.U32()
		if err != nil {
			return nil, err
		}
		if v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) {
			return nil, fmt.Errorf("%w: char %#x", scale.ErrInvalid, v)
		}
		return rune(v), nil
	case Str:
		return d.String()
	case U8:
		v, err := d.U8()
		return uint64(v), err
	case U16:
		v, err := d.U16()
		return uint64(v), err
	case U32:
		v, err := d.U32()
		return uint64(v), err
	case U64:
		return d.U64()
	case I8:
		v, err := d.U8()
		return int64(int8(v)), err
	case I16:
		v, err := d.U16()
		return int64(int16(v)), err
	case I32:
		v, err := d.U32()
		return int64(int32(v)), err
	case I64:
		v, err := d.U64()
		return int64(v), err
	case U128, U256, I128, I256:
		n := p.size()
		le, err := d.Fixed(n)
		if err != nil {
			return nil, err
		}
		be := make([]byte, n)
		for i := range le {
			be[n-1-i] = le[i]
		}
		v := new(big.Int).SetBytes(be)
		if (p == I128 || p == I256) && be[0]&0x80 != 0 {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown primitive %d", p)
}

func (m *Metadata) decodeBits(d *valueDecoder, t *Type) (any, error) {
	store, err := m.Type(t.BitStore)
	if err != nil {
		return nil, err
	}
	if store.Kind != KindPrimitive || store.Primitive < U8 || store.Primitive > U64 {
		return nil, fmt.Errorf("bit sequence type %d: unsupported store type %d", t.ID, t.BitStore)
	}
	bits, err := d.Compact()
	if err != nil {
		return nil, err
	}
	w := uint64(store.Primitive.size()) * 8
	words := (bits + w - 1) / w
	if words > uint64(d.Remaining())/(w/8) {
		return nil, fmt.Errorf("bit sequence type %d: %w: %d bits", t.ID, scale.ErrTruncated, bits)
	}
	p, err := d.Fixed(int(words * (w / 8)))
	if err != nil {
		return nil, err
	}
	return BitSequence{Len: int(bits), Data: append([]byte(nil), p...)}, nil
}
