package axon

import (
	"container/list"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// NonceStore remembers the last accepted nonce per "dendriteHotkey:uuid" key.
// Implementations must be safe for concurrent use.
type NonceStore interface {
	// Last returns the last accepted nonce for key.
	Last(key string) (nonce int64, seen bool)
	// Advance records nonce for key if it is greater than the last one and reports
	// whether it did (atomically, so two requests with one nonce cannot both pass).
	Advance(key string, nonce int64) bool
}

// AllowedDelta is the nonce window slack of bittensor ≥ 7.4 (ALLOWED_DELTA, 4 s).
const AllowedDelta = 4 * time.Second

// verifyError is a 401 reason; its text follows bittensor 10.2.0 default_verify.
type verifyError string

func (e verifyError) Error() string { return string(e) }

// verifyRequest implements default_verify (axon-protocol.md §4.2, §5) with the Go
// rules: nonce, uuid, hotkey and signature are required; the wall-clock window
// applies only to dendrite versions >= 7002000; nonces strictly increase per
// hotkey:uuid; the store is updated only after the signature verifies.
func (a *Axon) verifyRequest(hv *synapse.HeaderView, timeout time.Duration) error {
	d := &hv.Dendrite
	if d.Nonce == nil {
		return verifyError("Missing Nonce")
	}
	if d.Hotkey == nil || *d.Hotkey == "" {
		return verifyError("Missing dendrite hotkey")
	}
	if d.UUID == nil || *d.UUID == "" {
		return verifyError("Missing dendrite uuid")
	}
	if d.Signature == nil || *d.Signature == "" {
		return verifyError("Missing Signature")
	}
	pub, _, err := wallet.SS58Decode(*d.Hotkey)
	if err != nil {
		return verifyError(fmt.Sprintf("Invalid SS58 address %q: %v", truncate(*d.Hotkey, 64), err))
	}
	sig, err := decodeSignature(*d.Signature)
	if err != nil {
		return verifyError(err.Error())
	}
	nonce := *d.Nonce
	key := *d.Hotkey + ":" + *d.UUID
	if err := a.checkNonce(key, nonce, d.Version, timeout); err != nil {
		return err
	}
	msg := make([]byte, 0, 256)
	msg = strconv.AppendInt(msg, nonce, 10)
	msg = append(msg, '.')
	msg = append(msg, *d.Hotkey...)
	msg = append(msg, '.')
	msg = append(msg, a.hotkey.SS58()...)
	msg = append(msg, '.')
	msg = append(msg, *d.UUID...)
	msg = append(msg, '.')
	msg = append(msg, hv.ComputedBodyHash...)
	if !wallet.Verify(pub, msg, sig) {
		return verifyError(fmt.Sprintf("Signature mismatch with %s and %s", msg, *d.Signature))
	}
	if !a.nonces.Advance(key, nonce) {
		return verifyError("Nonce is too old, a newer one was last processed")
	}
	return nil
}

func (a *Axon) checkNonce(key string, nonce int64, version *int, timeout time.Duration) error {
	last, seen := a.nonces.Last(key)
	if seen {
		if nonce <= last {
			return verifyError("Nonce is too old, a newer one was last processed")
		}
		return nil
	}
	if version != nil && *version >= synapse.Version7_2_0 {
		now := a.now().UnixNano()
		allowed := AllowedDelta + timeout
		if nonce <= now-int64(allowed) {
			return verifyError(fmt.Sprintf("Nonce is too old: acceptable delta is %.2f seconds but request was %.2f seconds old",
				allowed.Seconds(), float64(now-nonce)/1e9))
		}
	}
	return nil
}

func decodeSignature(s string) ([]byte, error) {
	if len(s) != 2+2*wallet.SignatureSize || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return nil, errors.New("Signature must be 0x followed by 128 hex digits")
	}
	sig, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, errors.New("Signature must be 0x followed by 128 hex digits")
	}
	return sig, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// MemoryNonceStore is a bounded in-memory NonceStore: sharded maps, each evicting its
// least recently advanced key when full. An evicted key is first-seen again, so its
// owner's next nonce (or, for 6.1.0 dendrites, a replay of an old request) is accepted
// as new; size it well above the number of live dendrites.
type MemoryNonceStore struct {
	seed   maphash.Seed
	shards [nonceShards]nonceShard
}

const nonceShards = 16

type nonceShard struct {
	mu    sync.Mutex
	cap   int
	items map[string]*list.Element
	order list.List // front = most recent
}

type nonceEntry struct {
	key   string
	nonce int64
}

// NewMemoryNonceStore returns a store holding about capacity keys.
func NewMemoryNonceStore(capacity int) *MemoryNonceStore {
	s := &MemoryNonceStore{seed: maphash.MakeSeed()}
	per := max(capacity/nonceShards, 1)
	for i := range s.shards {
		s.shards[i].cap = per
		s.shards[i].items = make(map[string]*list.Element)
	}
	return s
}

func (s *MemoryNonceStore) shard(key string) *nonceShard {
	return &s.shards[maphash.String(s.seed, key)%nonceShards]
}

// Last implements NonceStore.
func (s *MemoryNonceStore) Last(key string) (int64, bool) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.items[key]; ok {
		return e.Value.(*nonceEntry).nonce, true
	}
	return 0, false
}

// Advance implements NonceStore.
func (s *MemoryNonceStore) Advance(key string, nonce int64) bool {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.items[key]; ok {
		ent := e.Value.(*nonceEntry)
		if nonce <= ent.nonce {
			return false
		}
		ent.nonce = nonce
		sh.order.MoveToFront(e)
		return true
	}
	if sh.order.Len() >= sh.cap {
		old := sh.order.Back()
		sh.order.Remove(old)
		delete(sh.items, old.Value.(*nonceEntry).key)
	}
	sh.items[key] = sh.order.PushFront(&nonceEntry{key, nonce})
	return true
}

// Len returns the number of keys held.
func (s *MemoryNonceStore) Len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += s.shards[i].order.Len()
		s.shards[i].mu.Unlock()
	}
	return n
}
