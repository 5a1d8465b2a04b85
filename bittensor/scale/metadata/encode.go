package metadata

import (
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// EncodeValue appends the encoding of v as a value of type id (see the package
// documentation for the accepted Go values).
func (m *Metadata) EncodeValue(b []byte, id TypeID, v any) ([]byte, error) {
	return m.encode(b, id, v, 0)
}

// EncodeCall encodes pallet.call with its arguments taken from args by argument name
// (the names in the metadata, e.g. "netuid", "hotkey"): the call index followed by each
// argument in declaration order. Missing or unknown arguments are errors.
func (m *Metadata) EncodeCall(pallet, call string, args map[string]any) ([]byte, error) {
	p, v, err := m.Call(pallet, call)
	if err != nil {
		return nil, err
	}
	b := []byte{p.Index, v.Index}
	used := 0
	for i, f := range v.Fields {
		name := f.Name
		if name == "" {
			name = fmt.Sprint(i)
		}
		a, ok := args[name]
		if !ok {
			return nil, fmt.Errorf("call %s.%s: missing argument %q (want %s)", pallet, call, name, argList(v))
		}
		used++
		if b, err = m.encode(b, f.Type, a, 0); err != nil {
			return nil, fmt.Errorf("call %s.%s argument %s: %w", pallet, call, name, err)
		}
	}
	if used != len(args) {
		return nil, fmt.Errorf("call %s.%s: unknown arguments (want %s)", pallet, call, argList(v))
	}
	return b, nil
}

func argList(v *Variant) string {
	var s []string
	for _, f := range v.Fields {
		s = append(s, f.Name+": "+f.TypeName)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func (m *Metadata) encode(b []byte, id TypeID, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("type %d: nesting deeper than %d", id, maxDepth)
	}
	t, err := m.Type(id)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindComposite:
		b, err = m.encodeFields(b, t.Fields, v, depth)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typeName(t), err)
		}
		return b, nil
	case KindVariant:
		return m.encodeVariant(b, t, v, depth)
	case KindSequence:
		if m.isU8(t.Elem) {
			if p, ok := asBytes(v); ok {
				return scale.AppendBytes(b, p), nil
			}
		}
		items, ok := asList(v)
		if !ok {
			return nil, fmt.Errorf("sequence type %d: want a slice, got %T", id, v)
		}
		b = scale.AppendCompact(b, uint64(len(items)))
		return m.encodeList(b, t.Elem, items, depth)
	case KindArray:
		if m.isU8(t.Elem) {
			if p, ok := asBytes(v); ok {
				if len(p) != int(t.Len) {
					return nil, fmt.Errorf("array type %d: want %d bytes, got %d", id, t.Len, len(p))
				}
				return append(b, p...), nil
			}
		}
		items, ok := asList(v)
		if !ok || len(items) != int(t.Len) {
			return nil, fmt.Errorf("array type %d: want %d elements, got %T", id, t.Len, v)
		}
		return m.encodeList(b, t.Elem, items, depth)
	case KindTuple:
		if len(t.Tuple) == 0 && v == nil {
			return b, nil
		}
		if len(t.Tuple) == 1 {
			if items, ok := asList(v); !ok || len(items) != 1 {
				return m.encode(b, t.Tuple[0], v, depth+1)
			}
		}
		items, ok := asList(v)
		if !ok || len(items) != len(t.Tuple) {
			return nil, fmt.Errorf("tuple type %d: want %d elements, got %T", id, len(t.Tuple), v)
		}
		for i, e := range t.Tuple {
			if b, err = m.encode(b, e, items[i], depth+1); err != nil {
				return nil, fmt.Errorf("tuple type %d element %d: %w", id, i, err)
			}
		}
		return b, nil
	case KindPrimitive:
		return encodePrimitive(b, t.Primitive, v)
	case KindCompact:
		p, err := m.compactInner(t.Elem)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return b, nil
		}
		x, err := toBig(unwrapNewtype(v))
		if err != nil {
			return nil, fmt.Errorf("compact type %d: %w", id, err)
		}
		if x.Sign() < 0 || x.BitLen() > p.size()*8 {
			return nil, fmt.Errorf("compact type %d: %v out of range for %s", id, x, p)
		}
		return scale.AppendCompactBig(b, x)
	case KindBitSequence:
		bs, ok := v.(BitSequence)
		if !ok {
			return nil, fmt.Errorf("bit sequence type %d: want BitSequence, got %T", id, v)
		}
		b = scale.AppendCompact(b, uint64(bs.Len))
		return append(b, bs.Data...), nil
	}
	return nil, fmt.Errorf("type %d: unknown kind %d", id, t.Kind)
}

func (m *Metadata) encodeList(b []byte, elem TypeID, items []any, depth int) ([]byte, error) {
	var err error
	for i, it := range items {
		if b, err = m.encode(b, elem, it, depth+1); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return b, nil
}

// encodeFields is the inverse of decodeFields.
func (m *Metadata) encodeFields(b []byte, fields []Field, v any, depth int) ([]byte, error) {
	var err error
	switch {
	case len(fields) == 0:
		return b, nil
	case fields[0].Name == "" && len(fields) == 1:
		return m.encode(b, fields[0].Type, v, depth+1)
	case fields[0].Name == "":
		items, ok := asList(v)
		if !ok || len(items) != len(fields) {
			return nil, fmt.Errorf("want %d unnamed fields as a slice, got %T", len(fields), v)
		}
		for i, f := range fields {
			if b, err = m.encode(b, f.Type, items[i], depth+1); err != nil {
				return nil, fmt.Errorf("field %d: %w", i, err)
			}
		}
		return b, nil
	}
	mp, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want map[string]any with fields %s, got %T", fieldNames(fields), v)
	}
	if len(mp) != len(fields) {
		return nil, fmt.Errorf("want fields %s, got %d entries", fieldNames(fields), len(mp))
	}
	for _, f := range fields {
		fv, ok := mp[f.Name]
		if !ok {
			return nil, fmt.Errorf("missing field %s (want %s)", f.Name, fieldNames(fields))
		}
		if b, err = m.encode(b, f.Type, fv, depth+1); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	return b, nil
}

func fieldNames(fields []Field) string {
	var s []string
	for _, f := range fields {
		s = append(s, f.Name)
	}
	sort.Strings(s)
	return "{" + strings.Join(s, ", ") + "}"
}

func (m *Metadata) encodeVariant(b []byte, t *Type, v any, depth int) ([]byte, error) {
	var e Enum
	switch x := v.(type) {
	case Enum:
		e = x
	case *Enum:
		e = *x
	case string:
		e = Enum{Variant: x}
	default:
		if isOption(t) {
			if v == nil {
				e = Enum{Variant: "None"}
			} else {
				e = Enum{Variant: "Some", Value: v}
			}
		} else {
			return nil, fmt.Errorf("%s: want Enum, got %T", typeName(t), v)
		}
	}
	if isOption(t) && e.Variant == "" && v == nil {
		e.Variant = "None"
	}
	va, ok := t.VariantByName(e.Variant)
	if !ok {
		return nil, fmt.Errorf("%s: no variant %q", typeName(t), e.Variant)
	}
	b = append(b, va.Index)
	b, err := m.encodeFields(b, va.Fields, e.Value, depth)
	if err != nil {
		return nil, fmt.Errorf("%s::%s: %w", typeName(t), va.Name, err)
	}
	return b, nil
}

func isOption(t *Type) bool {
	return len(t.Path) == 1 && t.Path[0] == "Option" && len(t.Variants) == 2
}

// asBytes accepts []byte, [N]byte arrays (including scale.AccountID) and pointers to them.
func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case scale.AccountID:
		return x[:], true
	case *scale.AccountID:
		if x != nil {
			return x[:], true
		}
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		p := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(p), rv)
		return p, true
	}
	return nil, false
}

// asList accepts []any and any other slice or array, converting elements to any.
func asList(v any) ([]any, bool) {
	if x, ok := v.([]any); ok {
		return x, true
	}
	if v == nil {
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// unwrapNewtype accepts a single-entry map or slice for compact newtypes.
func unwrapNewtype(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for _, e := range x {
				return e
			}
		}
	case []any:
		if len(x) == 1 {
			return x[0]
		}
	}
	return v
}

// toBig converts any Go integer, *big.Int or scale.Uint128 to a big integer.
func toBig(v any) (*big.Int, error) {
	switch x := v.(type) {
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("nil *big.Int")
		}
		return x, nil
	case big.Int:
		return &x, nil
	case scale.Uint128:
		return x.Big(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return big.NewInt(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return new(big.Int).SetUint64(rv.Uint()), nil
	}
	return nil, fmt.Errorf("want an integer, got %T", v)
}

var one = big.NewInt(1)

func encodePrimitive(b []byte, p Primitive, v any) ([]byte, error) {
	switch p {
	case Bool:
		x, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("bool: got %T", v)
		}
		return scale.AppendBool(b, x), nil
	case Str:
		switch x := v.(type) {
		case string:
			return scale.AppendString(b, x), nil
		case []byte:
			return scale.AppendBytes(b, x), nil
		}
		return nil, fmt.Errorf("str: got %T", v)
	case Char:
		x, err := toBig(v)
		if err != nil || !x.IsUint64() || x.Uint64() > 0x10FFFF {
			return nil, fmt.Errorf("char: got %v", v)
		}
		return scale.AppendU32(b, uint32(x.Uint64())), nil
	}
	x, err := toBig(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	n := p.size()
	signed := p >= I8
	lo, hi := new(big.Int), new(big.Int).Lsh(one, uint(8*n)) // unsigned range [0, 2^bits)
	if signed {
		lo.Neg(new(big.Int).Lsh(one, uint(8*n-1)))
		hi.Lsh(one, uint(8*n-1))
	}
	if x.Cmp(lo) < 0 || x.Cmp(hi) >= 0 {
		return nil, fmt.Errorf("%s: %v out of range", p, x)
	}
	u := x
	if x.Sign() < 0 {
		u = new(big.Int).Add(x, new(big.Int).Lsh(one, uint(8*n))) // two's complement
	}
	be := u.FillBytes(make([]byte, n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, be[i])
	}
	return b, nil
}
