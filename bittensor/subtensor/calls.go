package subtensor

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
)

// EncodeCall encodes pallet.call for the current runtime from known argument values:
// only the arguments the runtime's call declares are taken from known, so a value
// the runtime does not use is ignored, while an argument the runtime needs and known
// lacks is an error naming it.
func (c *Client) EncodeCall(ctx context.Context, pallet, call string, known map[string]any) ([]byte, error) {
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		return nil, err
	}
	return encodeCallKnown(rt.Metadata, pallet, call, known)
}

func encodeCallKnown(m *metadata.Metadata, pallet, call string, known map[string]any) ([]byte, error) {
	_, v, err := m.Call(pallet, call)
	if err != nil {
		return nil, err
	}
	args := make(map[string]any, len(v.Fields))
	for _, f := range v.Fields {
		if a, ok := known[f.Name]; ok {
			args[f.Name] = a
		}
	}
	return m.EncodeCall(pallet, call, args)
}

// serveAxonArgs are the serve_axon arguments (pallet_subtensor serving.rs): the IP
// as its numeric u128 value, ip_type 4 or 6, protocol (4 = TCP in bittensor), and two
// reserved placeholders.
func serveAxonArgs(netuid uint16, a AxonInfo) (map[string]any, error) {
	ip, ipType, err := EncodeIP(a.IP)
	if err != nil {
		return nil, err
	}
	if a.IPType == 0 {
		a.IPType = ipType
	}
	return map[string]any{
		"netuid":       netuid,
		"version":      a.Version,
		"ip":           scale.Uint128{Lo: binary.LittleEndian.Uint64(ip[:8]), Hi: binary.LittleEndian.Uint64(ip[8:])},
		"port":         a.Port,
		"ip_type":      a.IPType,
		"protocol":     a.Protocol,
		"placeholder1": a.Placeholder1,
		"placeholder2": a.Placeholder2,
	}, nil
}

// ServeAxon calls SubtensorModule.serve_axon signed by the hotkey (free: Pays::No)
// and waits for inclusion. The chain rejects loopback and zero IPs
// (InvalidIpAddress) and calls within ServingRateLimit blocks of the last one.
func (c *Client) ServeAxon(ctx context.Context, hotkey Signer, netuid uint16, axon AxonInfo) error {
	_, err := c.ServeAxonResult(ctx, hotkey, netuid, axon)
	return err
}

// ServeAxonResult is ServeAxon returning the inclusion result.
func (c *Client) ServeAxonResult(ctx context.Context, hotkey Signer, netuid uint16, axon AxonInfo) (*TxResult, error) {
	args, err := serveAxonArgs(netuid, axon)
	if err != nil {
		return nil, err
	}
	return c.submitCall(ctx, hotkey, SubtensorPallet, "serve_axon", args)
}

// SetWeights calls SubtensorModule.set_weights(netuid, dests, weights, version_key)
// signed by the hotkey and waits for inclusion. weights are u16 values as produced
// by NormalizeWeights.
func (c *Client) SetWeights(ctx context.Context, hotkey Signer, netuid uint16, uids, weights []uint16, versionKey uint64) error {
	_, err := c.SetWeightsResult(ctx, hotkey, netuid, uids, weights, versionKey)
	return err
}

// SetWeightsResult is SetWeights returning the inclusion result.
func (c *Client) SetWeightsResult(ctx context.Context, hotkey Signer, netuid uint16, uids, weights []uint16, versionKey uint64) (*TxResult, error) {
	if len(uids) != len(weights) {
		return nil, fmt.Errorf("set_weights: %d uids but %d weights", len(uids), len(weights))
	}
	return c.submitCall(ctx, hotkey, SubtensorPallet, "set_weights", map[string]any{
		"netuid": netuid, "dests": uids, "weights": weights, "version_key": versionKey,
	})
}

// BurnedRegister calls SubtensorModule.burned_register(netuid, hotkey), signed and
// paid by the coldkey, and waits for inclusion.
func (c *Client) BurnedRegister(ctx context.Context, coldkey Signer, netuid uint16, hotkey AccountID) (*TxResult, error) {
	return c.submitCall(ctx, coldkey, SubtensorPallet, "burned_register", map[string]any{
		"netuid": netuid, "hotkey": scale.AccountID(hotkey),
	})
}

// RegisterNetwork calls SubtensorModule.register_network signed by the coldkey
// (arguments the runtime declares are filled from known, see EncodeCall).
func (c *Client) RegisterNetwork(ctx context.Context, coldkey Signer, known map[string]any) (*TxResult, error) {
	return c.submitCall(ctx, coldkey, SubtensorPallet, "register_network", known)
}

// Sudo wraps an encoded call in Sudo.sudo and submits it signed by the sudo key. Old
// runtimes (the spec-103 test network) register neurons this way (sudo_register).
func (c *Client) Sudo(ctx context.Context, sudoKey Signer, inner []byte) (*TxResult, error) {
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		return nil, err
	}
	_, v, err := rt.Metadata.Call("Sudo", "sudo")
	if err != nil {
		return nil, err
	}
	if len(v.Fields) != 1 {
		return nil, fmt.Errorf("Sudo.sudo takes %d arguments, want 1 (the call)", len(v.Fields))
	}
	idx, err := rt.Metadata.CallIndex("Sudo", "sudo")
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, sudoKey, append(idx[:], inner...))
}

func (c *Client) submitCall(ctx context.Context, signer Signer, pallet, call string, known map[string]any) (*TxResult, error) {
	enc, err := c.EncodeCall(ctx, pallet, call, known)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", pallet, call, err)
	}
	res, err := c.Submit(ctx, signer, enc)
	if err != nil {
		return res, fmt.Errorf("%s.%s: %w", pallet, call, err)
	}
	return res, nil
}
