package subtensor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/btlm-miner/btlm-miner/bittensor/rpc"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
)

// Client reads and writes a subtensor chain through a node's websocket JSON-RPC, over
// one shared, automatically reconnecting connection (package rpc). Pallet and call
// indices, storage layouts and signed extensions come from the runtime metadata,
// which is cached per runtime spec version and re-read when the runtime changes.
// A Client is safe for concurrent use.
type Client struct {
	rpc *rpc.Client

	// EraPeriod and WaitFinalized are settings: set them before the Client is used
	// concurrently.
	//
	// EraPeriod is the mortality of submitted extrinsics in blocks (rounded up to a
	// power of two); 0 means immortal. Default 64.
	EraPeriod uint64
	// WaitFinalized makes Submit (and ServeAxon, SetWeights) wait for finalization
	// instead of inclusion in a block. Default false.
	WaitFinalized bool

	mu       sync.Mutex
	runtime  *Runtime
	genesis  *[32]byte
	noNeuron map[uint32]bool      // spec versions without NeuronInfoRuntimeApi
	nonces   map[AccountID]uint64 // next nonce after our last included extrinsic
}

// Runtime is one runtime version with its decoded metadata.
type Runtime struct {
	SpecName    string
	SpecVersion uint32
	TxVersion   uint32
	Metadata    *metadata.Metadata
}

// Dial connects to a subtensor node at url (ws:// or wss://) and reads its runtime
// metadata. ctx bounds the connection and the first reads; the connection then
// lives until Close, reconnecting as needed.
func Dial(ctx context.Context, url string) (*Client, error) {
	r, err := rpc.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c := NewClient(r)
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		r.Close()
		return nil, err
	}
	if _, err := rt.Metadata.Pallet("SubtensorModule"); err != nil {
		r.Close()
		return nil, fmt.Errorf("%s (spec %d) is not a subtensor chain: %w", rt.SpecName, rt.SpecVersion, err)
	}
	return c, nil
}

// NewClient wraps an existing RPC client; Close closes it.
func NewClient(r *rpc.Client) *Client {
	return &Client{rpc: r, EraPeriod: 64, noNeuron: map[uint32]bool{}, nonces: map[AccountID]uint64{}}
}

// RPC returns the underlying JSON-RPC client.
func (c *Client) RPC() *rpc.Client { return c.rpc }

// Close closes the connection.
func (c *Client) Close() error { return c.rpc.Close() }

// call is rpc.Call with the method named in errors.
func (c *Client) call(ctx context.Context, result any, method string, params ...any) error {
	return c.rpc.Call(ctx, result, method, params...)
}

// atParams appends the block hash to params when one is given.
func atParams(at string, params ...any) []any {
	if at != "" {
		params = append(params, at)
	}
	return params
}

// parseNumber reads a block number as nodes send it: hex ("0x1a", chopsticks pads to
// "0x00000001") or a JSON number.
func parseNumber(raw json.RawMessage) (uint64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if !strings.HasPrefix(s, "0x") {
			return strconv.ParseUint(s, 10, 64)
		}
		return strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	}
	var n uint64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("block number %s: %w", raw, err)
	}
	return n, nil
}

type header struct {
	Number     json.RawMessage `json:"number"`
	ParentHash string          `json:"parentHash"`
}

// Block returns the best block number (chain_getHeader).
func (c *Client) Block(ctx context.Context) (uint64, error) {
	var h header
	if err := c.call(ctx, &h, "chain_getHeader"); err != nil {
		return 0, err
	}
	return parseNumber(h.Number)
}

// Head returns the best block's number and hash.
func (c *Client) Head(ctx context.Context) (uint64, string, error) {
	var hash string
	if err := c.call(ctx, &hash, "chain_getBlockHash"); err != nil {
		return 0, "", err
	}
	var h header
	if err := c.call(ctx, &h, "chain_getHeader", hash); err != nil {
		return 0, "", err
	}
	n, err := parseNumber(h.Number)
	return n, hash, err
}

// BlockHash returns the hash of block n.
func (c *Client) BlockHash(ctx context.Context, n uint64) (string, error) {
	var hash *string
	if err := c.call(ctx, &hash, "chain_getBlockHash", n); err != nil {
		return "", err
	}
	if hash == nil {
		return "", fmt.Errorf("block %d: not found", n)
	}
	return *hash, nil
}

// GenesisHash returns chain_getBlockHash(0), cached. Chopsticks answers 0x4545…45,
// which its runtime also stores, so it is never hard-coded.
func (c *Client) GenesisHash(ctx context.Context) ([32]byte, error) {
	c.mu.Lock()
	g := c.genesis
	c.mu.Unlock()
	if g != nil {
		return *g, nil
	}
	s, err := c.BlockHash(ctx, 0)
	if err != nil {
		return [32]byte{}, fmt.Errorf("genesis hash: %w", err)
	}
	h, err := parseHash(s)
	if err != nil {
		return h, fmt.Errorf("genesis hash: %w", err)
	}
	c.mu.Lock()
	c.genesis = &h
	c.mu.Unlock()
	return h, nil
}

func parseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != 32 {
		return h, fmt.Errorf("bad block hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

// Runtime returns the runtime at block hash at ("" = best block) with its metadata,
// re-reading the metadata only when the spec version differs from the cached one.
func (c *Client) Runtime(ctx context.Context, at string) (*Runtime, error) {
	var v struct {
		SpecName           string `json:"specName"`
		SpecVersion        uint32 `json:"specVersion"`
		TransactionVersion uint32 `json:"transactionVersion"`
	}
	if err := c.call(ctx, &v, "state_getRuntimeVersion", atParams(at)...); err != nil {
		return nil, err
	}
	c.mu.Lock()
	cur := c.runtime
	c.mu.Unlock()
	if cur != nil && cur.SpecVersion == v.SpecVersion && cur.TxVersion == v.TransactionVersion {
		return cur, nil
	}
	var hexMeta string
	if err := c.call(ctx, &hexMeta, "state_getMetadata", atParams(at)...); err != nil {
		return nil, err
	}
	raw, err := rpc.DecodeHex(hexMeta)
	if err != nil {
		return nil, fmt.Errorf("state_getMetadata: %w", err)
	}
	if raw, err = metadata.Unwrap(raw); err != nil {
		return nil, err
	}
	m, err := metadata.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("runtime %s spec %d: %w", v.SpecName, v.SpecVersion, err)
	}
	rt := &Runtime{SpecName: v.SpecName, SpecVersion: v.SpecVersion, TxVersion: v.TransactionVersion, Metadata: m}
	c.mu.Lock()
	c.runtime = rt
	c.mu.Unlock()
	return rt, nil
}

// StorageRaw reads one storage key at block hash at ("" = best); nil when absent.
func (c *Client) StorageRaw(ctx context.Context, key []byte, at string) ([]byte, error) {
	var v *string
	if err := c.call(ctx, &v, "state_getStorage", atParams(at, "0x"+hex.EncodeToString(key))...); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	b, err := rpc.DecodeHex(*v)
	if err != nil {
		return nil, fmt.Errorf("state_getStorage: %w", err)
	}
	return b, nil
}

// Storage reads pallet.item for keys at block hash at and decodes it with the
// metadata (see package metadata for the Go values). An absent Optional entry reads
// as nil, an absent Default entry as its default.
func (c *Client) Storage(ctx context.Context, at, pallet, item string, keys ...any) (any, error) {
	rt, err := c.Runtime(ctx, at)
	if err != nil {
		return nil, err
	}
	raw, err := c.storageRaw(ctx, rt, at, pallet, item, keys...)
	if err != nil {
		return nil, err
	}
	return rt.Metadata.DecodeStorageValue(pallet, item, raw)
}

func (c *Client) storageRaw(ctx context.Context, rt *Runtime, at, pallet, item string, keys ...any) ([]byte, error) {
	key, err := rt.Metadata.StorageKey(pallet, item, keys...)
	if err != nil {
		return nil, err
	}
	raw, err := c.StorageRaw(ctx, key, at)
	if err != nil {
		return nil, fmt.Errorf("storage %s.%s: %w", pallet, item, err)
	}
	return raw, nil
}

// StateCall calls a runtime API function (e.g. "NeuronInfoRuntimeApi_get_neurons_lite")
// with SCALE-encoded args at block hash at and returns the raw SCALE result.
func (c *Client) StateCall(ctx context.Context, fn string, args []byte, at string) ([]byte, error) {
	var v string
	if err := c.call(ctx, &v, "state_call", atParams(at, fn, "0x"+hex.EncodeToString(args))...); err != nil {
		return nil, err
	}
	return rpc.DecodeHex(v)
}

// SubscribeBlocks delivers new best block numbers (chain_subscribeNewHeads). The
// subscription survives reconnects (the rpc client re-subscribes); the channel closes
// when ctx ends, the client closes, or the subscription fails for good.
func (c *Client) SubscribeBlocks(ctx context.Context) (<-chan uint64, error) {
	return c.subscribeHeads(ctx, "chain_subscribeNewHeads", "chain_unsubscribeNewHeads")
}

// SubscribeFinalized delivers finalized block numbers.
func (c *Client) SubscribeFinalized(ctx context.Context) (<-chan uint64, error) {
	return c.subscribeHeads(ctx, "chain_subscribeFinalizedHeads", "chain_unsubscribeFinalizedHeads")
}

func (c *Client) subscribeHeads(ctx context.Context, method, unsub string) (<-chan uint64, error) {
	sub, err := c.rpc.Subscribe(ctx, method, unsub, true)
	if err != nil {
		return nil, err
	}
	out := make(chan uint64, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			raw, err := sub.Next(ctx)
			if err != nil {
				return
			}
			var h header
			if json.Unmarshal(raw, &h) != nil {
				continue
			}
			n, err := parseNumber(h.Number)
			if err != nil {
				continue
			}
			select {
			case out <- n:
			case <-ctx.Done():
				return
			default: // the reader is behind: drop, the next head supersedes this one
			}
		}
	}()
	return out, nil
}

// AccountNextIndex returns the account's next nonce, counting transactions in the
// pool (system_accountNextIndex). A node can answer with a nonce already used by an
// extrinsic this client saw included (the pool forgets it before the new state is
// visible), so the answer is raised to one past the last included one.
func (c *Client) AccountNextIndex(ctx context.Context, account AccountID) (uint64, error) {
	var n uint64
	if err := c.call(ctx, &n, "system_accountNextIndex", account.String()); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(n, c.nonces[account]), nil
}

// errIsRPC reports whether err is an error object from the node (as opposed to a
// transport failure).
func errIsRPC(err error) bool {
	var e *rpc.Error
	return errors.As(err, &e)
}
