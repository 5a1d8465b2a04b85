// Package metadata reads Substrate runtime metadata (versions 14 and 15, as returned by
// state_getMetadata and Metadata_metadata_at_version) and uses its portable type
// registry to encode and decode values dynamically, so that call indices, call
// arguments, storage keys and storage values come from the chain and are never
// hard-coded.
//
// Reference: frame-metadata 15.x / 16.x (RuntimeMetadataV14, RuntimeMetadataV15) and
// scale-info 2.x (PortableRegistry).
//
// Dynamic values are plain Go values:
//   - bool → bool; char → rune; str → string
//   - u8..u64 → uint64; i8..i64 → int64; u128, u256, i128, i256 → *big.Int
//   - Compact<T> → as T (uint64, or *big.Int above 64 bits)
//   - composite with named fields → map[string]any; with one unnamed field → that
//     field's value (newtypes such as AccountId32 are transparent); with several unnamed
//     fields → []any; with no fields → map[string]any{}
//   - variant (enum, including Option and Result) → Enum
//   - sequence and array of u8 → []byte; other sequences, arrays and tuples → []any
//   - bit sequence → BitSequence
//
// The encoder accepts these and, for convenience, any Go integer type, Uint128,
// scale.AccountID, [N]byte, any slice or array, nil or a bare value for Option, and a
// string naming a variant without fields.
package metadata

import "fmt"

// TypeID is an index into the portable type registry.
type TypeID uint32

// Kind is the kind of a type definition.
type Kind uint8

// Type definition kinds, numbered as in scale-info's TypeDef enum.
const (
	KindComposite Kind = iota
	KindVariant
	KindSequence
	KindArray
	KindTuple
	KindPrimitive
	KindCompact
	KindBitSequence
)

var kindNames = [...]string{"composite", "variant", "sequence", "array", "tuple", "primitive", "compact", "bitsequence"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Primitive is a primitive type, numbered as in scale-info's TypeDefPrimitive enum.
type Primitive uint8

// Primitive types.
const (
	Bool Primitive = iota
	Char
	Str
	U8
	U16
	U32
	U64
	U128
	U256
	I8
	I16
	I32
	I64
	I128
	I256
)

var primNames = [...]string{"bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "u256", "i8", "i16", "i32", "i64", "i128", "i256"}

func (p Primitive) String() string {
	if int(p) < len(primNames) {
		return primNames[p]
	}
	return fmt.Sprintf("primitive(%d)", uint8(p))
}

// size returns the encoded size of a fixed-width primitive, or 0 for str.
func (p Primitive) size() int {
	switch p {
	case Bool, U8, I8:
		return 1
	case U16, I16:
		return 2
	case Char, U32, I32:
		return 4
	case U64, I64:
		return 8
	case U128, I128:
		return 16
	case U256, I256:
		return 32
	}
	return 0
}

// Type is one entry of the portable type registry.
type Type struct {
	ID     TypeID
	Path   []string // e.g. ["pallet_subtensor", "pallet", "Call"]
	Params []TypeParam
	Docs   []string

	Kind      Kind
	Fields    []Field   // KindComposite
	Variants  []Variant // KindVariant
	Elem      TypeID    // KindSequence, KindArray, KindCompact
	Len       uint32    // KindArray
	Tuple     []TypeID  // KindTuple
	Primitive Primitive // KindPrimitive
	BitStore  TypeID    // KindBitSequence
	BitOrder  TypeID    // KindBitSequence
}

// TypeParam is a generic parameter of a type; Type is nil when it is not used.
type TypeParam struct {
	Name string
	Type *TypeID
}

// Field is a field of a composite type or of an enum variant. Name is empty for tuple-like fields.
type Field struct {
	Name     string
	Type     TypeID
	TypeName string
	Docs     []string
}

// Variant is a variant of an enum type.
type Variant struct {
	Name   string
	Fields []Field
	Index  uint8
	Docs   []string
}

// PathString returns the type path joined with "::".
func (t *Type) PathString() string {
	s := ""
	for i, p := range t.Path {
		if i > 0 {
			s += "::"
		}
		s += p
	}
	return s
}

// VariantByName returns the variant called name.
func (t *Type) VariantByName(name string) (*Variant, bool) {
	for i := range t.Variants {
		if t.Variants[i].Name == name {
			return &t.Variants[i], true
		}
	}
	return nil, false
}

// VariantByIndex returns the variant with the given index.
func (t *Type) VariantByIndex(idx uint8) (*Variant, bool) {
	for i := range t.Variants {
		if t.Variants[i].Index == idx {
			return &t.Variants[i], true
		}
	}
	return nil, false
}

// Hasher is a storage key hasher, numbered as in frame-metadata's StorageHasher.
type Hasher uint8

// Storage hashers.
const (
	Blake2_128 Hasher = iota
	Blake2_256
	Blake2_128Concat
	Twox128
	Twox256
	Twox64Concat
	Identity
)

var hasherNames = [...]string{"Blake2_128", "Blake2_256", "Blake2_128Concat", "Twox128", "Twox256", "Twox64Concat", "Identity"}

func (h Hasher) String() string {
	if int(h) < len(hasherNames) {
		return hasherNames[h]
	}
	return fmt.Sprintf("hasher(%d)", uint8(h))
}

// StorageEntry describes one storage item of a pallet.
type StorageEntry struct {
	Name     string
	Optional bool     // modifier Optional: an absent value reads as None (nil)
	Hashers  []Hasher // empty for a plain value
	Key      TypeID   // map key type (a tuple of len(Hashers) types when len > 1); unused when plain
	Value    TypeID
	Default  []byte // SCALE encoding of the value an absent Default entry reads as
	Docs     []string
}

// IsMap reports whether the entry is a map (has keys).
func (e *StorageEntry) IsMap() bool { return len(e.Hashers) > 0 }

// Constant is a pallet constant with its SCALE-encoded value.
type Constant struct {
	Name  string
	Type  TypeID
	Value []byte
	Docs  []string
}

// Pallet describes one pallet of the runtime.
type Pallet struct {
	Name          string
	Index         uint8
	StoragePrefix string
	Storage       []StorageEntry
	Calls         *TypeID // enum of the pallet's calls
	Events        *TypeID
	Errors        *TypeID
	Constants     []Constant
	Docs          []string // v15 only
}

// SignedExtension is one transaction extension of the extrinsic format: Type is the type
// of the "extra" bytes carried in the extrinsic, AdditionalSigned the type of the bytes
// only included in the signing payload.
type SignedExtension struct {
	Identifier       string
	Type             TypeID
	AdditionalSigned TypeID
}

// Extrinsic describes the extrinsic format.
type Extrinsic struct {
	Version          uint8
	Type             TypeID // v14: the UncheckedExtrinsic type; v15: 0
	Address          TypeID // v15 only
	Call             TypeID // v15 only
	Signature        TypeID // v15 only
	Extra            TypeID // v15 only
	SignedExtensions []SignedExtension
}

// RuntimeAPI is a runtime API trait (v15 only).
type RuntimeAPI struct {
	Name    string
	Methods []RuntimeAPIMethod
	Docs    []string
}

// RuntimeAPIMethod is a runtime API method (v15 only); it is called with state_call
// "<Api>_<method>".
type RuntimeAPIMethod struct {
	Name   string
	Inputs []Field // Name and Type only
	Output TypeID
	Docs   []string
}
