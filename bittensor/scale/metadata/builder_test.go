package metadata

import (
	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// encodeMetadata is the inverse of Decode, for tests: it writes m in the frame-metadata
// v14/v15 layout.
func encodeMetadata(m *Metadata) []byte {
	b := append([]byte(Magic), m.Version)
	id := func(b []byte, t TypeID) []byte { return scale.AppendCompact(b, uint64(t)) }
	optID := func(b []byte, t *TypeID) []byte {
		if t == nil {
			return append(b, 0)
		}
		return id(append(b, 1), *t)
	}
	strs := func(b []byte, s []string) []byte { return scale.AppendSeq(b, s, scale.AppendString) }
	optStr := func(b []byte, s string) []byte {
		if s == "" {
			return append(b, 0)
		}
		return scale.AppendString(append(b, 1), s)
	}
	fields := func(b []byte, fs []Field) []byte {
		b = scale.AppendCompact(b, uint64(len(fs)))
		for _, f := range fs {
			b = optStr(b, f.Name)
			b = id(b, f.Type)
			b = optStr(b, f.TypeName)
			b = strs(b, f.Docs)
		}
		return b
	}
	b = scale.AppendCompact(b, uint64(len(m.Types)))
	for _, t := range m.Types {
		b = id(b, t.ID)
		b = strs(b, t.Path)
		b = scale.AppendCompact(b, uint64(len(t.Params)))
		for _, p := range t.Params {
			b = scale.AppendString(b, p.Name)
			b = optID(b, p.Type)
		}
		b = append(b, byte(t.Kind))
		switch t.Kind {
		case KindComposite:
			b = fields(b, t.Fields)
		case KindVariant:
			b = scale.AppendCompact(b, uint64(len(t.Variants)))
			for _, v := range t.Variants {
				b = scale.AppendString(b, v.Name)
				b = fields(b, v.Fields)
				b = append(b, v.Index)
				b = strs(b, v.Docs)
			}
		case KindSequence, KindCompact:
			b = id(b, t.Elem)
		case KindArray:
			b = scale.AppendU32(b, t.Len)
			b = id(b, t.Elem)
		case KindTuple:
			b = scale.AppendSeq(b, t.Tuple, id)
		case KindPrimitive:
			b = append(b, byte(t.Primitive))
		case KindBitSequence:
			b = id(id(b, t.BitStore), t.BitOrder)
		}
		b = strs(b, t.Docs)
	}
	b = scale.AppendCompact(b, uint64(len(m.Pallets)))
	for _, p := range m.Pallets {
		b = scale.AppendString(b, p.Name)
		if p.StoragePrefix == "" && p.Storage == nil {
			b = append(b, 0)
		} else {
			b = scale.AppendString(append(b, 1), p.StoragePrefix)
			b = scale.AppendCompact(b, uint64(len(p.Storage)))
			for _, e := range p.Storage {
				b = scale.AppendString(b, e.Name)
				if e.Optional {
					b = append(b, 0)
				} else {
					b = append(b, 1)
				}
				if e.IsMap() {
					b = append(b, 1)
					b = scale.AppendSeq(b, e.Hashers, func(b []byte, h Hasher) []byte { return append(b, byte(h)) })
					b = id(b, e.Key)
				} else {
					b = append(b, 0)
				}
				b = id(b, e.Value)
				b = scale.AppendBytes(b, e.Default)
				b = strs(b, e.Docs)
			}
		}
		b = optID(b, p.Calls)
		b = optID(b, p.Events)
		b = scale.AppendCompact(b, uint64(len(p.Constants)))
		for _, c := range p.Constants {
			b = scale.AppendString(b, c.Name)
			b = id(b, c.Type)
			b = scale.AppendBytes(b, c.Value)
			b = strs(b, c.Docs)
		}
		b = optID(b, p.Errors)
		b = append(b, p.Index)
		if m.Version >= 15 {
			b = strs(b, p.Docs)
		}
	}
	if m.Version == 14 {
		b = id(b, m.Extrinsic.Type)
		b = append(b, m.Extrinsic.Version)
	} else {
		b = append(b, m.Extrinsic.Version)
		for _, t := range []TypeID{m.Extrinsic.Address, m.Extrinsic.Call, m.Extrinsic.Signature, m.Extrinsic.Extra} {
			b = id(b, t)
		}
	}
	b = scale.AppendCompact(b, uint64(len(m.Extrinsic.SignedExtensions)))
	for _, s := range m.Extrinsic.SignedExtensions {
		b = scale.AppendString(b, s.Identifier)
		b = id(id(b, s.Type), s.AdditionalSigned)
	}
	b = id(b, m.Runtime)
	if m.Version >= 15 {
		b = scale.AppendCompact(b, uint64(len(m.APIs)))
		for _, a := range m.APIs {
			b = scale.AppendString(b, a.Name)
			b = scale.AppendCompact(b, uint64(len(a.Methods)))
			for _, me := range a.Methods {
				b = scale.AppendString(b, me.Name)
				b = scale.AppendCompact(b, uint64(len(me.Inputs)))
				for _, in := range me.Inputs {
					b = id(scale.AppendString(b, in.Name), in.Type)
				}
				b = id(b, me.Output)
				b = strs(b, me.Docs)
			}
			b = strs(b, a.Docs)
		}
		b = id(id(id(b, m.OuterCall), m.OuterEvent), m.OuterError)
		b = append(b, 0) // no custom metadata
	}
	return b
}

func tid(v TypeID) *TypeID { return &v }

// Type ids of the test registry.
const (
	tU8 TypeID = iota
	tU16
	tU32
	tU64
	tU128
	tBool
	tStr
	tI32
	tAccount // composite AccountId32([u8; 32])
	tBytes32 // [u8; 32]
	tVecU8   // Vec<u8>
	tVecU16  // Vec<u16>
	tCompactU64
	tCompactU128
	tOptionU16  // Option<u16>
	tAxonInfo   // struct AxonInfo
	tTuple      // (u16, AccountId32)
	tCall       // enum Call
	tError      // enum Error
	tUnit       // ()
	tBitVec     // BitVec<u8, Lsb0>
	tLsb0       // composite Lsb0 {}
	tChar       // char
	tVecAccount // Vec<AccountId32>
	tKey2       // (u16, AccountId32) as a storage key tuple
	tSelf       // recursive: struct Loop { next: Option<Loop> }
	tOptionSelf
	tEvent
	tVecUnit    // Vec<()>
	tVecVecUnit // Vec<Vec<()>>
)

// testMetadata builds a small registry with one pallet shaped like SubtensorModule.
func testMetadata(version uint8) *Metadata {
	prim := func(id TypeID, p Primitive) Type { return Type{ID: id, Kind: KindPrimitive, Primitive: p} }
	m := &Metadata{Version: version}
	m.Types = []Type{
		prim(tU8, U8), prim(tU16, U16), prim(tU32, U32), prim(tU64, U64), prim(tU128, U128),
		prim(tBool, Bool), prim(tStr, Str), prim(tI32, I32),
		{ID: tAccount, Path: []string{"sp_core", "crypto", "AccountId32"}, Kind: KindComposite, Fields: []Field{{Type: tBytes32, TypeName: "[u8; 32]"}}},
		{ID: tBytes32, Kind: KindArray, Len: 32, Elem: tU8},
		{ID: tVecU8, Kind: KindSequence, Elem: tU8},
		{ID: tVecU16, Kind: KindSequence, Elem: tU16},
		{ID: tCompactU64, Kind: KindCompact, Elem: tU64},
		{ID: tCompactU128, Kind: KindCompact, Elem: tU128},
		{ID: tOptionU16, Path: []string{"Option"}, Params: []TypeParam{{Name: "T", Type: tid(tU16)}}, Kind: KindVariant,
			Variants: []Variant{{Name: "None", Index: 0}, {Name: "Some", Index: 1, Fields: []Field{{Type: tU16}}}}},
		{ID: tAxonInfo, Path: []string{"pallet_subtensor", "AxonInfo"}, Kind: KindComposite, Fields: []Field{
			{Name: "block", Type: tU64}, {Name: "version", Type: tU32}, {Name: "ip", Type: tU128}, {Name: "port", Type: tU16},
			{Name: "ip_type", Type: tU8}, {Name: "protocol", Type: tU8}, {Name: "placeholder1", Type: tU8}, {Name: "placeholder2", Type: tU8}}},
		{ID: tTuple, Kind: KindTuple, Tuple: []TypeID{tU16, tAccount}},
		{ID: tCall, Path: []string{"pallet_subtensor", "pallet", "Call"}, Kind: KindVariant, Variants: []Variant{
			{Name: "set_weights", Index: 0, Fields: []Field{{Name: "netuid", Type: tU16}, {Name: "dests", Type: tVecU16}, {Name: "weights", Type: tVecU16}, {Name: "version_key", Type: tU64}}},
			{Name: "serve_axon", Index: 4, Fields: []Field{{Name: "netuid", Type: tU16}, {Name: "version", Type: tU32}, {Name: "ip", Type: tU128},
				{Name: "port", Type: tU16}, {Name: "ip_type", Type: tU8}, {Name: "protocol", Type: tU8}, {Name: "placeholder1", Type: tU8}, {Name: "placeholder2", Type: tU8}}},
			{Name: "burned_register", Index: 7, Fields: []Field{{Name: "netuid", Type: tU16}, {Name: "hotkey", Type: tAccount, TypeName: "T::AccountId"}}},
		}},
		{ID: tError, Path: []string{"pallet_subtensor", "pallet", "Error"}, Kind: KindVariant, Variants: []Variant{
			{Name: "InvalidIpAddress", Index: 3, Docs: []string{" The ip address is invalid."}}}},
		{ID: tUnit, Kind: KindTuple},
		{ID: tBitVec, Kind: KindBitSequence, BitStore: tU8, BitOrder: tLsb0},
		{ID: tLsb0, Path: []string{"bitvec", "order", "Lsb0"}, Kind: KindComposite},
		prim(tChar, Char),
		{ID: tVecAccount, Kind: KindSequence, Elem: tAccount},
		{ID: tKey2, Kind: KindTuple, Tuple: []TypeID{tU16, tAccount}},
		{ID: tSelf, Path: []string{"Loop"}, Kind: KindComposite, Fields: []Field{{Name: "next", Type: tOptionSelf}}},
		{ID: tOptionSelf, Path: []string{"Option"}, Kind: KindVariant,
			Variants: []Variant{{Name: "None", Index: 0}, {Name: "Some", Index: 1, Fields: []Field{{Type: tSelf}}}}},
		{ID: tEvent, Kind: KindVariant, Variants: []Variant{{Name: "AxonServed", Index: 2, Fields: []Field{{Type: tU16}, {Type: tAccount}}}}},
		{ID: tVecUnit, Kind: KindSequence, Elem: tUnit},
		{ID: tVecVecUnit, Kind: KindSequence, Elem: tVecUnit},
	}
	m.Pallets = []Pallet{
		{Name: "System", Index: 0, StoragePrefix: "System", Storage: []StorageEntry{
			{Name: "Number", Value: tU32, Default: []byte{0, 0, 0, 0}}}},
		{Name: "SubtensorModule", Index: 7, StoragePrefix: "SubtensorModule",
			Storage: []StorageEntry{
				{Name: "Uids", Optional: true, Hashers: []Hasher{Identity, Blake2_128Concat}, Key: tKey2, Value: tU16},
				{Name: "SubnetworkN", Hashers: []Hasher{Identity}, Key: tU16, Value: tU16, Default: []byte{0, 0}},
				{Name: "Axons", Optional: true, Hashers: []Hasher{Identity, Blake2_128Concat}, Key: tKey2, Value: tAxonInfo},
				{Name: "Hashed", Optional: true, Hashers: []Hasher{Twox64Concat, Blake2_128}, Key: tKey2, Value: tU16},
			},
			Calls: tid(tCall), Events: tid(tEvent), Errors: tid(tError),
			Constants: []Constant{{Name: "InitialTempo", Type: tU16, Value: []byte{100, 0}}},
		},
	}
	m.Extrinsic = Extrinsic{Version: 4, SignedExtensions: []SignedExtension{
		{Identifier: "CheckNonZeroSender", Type: tUnit, AdditionalSigned: tUnit},
		{Identifier: "CheckNonce", Type: tCompactU64, AdditionalSigned: tUnit},
	}}
	if version >= 15 {
		m.Pallets[1].Docs = []string{"subtensor"}
		m.APIs = []RuntimeAPI{{Name: "NeuronInfoRuntimeApi", Methods: []RuntimeAPIMethod{
			{Name: "get_neurons_lite", Inputs: []Field{{Name: "netuid", Type: tU16}}, Output: tVecU8}}}}
		m.OuterCall, m.OuterEvent, m.OuterError = tCall, tEvent, tError
	}
	return m
}
