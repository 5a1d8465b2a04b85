package subtensor

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// SubtensorPallet is the pallet holding subnets, neurons and axons.
const SubtensorPallet = "SubtensorModule"

// IsRegistered reports whether hotkey holds a uid on netuid (storage
// SubtensorModule.Uids(netuid, hotkey), as bittensor's is_hotkey_registered reads it).
func (c *Client) IsRegistered(ctx context.Context, netuid uint16, hotkey AccountID) (bool, uint16, error) {
	v, err := c.Storage(ctx, "", SubtensorPallet, "Uids", netuid, scale.AccountID(hotkey))
	if err != nil {
		return false, 0, err
	}
	if v == nil {
		return false, 0, nil
	}
	uid, err := asUint(v)
	if err != nil || uid > 0xffff {
		return false, 0, fmt.Errorf("storage Uids: unexpected value %v", v)
	}
	return true, uint16(uid), nil
}

// AxonInfo reads SubtensorModule.Axons(netuid, hotkey); ok is false when the hotkey
// never served.
func (c *Client) AxonInfo(ctx context.Context, netuid uint16, hotkey AccountID) (AxonInfo, bool, error) {
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		return AxonInfo{}, false, err
	}
	return c.axonAt(ctx, rt, "", netuid, hotkey)
}

func (c *Client) axonAt(ctx context.Context, rt *Runtime, at string, netuid uint16, hotkey AccountID) (AxonInfo, bool, error) {
	raw, err := c.storageRaw(ctx, rt, at, SubtensorPallet, "Axons", netuid, scale.AccountID(hotkey))
	if err != nil || raw == nil {
		return AxonInfo{}, false, err
	}
	if len(raw) != AxonInfoSize {
		return AxonInfo{}, false, fmt.Errorf("storage Axons: %d bytes, want %d", len(raw), AxonInfoSize)
	}
	a, err := decodeAxonInfo(raw)
	return a, err == nil, err
}

// HotkeyOf reads SubtensorModule.Keys(netuid, uid): the hotkey holding uid; ok is
// false for a free uid.
func (c *Client) HotkeyOf(ctx context.Context, netuid, uid uint16) (AccountID, bool, error) {
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		return AccountID{}, false, err
	}
	raw, err := c.storageRaw(ctx, rt, "", SubtensorPallet, "Keys", netuid, uid)
	if err != nil || raw == nil {
		return AccountID{}, false, err
	}
	v, err := rt.Metadata.DecodeStorageValue(SubtensorPallet, "Keys", raw)
	if err != nil {
		return AccountID{}, false, err
	}
	a, err := asAccount(v)
	return a, err == nil, err
}

// HotkeyStake returns hotkey's stake in rao as the runtime API reports it (see
// stakeOf): the sum of its Stake(hotkey, coldkey) entries where the runtime has that
// map, else TotalHotkeyStake, else TotalHotkeyAlpha on netuid.
func (c *Client) HotkeyStake(ctx context.Context, netuid uint16, hotkey AccountID) (uint64, error) {
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		return 0, err
	}
	read := func(ctx context.Context, item string, keys ...any) (any, error) {
		raw, err := c.storageRaw(ctx, rt, "", SubtensorPallet, item, keys...)
		if err != nil {
			return nil, err
		}
		return rt.Metadata.DecodeStorageValue(SubtensorPallet, item, raw)
	}
	return c.stakeOf(ctx, rt, "", read, netuid, scale.AccountID(hotkey))
}

// SubnetworkN returns the number of neurons of netuid.
func (c *Client) SubnetworkN(ctx context.Context, netuid uint16) (uint16, error) {
	v, err := c.Storage(ctx, "", SubtensorPallet, "SubnetworkN", netuid)
	if err != nil {
		return 0, err
	}
	n, err := asUint(v)
	if err != nil || n > 0xffff {
		return 0, fmt.Errorf("storage SubnetworkN: unexpected value %v", v)
	}
	return uint16(n), nil
}

// Metagraph reads netuid at the current best block: NeuronInfoRuntimeApi
// get_neurons_lite when the runtime has it, otherwise storage (SubnetworkN, Keys,
// Owner, Axons, stake and the per-subnet score vectors). All reads use the same block.
func (c *Client) Metagraph(ctx context.Context, netuid uint16) (*Metagraph, error) {
	number, hash, err := c.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("metagraph netuid %d: %w", netuid, err)
	}
	return c.MetagraphAt(ctx, netuid, number, hash)
}

// MetagraphAt reads netuid at the block with the given number and hash.
func (c *Client) MetagraphAt(ctx context.Context, netuid uint16, number uint64, hash string) (*Metagraph, error) {
	rt, err := c.Runtime(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("metagraph netuid %d: %w", netuid, err)
	}
	if err := c.checkSubnet(ctx, rt, hash, netuid); err != nil {
		return nil, err
	}
	neurons, err := c.neuronsLite(ctx, rt, hash, netuid)
	if err != nil {
		return nil, fmt.Errorf("metagraph netuid %d at block %d: %w", netuid, number, err)
	}
	return NewMetagraph(netuid, number, neurons)
}

// checkSubnet fails clearly for a subnet that does not exist (NetworksAdded), when
// the runtime has that storage item.
func (c *Client) checkSubnet(ctx context.Context, rt *Runtime, at string, netuid uint16) error {
	if _, _, err := rt.Metadata.StorageEntry(SubtensorPallet, "NetworksAdded"); err != nil {
		return nil
	}
	raw, err := c.storageRaw(ctx, rt, at, SubtensorPallet, "NetworksAdded", netuid)
	if err != nil {
		return err
	}
	v, err := rt.Metadata.DecodeStorageValue(SubtensorPallet, "NetworksAdded", raw)
	if err != nil {
		return err
	}
	if added, ok := v.(bool); ok && !added {
		return fmt.Errorf("subnet %d does not exist", netuid)
	}
	return nil
}

// neuronsLiteFn is the runtime API function the SDK calls for the lite metagraph.
const neuronsLiteFn = "NeuronInfoRuntimeApi_get_neurons_lite"

func (c *Client) neuronsLite(ctx context.Context, rt *Runtime, at string, netuid uint16) ([]Neuron, error) {
	c.mu.Lock()
	absent := c.noNeuron[rt.SpecVersion]
	c.mu.Unlock()
	if !absent {
		raw, err := c.StateCall(ctx, neuronsLiteFn, scale.AppendU16(nil, netuid), at)
		if err == nil {
			return DecodeNeuronsLite(raw)
		}
		if !errIsRPC(err) {
			return nil, err
		}
		// The runtime lacks the API (spec 143: "Function to start was not found"; a
		// node: "... is not found"): remember that and read storage instead.
		if strings.Contains(strings.ToLower(err.Error()), "not found") {
			c.mu.Lock()
			c.noNeuron[rt.SpecVersion] = true
			c.mu.Unlock()
		}
	}
	return c.neuronsFromStorage(ctx, rt, at, netuid)
}

// maxParallelReads bounds concurrent storage reads of the storage fallback.
const maxParallelReads = 8

// neuronsFromStorage assembles NeuronInfoLite from storage items, for runtimes
// without the runtime API. Items a runtime does not have are left at zero.
func (c *Client) neuronsFromStorage(ctx context.Context, rt *Runtime, at string, netuid uint16) ([]Neuron, error) {
	m := rt.Metadata
	read := func(ctx context.Context, item string, keys ...any) (any, error) {
		if _, _, err := m.StorageEntry(SubtensorPallet, item); err != nil {
			return nil, nil // not in this runtime
		}
		raw, err := c.storageRaw(ctx, rt, at, SubtensorPallet, item, keys...)
		if err != nil {
			return nil, err
		}
		return m.DecodeStorageValue(SubtensorPallet, item, raw)
	}
	nv, err := read(ctx, "SubnetworkN", netuid)
	if err != nil {
		return nil, err
	}
	n, err := asUint(nv)
	if err != nil || n > maxNeurons {
		return nil, fmt.Errorf("storage SubnetworkN: unexpected value %v", nv)
	}
	neurons := make([]Neuron, n)

	// Per-subnet vectors indexed by uid.
	vectors := []struct {
		item string
		set  func(*Neuron, any) error
	}{
		{"Active", func(x *Neuron, v any) (err error) { x.Active, err = asBool(v); return }},
		{"Rank", setU16(func(x *Neuron) *uint16 { return &x.Rank })},
		{"Trust", setU16(func(x *Neuron) *uint16 { return &x.Trust })},
		{"Consensus", setU16(func(x *Neuron) *uint16 { return &x.Consensus })},
		{"Incentive", setU16(func(x *Neuron) *uint16 { return &x.Incentive })},
		{"Dividends", setU16(func(x *Neuron) *uint16 { return &x.Dividends })},
		{"ValidatorTrust", setU16(func(x *Neuron) *uint16 { return &x.ValidatorTrust })},
		{"PruningScores", setU16(func(x *Neuron) *uint16 { return &x.PruningScore })},
		{"Emission", func(x *Neuron, v any) (err error) { x.Emission, err = asUint(v); return }},
		{"LastUpdate", func(x *Neuron, v any) (err error) { x.LastUpdate, err = asUint(v); return }},
		{"ValidatorPermit", func(x *Neuron, v any) (err error) { x.ValidatorPermit, err = asBool(v); return }},
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelReads)
	for _, vec := range vectors {
		g.Go(func() error {
			v, err := read(gctx, vec.item, netuid)
			if err != nil || v == nil {
				return err
			}
			items, ok := v.([]any)
			if !ok {
				return fmt.Errorf("storage %s: not a vector (%T)", vec.item, v)
			}
			for uid := range min(len(items), len(neurons)) {
				if err := vec.set(&neurons[uid], items[uid]); err != nil {
					return fmt.Errorf("storage %s[%d]: %w", vec.item, uid, err)
				}
			}
			return nil
		})
	}
	for uid := range neurons {
		g.Go(func() error {
			x := &neurons[uid]
			x.UID = uint16(uid)
			v, err := read(gctx, "Keys", netuid, uint16(uid))
			if err != nil {
				return err
			}
			if x.Hotkey, err = asAccount(v); err != nil {
				return fmt.Errorf("storage Keys(%d, %d): %w", netuid, uid, err)
			}
			hk := scale.AccountID(x.Hotkey)
			if v, err = read(gctx, "Owner", hk); err != nil {
				return err
			} else if v != nil {
				if x.Coldkey, err = asAccount(v); err != nil {
					return fmt.Errorf("storage Owner: %w", err)
				}
			}
			if x.Stake, err = c.stakeOf(gctx, rt, at, read, netuid, hk); err != nil {
				return err
			}
			a, ok, err := c.axonAt(gctx, rt, at, netuid, x.Hotkey)
			if err != nil {
				return err
			}
			if !ok {
				a = AxonInfo{IP: "0.0.0.0"}
			}
			x.Axon = a
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("metagraph from storage: %w", err)
	}
	return neurons, nil
}

func setU16(field func(*Neuron) *uint16) func(*Neuron, any) error {
	return func(x *Neuron, v any) error {
		u, err := asUint(v)
		if err == nil && u > 0xffff {
			err = fmt.Errorf("%d exceeds u16", u)
		}
		*field(x) = uint16(u)
		return err
	}
}

// asUint converts a dynamically decoded unsigned integer (uint64, or *big.Int for
// u128) that fits in 64 bits.
func asUint(v any) (uint64, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case *big.Int:
		if x.IsUint64() {
			return x.Uint64(), nil
		}
		return 0, fmt.Errorf("%v does not fit in 64 bits", x)
	case map[string]any: // newtype with a named field
		if len(x) == 1 {
			for _, e := range x {
				return asUint(e)
			}
		}
	}
	return 0, fmt.Errorf("want an unsigned integer, got %T", v)
}

func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want a bool, got %T", v)
	}
	return b, nil
}

func asAccount(v any) (AccountID, error) {
	var a AccountID
	b, ok := v.([]byte)
	if !ok || len(b) != 32 {
		return a, errors.New("not a 32-byte account")
	}
	copy(a[:], b)
	return a, nil
}
