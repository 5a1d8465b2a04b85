package subtensor

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/btlm-miner/btlm-miner/bittensor/rpc"
	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// Reading a hotkey's Stake entries (one per nominating coldkey, at most
// maxStakeEntries as in the runtime API's result).
const (
	stakeKeysPage    = 512 // keys per state_getKeysPaged / state_queryStorageAt call
	stakeMapHashers  = 2   // Stake(hotkey, coldkey)
	stakeMapItemName = "Stake"
)

// stakeOf reads a hotkey's stake in rao the way NeuronInfoRuntimeApi_get_neurons_lite
// reports it (subtensor-chain.md §3: "stake = sum of the entries"): where the runtime
// has the Stake(hotkey, coldkey) map (2023 runtimes up to spec 218, dynamic TAO
// included), the sum of the hotkey's entries; else TotalHotkeyStake(hotkey) in TAO; else
// TotalHotkeyAlpha(hotkey, netuid) in the subnet's alpha (later runtimes, whose
// NeuronInfoLite stake is alpha). read decodes one storage value at the snapshot's
// block (at).
func (c *Client) stakeOf(ctx context.Context, rt *Runtime, at string, read func(context.Context, string, ...any) (any, error), netuid uint16, hk scale.AccountID) (uint64, error) {
	m := rt.Metadata
	if _, e, err := m.StorageEntry(SubtensorPallet, stakeMapItemName); err == nil && len(e.Hashers) == stakeMapHashers {
		return c.stakeEntriesSum(ctx, rt, at, hk)
	}
	var v any
	var err error
	if _, _, e := m.StorageEntry(SubtensorPallet, "TotalHotkeyStake"); e == nil {
		v, err = read(ctx, "TotalHotkeyStake", hk)
	} else if _, _, e := m.StorageEntry(SubtensorPallet, "TotalHotkeyAlpha"); e == nil {
		v, err = read(ctx, "TotalHotkeyAlpha", hk, netuid)
	}
	if err != nil || v == nil {
		return 0, err
	}
	return asUint(v)
}

// stakeEntriesSum lists the keys of Stake(hk, ·) page by page at block at and sums
// their values.
func (c *Client) stakeEntriesSum(ctx context.Context, rt *Runtime, at string, hk scale.AccountID) (uint64, error) {
	prefix, err := rt.Metadata.StorageKey(SubtensorPallet, stakeMapItemName, hk)
	if err != nil {
		return 0, err
	}
	hexPrefix := "0x" + hex.EncodeToString(prefix)
	var sum uint64
	start, listed := hexPrefix, 0
	for {
		var keys []string
		if err := c.call(ctx, &keys, "state_getKeysPaged", atParams(at, hexPrefix, stakeKeysPage, start)...); err != nil {
			return 0, fmt.Errorf("storage %s keys: %w", stakeMapItemName, err)
		}
		if listed += len(keys); listed > maxStakeEntries {
			return 0, fmt.Errorf("storage %s: more than %d entries for hotkey %s", stakeMapItemName, maxStakeEntries, AccountID(hk))
		}
		if len(keys) > 0 {
			s, err := c.sumStakeValues(ctx, rt, at, keys)
			if err != nil {
				return 0, err
			}
			if sum+s < sum {
				return 0, fmt.Errorf("storage %s: stake of hotkey %s overflows u64", stakeMapItemName, AccountID(hk))
			}
			sum += s
		}
		if len(keys) < stakeKeysPage {
			return sum, nil
		}
		start = keys[len(keys)-1]
	}
}

// sumStakeValues reads keys with one state_queryStorageAt and sums their u64 values.
func (c *Client) sumStakeValues(ctx context.Context, rt *Runtime, at string, keys []string) (uint64, error) {
	var sets []struct {
		Changes [][2]*string `json:"changes"`
	}
	if err := c.call(ctx, &sets, "state_queryStorageAt", atParams(at, keys)...); err != nil {
		return 0, fmt.Errorf("storage %s values: %w", stakeMapItemName, err)
	}
	var sum uint64
	for _, set := range sets {
		for _, kv := range set.Changes {
			if kv[1] == nil {
				continue // removed between the two calls
			}
			raw, err := rpc.DecodeHex(*kv[1])
			if err != nil {
				return 0, fmt.Errorf("storage %s value: %w", stakeMapItemName, err)
			}
			v, err := rt.Metadata.DecodeStorageValue(SubtensorPallet, stakeMapItemName, raw)
			if err != nil {
				return 0, fmt.Errorf("storage %s value: %w", stakeMapItemName, err)
			}
			u, err := asUint(v)
			if err != nil {
				return 0, fmt.Errorf("storage %s value: %w", stakeMapItemName, err)
			}
			if sum+u < sum {
				return 0, fmt.Errorf("storage %s: stake sum overflows u64", stakeMapItemName)
			}
			sum += u
		}
	}
	return sum, nil
}
