package metadata_test

import (
	"context"
	"fmt"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/rpc"
	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
)

// Reading the runtime metadata, then encoding a call and reading a storage value from
// it, with no index or layout hard-coded.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, "ws://127.0.0.1:9944", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	var raw rpc.Bytes
	if err := c.Call(ctx, &raw, "state_getMetadata"); err != nil {
		fmt.Println(err)
		return
	}
	m, err := metadata.Decode(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	call, err := m.EncodeCall("SubtensorModule", "serve_axon", map[string]any{
		"netuid": 1, "version": 610, "ip": 16909060, "port": 8091,
		"ip_type": 4, "protocol": 4, "placeholder1": 0, "placeholder2": 0})
	fmt.Printf("call %x %v\n", call, err)

	var hotkey scale.AccountID // the hotkey's public key
	key, err := m.StorageKey("SubtensorModule", "Uids", 1, hotkey)
	if err != nil {
		fmt.Println(err)
		return
	}
	var value rpc.Bytes // null (absent) decodes to a nil slice
	if err := c.Call(ctx, &value, "state_getStorage", rpc.Bytes(key)); err != nil {
		fmt.Println(err)
		return
	}
	uid, err := m.DecodeStorageValue("SubtensorModule", "Uids", value) // nil: not registered
	fmt.Println(uid, err)
}
