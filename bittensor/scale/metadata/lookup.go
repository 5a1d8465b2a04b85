package metadata

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned (wrapped) when a pallet, call, storage item, type or variant
// does not exist in the metadata.
var ErrNotFound = errors.New("not found")

// maxMinSize caps the computed minimum encoded size of a type (arrays can multiply).
const maxMinSize = 1 << 30

// index builds the lookup tables, checks that every type reference resolves, and
// computes the minimum encoded size of every type (used to bound sequence lengths).
func (m *Metadata) index() error {
	m.byPallet = make(map[string]int, len(m.Pallets))
	for i, p := range m.Pallets {
		m.byPallet[p.Name] = i
	}
	sequential := true
	for i := range m.Types {
		if m.Types[i].ID != TypeID(i) {
			sequential = false
			break
		}
	}
	if !sequential {
		m.byID = make(map[TypeID]int, len(m.Types))
		for i := range m.Types {
			if _, dup := m.byID[m.Types[i].ID]; dup {
				return fmt.Errorf("duplicate type id %d", m.Types[i].ID)
			}
			m.byID[m.Types[i].ID] = i
		}
	}
	check := func(what string, id TypeID) error {
		if _, ok := m.typeIndex(id); !ok {
			return fmt.Errorf("%s refers to missing type %d", what, id)
		}
		return nil
	}
	for i := range m.Types {
		t := &m.Types[i]
		what := fmt.Sprintf("type %d", t.ID)
		var refs []TypeID
		for _, f := range t.Fields {
			refs = append(refs, f.Type)
		}
		for _, v := range t.Variants {
			for _, f := range v.Fields {
				refs = append(refs, f.Type)
			}
		}
		switch t.Kind {
		case KindSequence, KindArray, KindCompact:
			refs = append(refs, t.Elem)
		case KindTuple:
			refs = append(refs, t.Tuple...)
		case KindBitSequence:
			refs = append(refs, t.BitStore, t.BitOrder)
		}
		for _, r := range refs {
			if err := check(what, r); err != nil {
				return err
			}
		}
	}
	for _, p := range m.Pallets {
		for _, id := range []*TypeID{p.Calls, p.Events, p.Errors} {
			if id != nil {
				if err := check("pallet "+p.Name, *id); err != nil {
					return err
				}
			}
		}
		for _, e := range p.Storage {
			if err := check("storage "+p.Name+"."+e.Name, e.Value); err != nil {
				return err
			}
			if e.IsMap() {
				if err := check("storage "+p.Name+"."+e.Name, e.Key); err != nil {
					return err
				}
			}
		}
	}
	for _, s := range m.Extrinsic.SignedExtensions {
		if err := check("signed extension "+s.Identifier, s.Type); err != nil {
			return err
		}
		if err := check("signed extension "+s.Identifier, s.AdditionalSigned); err != nil {
			return err
		}
	}
	m.computeMinSizes()
	return nil
}

func (m *Metadata) typeIndex(id TypeID) (int, bool) {
	if m.byID == nil {
		return int(id), uint64(id) < uint64(len(m.Types))
	}
	i, ok := m.byID[id]
	return i, ok
}

// Type returns the registry entry for id.
func (m *Metadata) Type(id TypeID) (*Type, error) {
	i, ok := m.typeIndex(id)
	if !ok {
		return nil, fmt.Errorf("type %d: %w", id, ErrNotFound)
	}
	return &m.Types[i], nil
}

// computeMinSizes iterates to a fixed point from zero, so recursive types get a valid
// lower bound. Every result is a lower bound of the real minimum, which is all that
// length checks need.
func (m *Metadata) computeMinSizes() {
	ms := make([]int, len(m.Types))
	size := func(id TypeID) int {
		if i, ok := m.typeIndex(id); ok {
			return ms[i]
		}
		return 0
	}
	add := func(a, b int) int {
		if a+b > maxMinSize {
			return maxMinSize
		}
		return a + b
	}
	for round := 0; round < 64; round++ {
		changed := false
		for i := range m.Types {
			t := &m.Types[i]
			n := 0
			switch t.Kind {
			case KindComposite:
				for _, f := range t.Fields {
					n = add(n, size(f.Type))
				}
			case KindVariant:
				best := -1
				for _, v := range t.Variants {
					s := 0
					for _, f := range v.Fields {
						s = add(s, size(f.Type))
					}
					if best < 0 || s < best {
						best = s
					}
				}
				n = add(1, max(best, 0))
			case KindSequence, KindCompact, KindBitSequence:
				n = 1
			case KindArray:
				e := size(t.Elem)
				if e > 0 && uint64(t.Len)*uint64(e) > maxMinSize {
					n = maxMinSize
				} else {
					n = int(t.Len) * e
				}
			case KindTuple:
				for _, e := range t.Tuple {
					n = add(n, size(e))
				}
			case KindPrimitive:
				n = t.Primitive.size()
				if t.Primitive == Str {
					n = 1
				}
			}
			if n > ms[i] {
				ms[i] = n
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	m.minSize = ms
}

// MinSize returns a lower bound of the encoded size of any value of type id.
func (m *Metadata) MinSize(id TypeID) int {
	if i, ok := m.typeIndex(id); ok && i < len(m.minSize) {
		return m.minSize[i]
	}
	return 0
}

// IsZeroSized reports whether every value of type id encodes to zero bytes (unit
// structs, empty tuples, PhantomData): such signed extensions can be skipped safely.
// Each type is visited once, so hostile self-referencing types cost linear time; a
// type that contains itself is an error.
func (m *Metadata) IsZeroSized(id TypeID) (bool, error) {
	return m.zeroSized(id, map[TypeID]int8{})
}

const (
	zsVisiting int8 = iota + 1
	zsYes
	zsNo
)

func (m *Metadata) zeroSized(id TypeID, memo map[TypeID]int8) (bool, error) {
	switch memo[id] {
	case zsVisiting:
		return false, fmt.Errorf("type %d contains itself", id)
	case zsYes:
		return true, nil
	case zsNo:
		return false, nil
	}
	t, err := m.Type(id)
	if err != nil {
		return false, err
	}
	var parts []TypeID
	switch t.Kind {
	case KindComposite:
		for _, f := range t.Fields {
			parts = append(parts, f.Type)
		}
	case KindTuple:
		parts = t.Tuple
	case KindArray:
		if t.Len > 0 {
			parts = []TypeID{t.Elem}
		}
	default:
		memo[id] = zsNo
		return false, nil
	}
	memo[id] = zsVisiting
	for _, p := range parts {
		z, err := m.zeroSized(p, memo)
		if err != nil {
			return false, err
		}
		if !z {
			memo[id] = zsNo
			return false, nil
		}
	}
	memo[id] = zsYes
	return true, nil
}

// Pallet returns the pallet called name.
func (m *Metadata) Pallet(name string) (*Pallet, error) {
	i, ok := m.byPallet[name]
	if !ok {
		return nil, fmt.Errorf("pallet %s: %w", name, ErrNotFound)
	}
	return &m.Pallets[i], nil
}

// PalletByIndex returns the pallet with the given index.
func (m *Metadata) PalletByIndex(idx uint8) (*Pallet, error) {
	for i := range m.Pallets {
		if m.Pallets[i].Index == idx {
			return &m.Pallets[i], nil
		}
	}
	return nil, fmt.Errorf("pallet index %d: %w", idx, ErrNotFound)
}

// Call returns the pallet and the variant describing pallet.call.
func (m *Metadata) Call(pallet, call string) (*Pallet, *Variant, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, nil, err
	}
	if p.Calls == nil {
		return nil, nil, fmt.Errorf("pallet %s has no calls: %w", pallet, ErrNotFound)
	}
	t, err := m.Type(*p.Calls)
	if err != nil {
		return nil, nil, err
	}
	if t.Kind != KindVariant {
		return nil, nil, fmt.Errorf("pallet %s call type %d is a %s, not an enum", pallet, t.ID, t.Kind)
	}
	v, ok := t.VariantByName(call)
	if !ok {
		return nil, nil, fmt.Errorf("call %s.%s: %w", pallet, call, ErrNotFound)
	}
	return p, v, nil
}

// CallIndex returns the two-byte call index [pallet index, call index] of pallet.call.
func (m *Metadata) CallIndex(pallet, call string) ([2]byte, error) {
	p, v, err := m.Call(pallet, call)
	if err != nil {
		return [2]byte{}, err
	}
	return [2]byte{p.Index, v.Index}, nil
}

// StorageEntry returns the pallet's storage prefix and the entry called item.
func (m *Metadata) StorageEntry(pallet, item string) (*Pallet, *StorageEntry, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, nil, err
	}
	for i := range p.Storage {
		if p.Storage[i].Name == item {
			return p, &p.Storage[i], nil
		}
	}
	return nil, nil, fmt.Errorf("storage %s.%s: %w", pallet, item, ErrNotFound)
}

// Constant returns the constant pallet.name.
func (m *Metadata) Constant(pallet, name string) (*Constant, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, err
	}
	for i := range p.Constants {
		if p.Constants[i].Name == name {
			return &p.Constants[i], nil
		}
	}
	return nil, fmt.Errorf("constant %s.%s: %w", pallet, name, ErrNotFound)
}

// RuntimeAPIMethod returns the v15 runtime API method api.method (e.g.
// "NeuronInfoRuntimeApi", "get_neurons_lite"). It fails for v14 metadata.
func (m *Metadata) RuntimeAPIMethod(api, method string) (*RuntimeAPIMethod, error) {
	for i := range m.APIs {
		if m.APIs[i].Name != api {
			continue
		}
		for j := range m.APIs[i].Methods {
			if m.APIs[i].Methods[j].Name == method {
				return &m.APIs[i].Methods[j], nil
			}
		}
	}
	return nil, fmt.Errorf("runtime api %s_%s: %w", api, method, ErrNotFound)
}

// ModuleError is a pallet error resolved from a DispatchError::Module.
type ModuleError struct {
	Pallet      string
	Name        string
	Docs        string
	PalletIndex uint8
	ErrorIndex  uint8 // error variant index (first byte of the error field)
}

func (e *ModuleError) Error() string {
	if e.Docs == "" {
		return e.Pallet + "." + e.Name
	}
	return e.Pallet + "." + e.Name + ": " + e.Docs
}

// LookupModuleError resolves DispatchError::Module{index, error} (error is the 4-byte
// field of recent runtimes or the single byte of older ones; its first byte is the
// variant index) into the pallet and error names with the error's docs.
func (m *Metadata) LookupModuleError(palletIndex uint8, errorIndex uint8) (*ModuleError, error) {
	p, err := m.PalletByIndex(palletIndex)
	if err != nil {
		return nil, err
	}
	if p.Errors == nil {
		return nil, fmt.Errorf("pallet %s has no errors: %w", p.Name, ErrNotFound)
	}
	t, err := m.Type(*p.Errors)
	if err != nil {
		return nil, err
	}
	v, ok := t.VariantByIndex(errorIndex)
	if !ok {
		return nil, fmt.Errorf("error %d of pallet %s: %w", errorIndex, p.Name, ErrNotFound)
	}
	return &ModuleError{Pallet: p.Name, Name: v.Name, Docs: strings.TrimSpace(strings.Join(v.Docs, " ")),
		PalletIndex: palletIndex, ErrorIndex: errorIndex}, nil
}

// Event returns the pallet and event variant for an event's [pallet index, variant index].
func (m *Metadata) Event(palletIndex, eventIndex uint8) (*Pallet, *Variant, error) {
	p, err := m.PalletByIndex(palletIndex)
	if err != nil {
		return nil, nil, err
	}
	if p.Events == nil {
		return nil, nil, fmt.Errorf("pallet %s has no events: %w", p.Name, ErrNotFound)
	}
	t, err := m.Type(*p.Events)
	if err != nil {
		return nil, nil, err
	}
	v, ok := t.VariantByIndex(eventIndex)
	if !ok {
		return nil, nil, fmt.Errorf("event %d of pallet %s: %w", eventIndex, p.Name, ErrNotFound)
	}
	return p, v, nil
}

// FindType returns the first type whose path joined with "::" equals path (e.g.
// "frame_system::AccountInfo" or "sp_runtime::DispatchError").
func (m *Metadata) FindType(path string) (*Type, error) {
	for i := range m.Types {
		if m.Types[i].PathString() == path {
			return &m.Types[i], nil
		}
	}
	return nil, fmt.Errorf("type %s: %w", path, ErrNotFound)
}
