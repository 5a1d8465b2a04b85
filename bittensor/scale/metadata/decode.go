package metadata

import (
	"errors"
	"fmt"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// Magic is the 4-byte prefix of encoded metadata ("meta").
const Magic = "meta"

// ErrUnsupportedVersion is returned for metadata versions other than 14 and 15.
var ErrUnsupportedVersion = errors.New("metadata: unsupported version")

// Metadata is decoded runtime metadata.
type Metadata struct {
	Version   uint8 // 14 or 15
	Types     []Type
	Pallets   []Pallet
	Extrinsic Extrinsic
	Runtime   TypeID       // the runtime type
	APIs      []RuntimeAPI // v15 only
	// OuterCall, OuterEvent and OuterError are the RuntimeCall, RuntimeEvent and
	// RuntimeError enums (v15 only; zero in v14).
	OuterCall, OuterEvent, OuterError TypeID

	byID     map[TypeID]int // type id → index in Types, when ids are not 0..n-1
	byPallet map[string]int
	minSize  []int // per type index: minimum encoded size, computed at decode time
}

// Decode parses metadata bytes as returned by state_getMetadata (starting with the
// "meta" magic). Opaque wrappers (a compact length prefix, or the Option<Vec<u8>> of
// Metadata_metadata_at_version) must be removed first; see Unwrap.
func Decode(b []byte) (*Metadata, error) {
	d := scale.NewDecoder(b)
	magic, err := d.Fixed(4)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("metadata: bad magic %x", magic)
	}
	ver, err := d.U8()
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if ver != 14 && ver != 15 {
		return nil, fmt.Errorf("%w %d (want 14 or 15)", ErrUnsupportedVersion, ver)
	}
	m := &Metadata{Version: ver}
	if err := m.decodeBody(d); err != nil {
		return nil, fmt.Errorf("metadata v%d: %w", ver, err)
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("metadata v%d: %w", ver, err)
	}
	if err := m.index(); err != nil {
		return nil, fmt.Errorf("metadata v%d: %w", ver, err)
	}
	return m, nil
}

// Unwrap removes the opaque wrappers runtime calls put around metadata: the
// Option<OpaqueMetadata> returned by state_call Metadata_metadata_at_version, or the
// Vec<u8> of Metadata_metadata. Bytes that already start with the magic are returned
// unchanged.
func Unwrap(b []byte) ([]byte, error) {
	if hasMagic(b) {
		return b, nil
	}
	if len(b) == 1 && b[0] == 0 {
		return nil, errors.New("metadata: runtime returned None (metadata version not available)")
	}
	if len(b) > 0 && b[0] == 1 { // Option::Some(Vec<u8>)
		d := scale.NewDecoder(b[1:])
		if inner, err := d.Bytes(); err == nil && d.Remaining() == 0 && hasMagic(inner) {
			return inner, nil
		}
	}
	d := scale.NewDecoder(b) // Vec<u8>
	if inner, err := d.Bytes(); err == nil && d.Remaining() == 0 && hasMagic(inner) {
		return inner, nil
	}
	return nil, errors.New("metadata: not metadata (no magic, bare or length-prefixed)")
}

func hasMagic(b []byte) bool { return len(b) >= 4 && string(b[:4]) == Magic }

func (m *Metadata) decodeBody(d *scale.Decoder) error {
	var err error
	if m.Types, err = decodeRegistry(d); err != nil {
		return fmt.Errorf("types: %w", err)
	}
	if m.Pallets, err = scale.Seq(d, 5, m.decodePallet); err != nil {
		return fmt.Errorf("pallets: %w", err)
	}
	if m.Version == 14 {
		if m.Extrinsic.Type, err = typeID(d); err != nil {
			return fmt.Errorf("extrinsic: %w", err)
		}
		if m.Extrinsic.Version, err = d.U8(); err != nil {
			return fmt.Errorf("extrinsic: %w", err)
		}
	} else {
		if m.Extrinsic.Version, err = d.U8(); err != nil {
			return fmt.Errorf("extrinsic: %w", err)
		}
		for _, p := range []*TypeID{&m.Extrinsic.Address, &m.Extrinsic.Call, &m.Extrinsic.Signature, &m.Extrinsic.Extra} {
			if *p, err = typeID(d); err != nil {
				return fmt.Errorf("extrinsic: %w", err)
			}
		}
	}
	if m.Extrinsic.SignedExtensions, err = scale.Seq(d, 3, decodeSignedExtension); err != nil {
		return fmt.Errorf("signed extensions: %w", err)
	}
	if m.Runtime, err = typeID(d); err != nil {
		return fmt.Errorf("runtime type: %w", err)
	}
	if m.Version == 14 {
		return nil
	}
	if m.APIs, err = scale.Seq(d, 3, decodeRuntimeAPI); err != nil {
		return fmt.Errorf("runtime apis: %w", err)
	}
	for _, p := range []*TypeID{&m.OuterCall, &m.OuterEvent, &m.OuterError} {
		if *p, err = typeID(d); err != nil {
			return fmt.Errorf("outer enums: %w", err)
		}
	}
	// Custom metadata: BTreeMap<String, {ty, value: Vec<u8>}>; read and dropped.
	n, err := d.Len(3)
	if err != nil {
		return fmt.Errorf("custom: %w", err)
	}
	for i := 0; i < n; i++ {
		if _, err := d.String(); err != nil {
			return fmt.Errorf("custom: %w", err)
		}
		if _, err := typeID(d); err != nil {
			return fmt.Errorf("custom: %w", err)
		}
		if _, err := d.Bytes(); err != nil {
			return fmt.Errorf("custom: %w", err)
		}
	}
	return nil
}

func typeID(d *scale.Decoder) (TypeID, error) {
	v, err := d.CompactMax(1<<32 - 1)
	return TypeID(v), err
}

func stringList(d *scale.Decoder) ([]string, error) { return scale.Seq(d, 1, scale.DecodeString) }

func optString(d *scale.Decoder) (string, error) {
	p, err := scale.Optional(d, scale.DecodeString)
	if err != nil || p == nil {
		return "", err
	}
	return *p, nil
}

func optTypeID(d *scale.Decoder) (*TypeID, error) { return scale.Optional(d, typeID) }

func decodeRegistry(d *scale.Decoder) ([]Type, error) {
	// Smallest type: id(1) + path(1) + params(1) + def tag(1) + body(1) + docs(1).
	return scale.Seq(d, 6, decodeType)
}

func decodeType(d *scale.Decoder) (Type, error) {
	var t Type
	var err error
	if t.ID, err = typeID(d); err != nil {
		return t, err
	}
	if t.Path, err = stringList(d); err != nil {
		return t, fmt.Errorf("type %d path: %w", t.ID, err)
	}
	if t.Params, err = scale.Seq(d, 2, func(d *scale.Decoder) (TypeParam, error) {
		var p TypeParam
		var err error
		if p.Name, err = d.String(); err != nil {
			return p, err
		}
		p.Type, err = optTypeID(d)
		return p, err
	}); err != nil {
		return t, fmt.Errorf("type %d params: %w", t.ID, err)
	}
	tag, err := d.U8()
	if err != nil {
		return t, err
	}
	t.Kind = Kind(tag)
	switch t.Kind {
	case KindComposite:
		t.Fields, err = scale.Seq(d, 4, decodeField)
	case KindVariant:
		t.Variants, err = scale.Seq(d, 4, decodeVariant)
	case KindSequence, KindCompact:
		t.Elem, err = typeID(d)
	case KindArray:
		if t.Len, err = d.U32(); err == nil {
			t.Elem, err = typeID(d)
		}
	case KindTuple:
		t.Tuple, err = scale.Seq(d, 1, typeID)
	case KindPrimitive:
		var p uint8
		if p, err = d.U8(); err == nil {
			if p > uint8(I256) {
				err = fmt.Errorf("%w: primitive %d", scale.ErrInvalid, p)
			}
			t.Primitive = Primitive(p)
		}
	case KindBitSequence:
		if t.BitStore, err = typeID(d); err == nil {
			t.BitOrder, err = typeID(d)
		}
	default:
		return t, fmt.Errorf("type %d: %w: type definition tag %d", t.ID, scale.ErrInvalid, tag)
	}
	if err != nil {
		return t, fmt.Errorf("type %d (%s): %w", t.ID, t.Kind, err)
	}
	if t.Docs, err = stringList(d); err != nil {
		return t, fmt.Errorf("type %d docs: %w", t.ID, err)
	}
	return t, nil
}

func decodeField(d *scale.Decoder) (Field, error) {
	var f Field
	var err error
	if f.Name, err = optString(d); err != nil {
		return f, err
	}
	if f.Type, err = typeID(d); err != nil {
		return f, err
	}
	if f.TypeName, err = optString(d); err != nil {
		return f, err
	}
	f.Docs, err = stringList(d)
	return f, err
}

func decodeVariant(d *scale.Decoder) (Variant, error) {
	var v Variant
	var err error
	if v.Name, err = d.String(); err != nil {
		return v, err
	}
	if v.Fields, err = scale.Seq(d, 4, decodeField); err != nil {
		return v, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	if v.Index, err = d.U8(); err != nil {
		return v, err
	}
	v.Docs, err = stringList(d)
	return v, err
}

func (m *Metadata) decodePallet(d *scale.Decoder) (Pallet, error) {
	var p Pallet
	var err error
	if p.Name, err = d.String(); err != nil {
		return p, err
	}
	hasStorage, err := d.Option()
	if err != nil {
		return p, fmt.Errorf("pallet %s: %w", p.Name, err)
	}
	if hasStorage {
		if p.StoragePrefix, err = d.String(); err != nil {
			return p, fmt.Errorf("pallet %s storage: %w", p.Name, err)
		}
		if p.Storage, err = scale.Seq(d, 6, decodeStorageEntry); err != nil {
			return p, fmt.Errorf("pallet %s storage: %w", p.Name, err)
		}
	}
	if p.Calls, err = optTypeID(d); err != nil {
		return p, fmt.Errorf("pallet %s calls: %w", p.Name, err)
	}
	if p.Events, err = optTypeID(d); err != nil {
		return p, fmt.Errorf("pallet %s events: %w", p.Name, err)
	}
	if p.Constants, err = scale.Seq(d, 4, func(d *scale.Decoder) (Constant, error) {
		var c Constant
		var err error
		if c.Name, err = d.String(); err != nil {
			return c, err
		}
		if c.Type, err = typeID(d); err != nil {
			return c, err
		}
		if c.Value, err = d.Bytes(); err != nil {
			return c, err
		}
		c.Docs, err = stringList(d)
		return c, err
	}); err != nil {
		return p, fmt.Errorf("pallet %s constants: %w", p.Name, err)
	}
	if p.Errors, err = optTypeID(d); err != nil {
		return p, fmt.Errorf("pallet %s errors: %w", p.Name, err)
	}
	if p.Index, err = d.U8(); err != nil {
		return p, fmt.Errorf("pallet %s index: %w", p.Name, err)
	}
	if m.Version >= 15 {
		if p.Docs, err = stringList(d); err != nil {
			return p, fmt.Errorf("pallet %s docs: %w", p.Name, err)
		}
	}
	return p, nil
}

func decodeStorageEntry(d *scale.Decoder) (StorageEntry, error) {
	var e StorageEntry
	var err error
	if e.Name, err = d.String(); err != nil {
		return e, err
	}
	mod, err := d.U8()
	if err != nil {
		return e, err
	}
	if mod > 1 {
		return e, fmt.Errorf("storage %s: %w: modifier %d", e.Name, scale.ErrInvalid, mod)
	}
	e.Optional = mod == 0
	kind, err := d.U8()
	if err != nil {
		return e, err
	}
	switch kind {
	case 0:
		if e.Value, err = typeID(d); err != nil {
			return e, err
		}
	case 1:
		if e.Hashers, err = scale.Seq(d, 1, func(d *scale.Decoder) (Hasher, error) {
			h, err := d.U8()
			if err == nil && h > uint8(Identity) {
				err = fmt.Errorf("%w: hasher %d", scale.ErrInvalid, h)
			}
			return Hasher(h), err
		}); err != nil {
			return e, fmt.Errorf("storage %s: %w", e.Name, err)
		}
		if len(e.Hashers) == 0 {
			return e, fmt.Errorf("storage %s: %w: map without hashers", e.Name, scale.ErrInvalid)
		}
		if e.Key, err = typeID(d); err != nil {
			return e, err
		}
		if e.Value, err = typeID(d); err != nil {
			return e, err
		}
	default:
		return e, fmt.Errorf("storage %s: %w: entry type %d", e.Name, scale.ErrInvalid, kind)
	}
	if e.Default, err = d.Bytes(); err != nil {
		return e, fmt.Errorf("storage %s default: %w", e.Name, err)
	}
	e.Docs, err = stringList(d)
	return e, err
}

func decodeSignedExtension(d *scale.Decoder) (SignedExtension, error) {
	var s SignedExtension
	var err error
	if s.Identifier, err = d.String(); err != nil {
		return s, err
	}
	if s.Type, err = typeID(d); err != nil {
		return s, err
	}
	s.AdditionalSigned, err = typeID(d)
	return s, err
}

func decodeRuntimeAPI(d *scale.Decoder) (RuntimeAPI, error) {
	var a RuntimeAPI
	var err error
	if a.Name, err = d.String(); err != nil {
		return a, err
	}
	if a.Methods, err = scale.Seq(d, 4, func(d *scale.Decoder) (RuntimeAPIMethod, error) {
		var m RuntimeAPIMethod
		var err error
		if m.Name, err = d.String(); err != nil {
			return m, err
		}
		if m.Inputs, err = scale.Seq(d, 2, func(d *scale.Decoder) (Field, error) {
			var f Field
			var err error
			if f.Name, err = d.String(); err != nil {
				return f, err
			}
			f.Type, err = typeID(d)
			return f, err
		}); err != nil {
			return m, err
		}
		if m.Output, err = typeID(d); err != nil {
			return m, err
		}
		m.Docs, err = stringList(d)
		return m, err
	}); err != nil {
		return a, fmt.Errorf("api %s: %w", a.Name, err)
	}
	a.Docs, err = stringList(d)
	return a, err
}
