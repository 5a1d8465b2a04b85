package subtensor

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// SS58Format is the address format bittensor uses (substrate generic, 42).
const SS58Format = wallet.BittensorSS58Prefix

// AccountID is a 32-byte substrate account (an sr25519 public key). Its text form is
// the SS58 address with format 42, as bittensor prints hotkeys and coldkeys.
type AccountID [32]byte

// String returns the SS58 address.
func (a AccountID) String() string { return wallet.SS58Encode(a, SS58Format) }

// IsZero reports whether every byte is zero.
func (a AccountID) IsZero() bool { return a == AccountID{} }

// MarshalText encodes the SS58 address.
func (a AccountID) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText accepts an SS58 address (any format) or 0x-prefixed hex.
func (a *AccountID) UnmarshalText(b []byte) error {
	id, err := ParseAccountID(string(b))
	if err != nil {
		return err
	}
	*a = id
	return nil
}

// ParseAccountID parses an SS58 address or a 0x-prefixed 64-digit hex public key.
func ParseAccountID(s string) (AccountID, error) {
	var id AccountID
	if strings.HasPrefix(s, "0x") {
		b, err := hex.DecodeString(s[2:])
		if err != nil || len(b) != 32 {
			return id, fmt.Errorf("account %q: want 0x and 64 hex digits", s)
		}
		copy(id[:], b)
		return id, nil
	}
	pub, _, err := wallet.SS58Decode(s)
	if err != nil {
		return id, fmt.Errorf("account %q: %w", s, err)
	}
	return AccountID(pub), nil
}
