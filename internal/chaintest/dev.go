package chaintest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// Call makes one JSON-RPC call over HTTP (independent of the websocket client under
// test) and unmarshals the result into result (nil discards it).
func (n *Node) Call(ctx context.Context, result any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("chaintest %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.HTTPURL(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("chaintest %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("chaintest %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("chaintest %s: %w", method, err)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("chaintest %s: HTTP %d: %q: %w", method, resp.StatusCode, truncate(data), err)
	}
	if out.Error != nil {
		return fmt.Errorf("chaintest %s: rpc error %d: %s %s", method, out.Error.Code, out.Error.Message, out.Error.Data)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(out.Result, result); err != nil {
		return fmt.Errorf("chaintest %s: result %q: %w", method, truncate(out.Result), err)
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// Address formats an account id as chopsticks' dev_setStorage accepts it ("0x" + hex
// of the 32-byte public key).
func Address(a scale.AccountID) string { return "0x" + hex.EncodeToString(a[:]) }

// SetStorage calls dev_setStorage with chopsticks' JSON override form: {"Pallet":
// {"Item": value}} for plain values and {"Pallet": {"Item": [[[key...], value]]}} for
// maps. Beware: a value of 0 deletes the entry (the default then reads back); use
// SetStorageRaw to store a real zero.
func (n *Node) SetStorage(ctx context.Context, changes map[string]any) error {
	return n.setStorage(ctx, changes)
}

func (n *Node) setStorage(ctx context.Context, param any) error {
	if err := n.Call(ctx, nil, "dev_setStorage", param); err != nil {
		return err
	}
	n.mu.Lock()
	n.overrides = append(n.overrides, param)
	n.mu.Unlock()
	return nil
}

// replayOverrides re-applies the storage overrides after a persistent restart.
func (n *Node) replayOverrides() error {
	if !n.opts.Persist {
		return nil
	}
	n.mu.Lock()
	overrides := append([]any(nil), n.overrides...)
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, o := range overrides {
		if err := n.Call(ctx, nil, "dev_setStorage", o); err != nil {
			return fmt.Errorf("chaintest: replay storage override %d after restart: %w", i, err)
		}
	}
	return nil
}

// SetStorageRaw sets raw storage: key → SCALE value (nil deletes the key).
func (n *Node) SetStorageRaw(ctx context.Context, kv map[string][]byte) error {
	pairs := make([][2]any, 0, len(kv))
	for k, v := range kv {
		var val any
		if v != nil {
			val = "0x" + hex.EncodeToString(v)
		}
		pairs = append(pairs, [2]any{k, val})
	}
	return n.setStorage(ctx, pairs)
}

// NewBlock builds count blocks (dev_newBlock) and returns the new head hash.
func (n *Node) NewBlock(ctx context.Context, count int) (string, error) {
	var hash string
	err := n.Call(ctx, &hash, "dev_newBlock", map[string]any{"count": count})
	return hash, err
}

// BlockNumber returns the head's block number (chain_getHeader).
func (n *Node) BlockNumber(ctx context.Context) (uint64, error) {
	var h struct {
		Number string `json:"number"`
	}
	if err := n.Call(ctx, &h, "chain_getHeader"); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(trim0x(h.Number), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("chaintest: block number %q: %w", h.Number, err)
	}
	return v, nil
}

func trim0x(s string) string {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:]
	}
	return s
}

// Fund gives each account free balance (in rao) and one provider reference, so it can
// pay fees and sign (System.Account via dev_setStorage).
func (n *Node) Fund(ctx context.Context, free uint64, accounts ...scale.AccountID) error {
	entries := make([]any, 0, len(accounts))
	for _, a := range accounts {
		entries = append(entries, []any{[]any{Address(a)},
			map[string]any{"providers": 1, "data": map[string]any{"free": strconv.FormatUint(free, 10)}}})
	}
	return n.SetStorage(ctx, map[string]any{"System": map[string]any{"Account": entries}})
}

// SetSudo makes account the Sudo key (the genesis sudo keys' secrets are unknown).
func (n *Node) SetSudo(ctx context.Context, account scale.AccountID) error {
	return n.SetStorage(ctx, map[string]any{"Sudo": map[string]any{"Key": Address(account)}})
}

// RelaxRateLimits sets the rate limits tests trip over to 1 block (not 0: the JSON form
// treats 0 as delete): WeightsSetRateLimit and ServingRateLimit of each netuid, and the
// global TxRateLimit and NetworkRateLimit (the latter does not exist in spec 103).
func (n *Node) RelaxRateLimits(ctx context.Context, netuids ...uint16) error {
	perNet := make([]any, 0, len(netuids))
	for _, id := range netuids {
		perNet = append(perNet, []any{[]any{id}, 1})
	}
	items := map[string]any{"TxRateLimit": 1}
	if len(perNet) > 0 {
		items["WeightsSetRateLimit"] = perNet
		items["ServingRateLimit"] = perNet
	}
	if n.Runtime() != Testfinney {
		items["NetworkRateLimit"] = 1
	}
	return n.SetStorage(ctx, map[string]any{"SubtensorModule": items})
}
