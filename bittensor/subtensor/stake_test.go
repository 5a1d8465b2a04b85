package subtensor

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

// TestStakeStorageMatchesRuntimeAPI: on spec 218 the storage fallback reads the stake
// the runtime API reports. uid 0 of subnet 1 gets 600 Stake(hotkey, coldkey) entries
// and a different TotalHotkeyAlpha; NeuronInfoRuntimeApi_get_neurons_lite, the
// storage metagraph and HotkeyStake must all give the sum of the Stake entries.
func TestStakeStorageMatchesRuntimeAPI(t *testing.T) {
	n := startChain(t, chaintest.Raonet)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dial(t, ctx, n)
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if rt.SpecVersion != 218 {
		t.Fatalf("spec %d, want 218", rt.SpecVersion)
	}
	hk, ok, err := c.HotkeyOf(ctx, 1, 0)
	if err != nil || !ok {
		t.Fatalf("Keys(1, 0) = %v %v", ok, err)
	}
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	storageKey := func(item string, keys ...any) string {
		k, err := rt.Metadata.StorageKey(SubtensorPallet, item, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return "0x" + hex.EncodeToString(k)
	}
	// More coldkeys than one page of keys (stakeKeysPage), so the listing pages.
	const coldkeys, alpha = stakeKeysPage + 88, 999_000_000_000
	kv := map[string][]byte{}
	var want uint64
	for i := range coldkeys {
		var cold scale.AccountID
		binary.BigEndian.PutUint32(cold[28:], uint32(i)+1)
		stake := uint64(1_000_000_000 + i)
		kv[storageKey("Stake", scale.AccountID(hk), cold)] = u64(stake)
		want += stake
	}
	if _, _, err := rt.Metadata.StorageEntry(SubtensorPallet, "TotalHotkeyAlpha"); err == nil {
		kv[storageKey("TotalHotkeyAlpha", scale.AccountID(hk), uint16(1))] = u64(alpha)
	}
	if err := n.SetStorageRaw(ctx, kv); err != nil {
		t.Fatal(err)
	}
	if _, err := n.NewBlock(ctx, 1); err != nil {
		t.Fatal(err)
	}

	lite, err := c.neuronsLite(ctx, rt, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || lite[0].Stake != want {
		t.Fatalf("runtime API stake of uid 0 = %+v, want %d (the Stake entries' sum)", lite, want)
	}
	stored, err := c.neuronsFromStorage(ctx, rt, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	for uid := range lite {
		if stored[uid].Stake != lite[uid].Stake {
			t.Errorf("uid %d: storage stake %d, runtime API %d", uid, stored[uid].Stake, lite[uid].Stake)
		}
	}
	if s, err := c.HotkeyStake(ctx, 1, hk); err != nil || s != want {
		t.Errorf("HotkeyStake = %d, %v; want %d", s, err, want)
	}
}
