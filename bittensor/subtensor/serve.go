package subtensor

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotRegistered is returned (wrapped) by EnsureServed when the hotkey holds no uid
// on the subnet.
var ErrNotRegistered = errors.New("hotkey is not registered")

// EnsureServed publishes want as hotkey's axon on netuid unless the chain already
// holds the same endpoint (AxonInfo.SameEndpoint), as operators are told to do to
// stay clear of ServingRateLimit. IPType is derived from want.IP when 0. It returns
// the hotkey's uid and whether serve_axon was sent.
func EnsureServed(ctx context.Context, c Chain, hotkey Signer, netuid uint16, want AxonInfo) (uid uint16, sent bool, err error) {
	if _, ipType, err := EncodeIP(want.IP); err != nil {
		return 0, false, err
	} else if want.IPType == 0 {
		want.IPType = ipType
	}
	hk := AccountID(hotkey.PublicKey())
	registered, uid, err := c.IsRegistered(ctx, netuid, hk)
	if err != nil {
		return 0, false, err
	}
	if !registered {
		return 0, false, fmt.Errorf("%w: %s on netuid %d", ErrNotRegistered, hk, netuid)
	}
	cur, ok, err := c.AxonInfo(ctx, netuid, hk)
	if err != nil {
		return uid, false, err
	}
	if ok && cur.SameEndpoint(want) {
		return uid, false, nil
	}
	if err := c.ServeAxon(ctx, hotkey, netuid, want); err != nil {
		return uid, false, err
	}
	return uid, true, nil
}
