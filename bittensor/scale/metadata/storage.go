package metadata

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/crypto/blake2b"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// twox returns the concatenation of xxh64 with seeds 0..n-1, each little-endian.
func twox(data []byte, n int) []byte {
	out := make([]byte, 0, 8*n)
	for seed := 0; seed < n; seed++ {
		h := xxhash.NewWithSeed(uint64(seed))
		_, _ = h.Write(data)
		out = binary.LittleEndian.AppendUint64(out, h.Sum64())
	}
	return out
}

// TwoX128 is Substrate's twox_128: xxh64 with seeds 0 and 1, little-endian, concatenated.
func TwoX128(data []byte) []byte { return twox(data, 2) }

// TwoX64 is Substrate's twox_64: xxh64 with seed 0, little-endian.
func TwoX64(data []byte) []byte { return twox(data, 1) }

// Blake2b128 is the 16-byte blake2b digest of data.
func Blake2b128(data []byte) []byte {
	h, _ := blake2b.New(16, nil) // cannot fail for size 16 without a key
	_, _ = h.Write(data)
	return h.Sum(nil)
}

// Blake2b256 is the 32-byte blake2b digest of data.
func Blake2b256(data []byte) []byte {
	s := blake2b.Sum256(data)
	return s[:]
}

// Hash appends the hash of data under h (for the "concat" hashers the data itself follows
// the digest).
func (h Hasher) Hash(dst, data []byte) ([]byte, error) {
	switch h {
	case Blake2_128:
		return append(dst, Blake2b128(data)...), nil
	case Blake2_256:
		return append(dst, Blake2b256(data)...), nil
	case Blake2_128Concat:
		return append(append(dst, Blake2b128(data)...), data...), nil
	case Twox128:
		return append(dst, twox(data, 2)...), nil
	case Twox256:
		return append(dst, twox(data, 4)...), nil
	case Twox64Concat:
		return append(append(dst, twox(data, 1)...), data...), nil
	case Identity:
		return append(dst, data...), nil
	}
	return nil, fmt.Errorf("unknown hasher %d", h)
}

// prefixLen is the length of the digest part of the hashed key, and whether the key
// itself follows it (so it can be decoded from the storage key).
func (h Hasher) prefixLen() (n int, concat bool) {
	switch h {
	case Blake2_128:
		return 16, false
	case Blake2_256, Twox256:
		return 32, false
	case Blake2_128Concat:
		return 16, true
	case Twox128:
		return 16, false
	case Twox64Concat:
		return 8, true
	}
	return 0, true // Identity
}

// StoragePrefix returns twox128(pallet prefix) ‖ twox128(item): the key of a plain value
// and the common prefix of all keys of a map.
func StoragePrefix(pallet, item string) []byte {
	return append(TwoX128([]byte(pallet)), TwoX128([]byte(item))...)
}

// StorageKey returns the storage key of pallet.item for the given map keys, each encoded
// by its key type from the metadata and hashed with its hasher. Fewer keys than the map
// has give a prefix that all matching keys share (for state_getKeysPaged); a plain value
// takes no keys.
func (m *Metadata) StorageKey(pallet, item string, keys ...any) ([]byte, error) {
	p, e, err := m.StorageEntry(pallet, item)
	if err != nil {
		return nil, err
	}
	if len(keys) > len(e.Hashers) {
		return nil, fmt.Errorf("storage %s.%s takes %d keys, got %d", pallet, item, len(e.Hashers), len(keys))
	}
	key := StoragePrefix(p.StoragePrefix, e.Name)
	if len(keys) == 0 {
		return key, nil
	}
	keyTypes, err := m.storageKeyTypes(e)
	if err != nil {
		return nil, fmt.Errorf("storage %s.%s: %w", pallet, item, err)
	}
	for i, k := range keys {
		enc, err := m.EncodeValue(nil, keyTypes[i], k)
		if err != nil {
			return nil, fmt.Errorf("storage %s.%s key %d: %w", pallet, item, i, err)
		}
		if key, err = e.Hashers[i].Hash(key, enc); err != nil {
			return nil, fmt.Errorf("storage %s.%s key %d: %w", pallet, item, i, err)
		}
	}
	return key, nil
}

// storageKeyTypes returns one key type per hasher: the key type itself for a single
// hasher, the tuple's elements for several.
func (m *Metadata) storageKeyTypes(e *StorageEntry) ([]TypeID, error) {
	if len(e.Hashers) == 1 {
		return []TypeID{e.Key}, nil
	}
	t, err := m.Type(e.Key)
	if err != nil {
		return nil, err
	}
	if t.Kind != KindTuple || len(t.Tuple) != len(e.Hashers) {
		return nil, fmt.Errorf("key type %d is not a tuple of %d types", e.Key, len(e.Hashers))
	}
	return t.Tuple, nil
}

// DecodeStorageKey recovers the map keys from a full storage key of pallet.item. Keys
// hashed with a non-concat hasher (Blake2_128, Twox128, ...) cannot be recovered and are
// returned as nil.
func (m *Metadata) DecodeStorageKey(pallet, item string, key []byte) ([]any, error) {
	p, e, err := m.StorageEntry(pallet, item)
	if err != nil {
		return nil, err
	}
	prefix := StoragePrefix(p.StoragePrefix, e.Name)
	if len(key) < len(prefix) || string(key[:len(prefix)]) != string(prefix) {
		return nil, fmt.Errorf("storage key %x is not under %s.%s", key, pallet, item)
	}
	keyTypes, err := m.storageKeyTypes(e)
	if err != nil && e.IsMap() {
		return nil, err
	}
	d := scale.NewDecoder(key[len(prefix):])
	out := make([]any, 0, len(e.Hashers))
	for i, h := range e.Hashers {
		n, concat := h.prefixLen()
		if err := d.Skip(n); err != nil {
			return nil, fmt.Errorf("storage %s.%s key %d: %w", pallet, item, i, err)
		}
		if !concat {
			out = append(out, nil) // only the digest is stored
			continue
		}
		v, err := m.Decode(d, keyTypes[i])
		if err != nil {
			return nil, fmt.Errorf("storage %s.%s key %d: %w", pallet, item, i, err)
		}
		out = append(out, v)
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("storage %s.%s key: %w", pallet, item, err)
	}
	return out, nil
}

// DecodeStorageValue decodes the raw value of pallet.item read from the chain. raw is nil
// when the key is absent: an Optional entry then reads as nil, a Default entry as its
// declared default.
func (m *Metadata) DecodeStorageValue(pallet, item string, raw []byte) (any, error) {
	_, e, err := m.StorageEntry(pallet, item)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		if e.Optional {
			return nil, nil
		}
		raw = e.Default
	}
	v, err := m.DecodeValue(e.Value, raw)
	if err != nil {
		return nil, fmt.Errorf("storage %s.%s: %w", pallet, item, err)
	}
	return v, nil
}
