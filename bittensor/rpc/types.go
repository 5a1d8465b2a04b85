package rpc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Bytes is a byte string carried in JSON as "0x"-prefixed hex (storage keys and values,
// hashes, extrinsics, state_call results).
type Bytes []byte

// MarshalJSON encodes b as a "0x…" string.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal("0x" + hex.EncodeToString(b))
}

// UnmarshalJSON decodes a "0x…" string; JSON null leaves b nil (an absent storage value).
func (b *Bytes) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("hex bytes: %w", err)
	}
	p, err := DecodeHex(s)
	if err != nil {
		return err
	}
	*b = p
	return nil
}

// String returns the "0x…" form.
func (b Bytes) String() string { return "0x" + hex.EncodeToString(b) }

// DecodeHex decodes a hex string with an optional 0x prefix.
func DecodeHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	p, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("hex bytes: %w", err)
	}
	return p, nil
}

// HexNumber is a block number as nodes send it: a hex string ("0x1b", or zero-padded
// "0x00000001" from chopsticks) or a JSON number.
type HexNumber uint64

// UnmarshalJSON accepts "0x…" hex strings, decimal strings and JSON numbers.
func (n *HexNumber) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		v, err := strconv.ParseUint(string(data), 10, 64)
		if err != nil {
			return fmt.Errorf("block number %s: %w", data, err)
		}
		*n = HexNumber(v)
		return nil
	}
	var v uint64
	var err error
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		v, err = strconv.ParseUint(rest, 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return fmt.Errorf("block number %q: %w", s, err)
	}
	*n = HexNumber(v)
	return nil
}

// MarshalJSON encodes n as a "0x…" hex string.
func (n HexNumber) MarshalJSON() ([]byte, error) {
	return json.Marshal("0x" + strconv.FormatUint(uint64(n), 16))
}

// Header is a block header as returned by chain_getHeader and head subscriptions.
type Header struct {
	ParentHash     Bytes     `json:"parentHash"`
	Number         HexNumber `json:"number"`
	StateRoot      Bytes     `json:"stateRoot"`
	ExtrinsicsRoot Bytes     `json:"extrinsicsRoot"`
	Digest         struct {
		Logs []Bytes `json:"logs"`
	} `json:"digest"`
}

// ParseHeader decodes a header notification or result.
func ParseHeader(raw json.RawMessage) (*Header, error) {
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	return &h, nil
}

// SubscribeNewHeads subscribes to new best-block headers (resumed after reconnects).
func (c *Client) SubscribeNewHeads(ctx context.Context) (*Subscription, error) {
	return c.Subscribe(ctx, "chain_subscribeNewHeads", "chain_unsubscribeNewHeads", true)
}

// SubscribeFinalizedHeads subscribes to finalized headers (resumed after reconnects).
func (c *Client) SubscribeFinalizedHeads(ctx context.Context) (*Subscription, error) {
	return c.Subscribe(ctx, "chain_subscribeFinalizedHeads", "chain_unsubscribeFinalizedHeads", true)
}

// SubmitAndWatchExtrinsic submits a signed extrinsic and returns the subscription of its
// status updates ("ready", {"inBlock": hash}, {"finalized": hash}, "invalid", ...). It is
// not resumed after a reconnect: the caller decides whether to resubmit.
func (c *Client) SubmitAndWatchExtrinsic(ctx context.Context, extrinsic []byte) (*Subscription, error) {
	return c.Subscribe(ctx, "author_submitAndWatchExtrinsic", "author_unwatchExtrinsic", false, Bytes(extrinsic))
}
