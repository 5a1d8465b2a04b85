package subtensor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/rpc"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
)

// TxResult is a submitted extrinsic that made it into a block.
type TxResult struct {
	BlockHash string   // block that includes it
	Index     int      // position in the block
	Finalized bool     // the block was reported finalized
	Events    []string // "Pallet.Event" of the extrinsic's events, in order
}

// HasEvent reports whether the extrinsic emitted pallet.event (e.g. "SubtensorModule.AxonServed").
func (r *TxResult) HasEvent(name string) bool {
	for _, e := range r.Events {
		if e == name {
			return true
		}
	}
	return false
}

// Submit signs call (as encoded by EncodeCall) with signer and submits it with
// author_submitAndWatchExtrinsic, then waits for the block that includes it (or
// finalizes it, with WaitFinalized) and reads its events. A failed dispatch returns a
// *ModuleError or *DispatchError together with the result; a transaction the node
// rejects returns an error wrapping ErrInvalidTransaction; ctx bounds the whole wait.
//
// The signed extensions follow the runtime's metadata (see signedExtensions); the era
// is mortal with EraPeriod (immortal when 0), the nonce is system_accountNextIndex,
// the tip is zero.
func (c *Client) Submit(ctx context.Context, signer Signer, call []byte) (*TxResult, error) {
	ext, nonce, err := c.signCall(ctx, signer, call)
	if err != nil {
		return nil, err
	}
	res, err := c.SubmitSigned(ctx, ext)
	if res != nil { // included (even when the dispatch failed): the nonce is spent
		who := AccountID(signer.PublicKey())
		c.mu.Lock()
		c.nonces[who] = max(c.nonces[who], nonce+1)
		c.mu.Unlock()
	}
	return res, err
}

// SignCall builds the signed extrinsic of call for the current best block.
func (c *Client) SignCall(ctx context.Context, signer Signer, call []byte) ([]byte, error) {
	ext, _, err := c.signCall(ctx, signer, call)
	return ext, err
}

func (c *Client) signCall(ctx context.Context, signer Signer, call []byte) ([]byte, uint64, error) {
	number, hash, err := c.Head(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("sign: %w", err)
	}
	rt, err := c.Runtime(ctx, hash)
	if err != nil {
		return nil, 0, fmt.Errorf("sign: %w", err)
	}
	genesis, err := c.GenesisHash(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("sign: %w", err)
	}
	nonce, err := c.AccountNextIndex(ctx, AccountID(signer.PublicKey()))
	if err != nil {
		return nil, 0, fmt.Errorf("sign: nonce: %w", err)
	}
	st := signingState{
		SpecVersion: rt.SpecVersion, TxVersion: rt.TxVersion,
		Genesis: genesis, EraBirth: genesis, Nonce: nonce,
	}
	if c.EraPeriod > 0 {
		st.Era = MortalEra(c.EraPeriod, number)
		birth := st.Era.Birth(number)
		birthHash := hash
		if birth != number {
			if birthHash, err = c.BlockHash(ctx, birth); err != nil {
				return nil, 0, fmt.Errorf("sign: era birth block: %w", err)
			}
		}
		if st.EraBirth, err = parseHash(birthHash); err != nil {
			return nil, 0, fmt.Errorf("sign: %w", err)
		}
	}
	ext, err := signExtrinsic(rt.Metadata, signer, call, st)
	if err != nil {
		return nil, 0, fmt.Errorf("runtime %s spec %d: %w", rt.SpecName, rt.SpecVersion, err)
	}
	return ext, nonce, nil
}

// inspectTimeout bounds reading an including block after the caller's deadline.
const inspectTimeout = 10 * time.Second

// txStatus is one author_submitAndWatchExtrinsic notification: a bare string
// ("future", "ready", "dropped", "invalid") or an object with one key.
type txStatus struct {
	word      string
	inBlock   string
	finalized string
	other     string // usurped, retracted, finalityTimeout, broadcast
}

func parseTxStatus(raw json.RawMessage) (txStatus, error) {
	var st txStatus
	if json.Unmarshal(raw, &st.word) == nil {
		return st, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return st, fmt.Errorf("extrinsic status %s: %w", raw, err)
	}
	for k, v := range obj {
		var hash string
		_ = json.Unmarshal(v, &hash)
		switch k {
		case "inBlock":
			st.inBlock = hash
		case "finalized":
			st.finalized = hash
		default:
			st.other = k
		}
	}
	return st, nil
}

// SubmitSigned submits a signed extrinsic and watches it (see Submit).
func (c *Client) SubmitSigned(ctx context.Context, ext []byte) (*TxResult, error) {
	sub, err := c.rpc.SubmitAndWatchExtrinsic(ctx, ext)
	if err != nil {
		var rerr *rpc.Error
		if errors.As(err, &rerr) {
			return nil, fmt.Errorf("%w: %s", ErrInvalidTransaction, txRejection(rerr))
		}
		return nil, err
	}
	defer sub.Close()
	var included string
	for {
		raw, err := sub.Next(ctx)
		if err != nil {
			if included != "" {
				// Seen in a block but not finalized in time: report what we know, with
				// a little time of its own since ctx may be what ended the wait.
				ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inspectTimeout)
				res, derr := c.inspect(ictx, included, ext)
				cancel()
				if derr != nil {
					return res, derr
				}
				return res, fmt.Errorf("extrinsic in block %s but not finalized: %w", included, err)
			}
			return nil, fmt.Errorf("watch extrinsic (it may still be included): %w", err)
		}
		st, err := parseTxStatus(raw)
		if err != nil {
			return nil, err
		}
		switch {
		case st.finalized != "":
			res, err := c.inspect(ctx, st.finalized, ext)
			if res != nil {
				res.Finalized = true
			}
			return res, err
		case st.inBlock != "":
			included = st.inBlock
			if !c.WaitFinalized {
				return c.inspect(ctx, st.inBlock, ext)
			}
		case st.word == "dropped", st.word == "invalid", st.other == "usurped", st.other == "finalityTimeout":
			name := st.word + st.other
			return nil, fmt.Errorf("%w: status %s", ErrTxDropped, name)
		}
	}
}

// txRejection turns a 1010/1011/1012 error into its reason text: a node sends
// "Invalid Transaction" with a sentence as data ("Transaction has a bad signature"),
// chopsticks a JSON object such as {"invalid":{"badProof":null}}, shown as
// "invalid.badProof".
func txRejection(e *rpc.Error) string {
	s := fmt.Sprintf("%d %s", e.Code, e.Message)
	if len(e.Data) == 0 || string(e.Data) == "null" {
		return s
	}
	var d any
	if json.Unmarshal(e.Data, &d) != nil {
		return s + ": " + string(e.Data)
	}
	var path []string
	for depth := 0; depth < 4; depth++ {
		obj, ok := d.(map[string]any)
		if !ok || len(obj) != 1 {
			break
		}
		for k, v := range obj {
			path, d = append(path, k), v
		}
	}
	switch {
	case len(path) > 0 && d == nil:
		return s + ": " + strings.Join(path, ".")
	case len(path) == 0:
		if str, ok := d.(string); ok {
			return s + ": " + str
		}
	}
	return s + ": " + string(e.Data)
}

// inspect finds ext in block hash and decodes its events; a failed dispatch becomes
// the returned error.
func (c *Client) inspect(ctx context.Context, hash string, ext []byte) (*TxResult, error) {
	var blk struct {
		Block struct {
			Extrinsics []string `json:"extrinsics"`
		} `json:"block"`
	}
	if err := c.call(ctx, &blk, "chain_getBlock", hash); err != nil {
		return nil, fmt.Errorf("read block %s: %w", hash, err)
	}
	want := "0x" + hex.EncodeToString(ext)
	res := &TxResult{BlockHash: hash, Index: -1}
	for i, x := range blk.Block.Extrinsics {
		if strings.EqualFold(x, want) {
			res.Index = i
			break
		}
	}
	if res.Index < 0 {
		return nil, fmt.Errorf("extrinsic not found in block %s", hash)
	}
	rt, err := c.Runtime(ctx, hash)
	if err != nil {
		return nil, err
	}
	raw, err := c.storageRaw(ctx, rt, hash, "System", "Events")
	if err != nil {
		return nil, err
	}
	v, err := rt.Metadata.DecodeStorageValue("System", "Events", raw)
	if err != nil {
		return res, fmt.Errorf("decode events of block %s: %w", hash, err)
	}
	records, _ := v.([]any)
	var failure error
	for _, r := range records {
		rec, ok := r.(map[string]any)
		if !ok {
			continue
		}
		phase, ok := rec["phase"].(metadata.Enum)
		if !ok || phase.Variant != "ApplyExtrinsic" {
			continue
		}
		if idx, err := asUint(phase.Value); err != nil || idx != uint64(res.Index) {
			continue
		}
		outer, ok := rec["event"].(metadata.Enum)
		if !ok {
			continue
		}
		inner, ok := outer.Value.(metadata.Enum)
		if !ok {
			continue
		}
		res.Events = append(res.Events, outer.Variant+"."+inner.Variant)
		if outer.Variant == "System" && inner.Variant == "ExtrinsicFailed" {
			failure = dispatchError(rt.Metadata, inner.Value)
		}
	}
	return res, failure
}

// dispatchError converts System.ExtrinsicFailed's DispatchError into a readable error:
// DispatchError::Module is resolved to the pallet's error name and docs.
func dispatchError(m *metadata.Metadata, fields any) error {
	var de any
	switch f := fields.(type) {
	case map[string]any:
		de = f["dispatch_error"]
	case []any:
		if len(f) > 0 {
			de = f[0]
		}
	}
	e, ok := de.(metadata.Enum)
	if !ok {
		return &DispatchError{Kind: "unknown", Detail: fmt.Sprint(fields)}
	}
	if e.Variant != "Module" {
		detail := ""
		if inner, ok := e.Value.(metadata.Enum); ok {
			detail = inner.Variant
		} else if e.Value != nil {
			detail = fmt.Sprint(e.Value)
		}
		return &DispatchError{Kind: e.Variant, Detail: detail}
	}
	mod, _ := e.Value.(map[string]any)
	pallet, err1 := asUint(mod["index"])
	var errIndex uint64
	var err2 error
	switch x := mod["error"].(type) {
	case []byte:
		if len(x) == 0 {
			err2 = errors.New("empty error bytes")
		} else {
			errIndex = uint64(x[0])
		}
	default:
		errIndex, err2 = asUint(x)
	}
	if err1 != nil || err2 != nil || pallet > 255 || errIndex > 255 {
		return &DispatchError{Kind: "Module", Detail: fmt.Sprint(e.Value)}
	}
	me, err := m.LookupModuleError(uint8(pallet), uint8(errIndex))
	if err != nil {
		return &DispatchError{Kind: "Module", Detail: fmt.Sprintf("pallet %d error %d", pallet, errIndex)}
	}
	return &ModuleError{Pallet: me.Pallet, Name: me.Name, Docs: me.Docs}
}
