package subtensor

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// MockChain is an offline chain for running the miner without a node (network
// "mock"). It holds one metagraph, counts blocks with the wall clock (BlockTime per
// block from the snapshot's block), and applies ServeAxon and SetWeights to its own
// copy of the snapshot with the chain's basic checks (the hotkey must be registered,
// the IP must be valid). It never touches the network.
type MockChain struct {
	BlockTime time.Duration // default 12 s, bittensor's block time

	mu     sync.Mutex
	graph  *Metagraph // netuid-specific snapshot; nil netuid means "any netuid" (default graph)
	any    bool       // default graph: served for every netuid
	start  time.Time
	closed bool
}

// NewMockChain returns a mock whose every subnet has one neuron: uid 0 = hotkey, no
// stake, no validator permit, block 0.
func NewMockChain(hotkey AccountID) *MockChain {
	g, _ := NewMetagraph(0, 0, []Neuron{{UID: 0, Hotkey: hotkey, Active: true, Axon: AxonInfo{IP: "0.0.0.0"}}})
	return &MockChain{graph: g, any: true, start: time.Now()}
}

// NewMockChainFrom returns a mock serving metagraph m for m.Netuid only.
func NewMockChainFrom(m *Metagraph) *MockChain {
	return &MockChain{graph: m, start: time.Now()}
}

// maxMockFile bounds the mock metagraph file.
const maxMockFile = 64 << 20

// LoadMockChain reads a metagraph JSON file (format: package doc) into a MockChain.
func LoadMockChain(path string) (*MockChain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mock metagraph: %w", err)
	}
	defer f.Close()
	m, err := ReadMetagraphJSON(f)
	if err != nil {
		return nil, fmt.Errorf("mock metagraph %s: %w", path, err)
	}
	return NewMockChainFrom(m), nil
}

// ReadMetagraphJSON decodes a metagraph in the JSON form that Metagraph marshals to
// (and `btlm-miner chain metagraph --json` prints). Unknown fields are an error; an
// axon ip left empty means 0.0.0.0.
func ReadMetagraphJSON(r io.Reader) (*Metagraph, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxMockFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMockFile {
		return nil, fmt.Errorf("larger than %d bytes", maxMockFile)
	}
	var raw Metagraph
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, errors.New("data after the metagraph object")
	}
	for i := range raw.Neurons {
		a := &raw.Neurons[i].Axon
		if a.IP == "" {
			a.IP = "0.0.0.0"
		}
		if _, ipType, err := EncodeIP(a.IP); err != nil {
			return nil, fmt.Errorf("neuron uid %d: %w", raw.Neurons[i].UID, err)
		} else if a.IPType == 0 {
			a.IPType = ipType
		}
	}
	return NewMetagraph(raw.Netuid, raw.Block, raw.Neurons)
}

func (c *MockChain) blockLocked() uint64 {
	bt := c.BlockTime
	if bt <= 0 {
		bt = 12 * time.Second
	}
	return c.graph.Block + uint64(time.Since(c.start)/bt)
}

func (c *MockChain) check(ctx context.Context) error {
	if c.closed {
		return errors.New("mock chain: closed")
	}
	return ctx.Err()
}

// Block returns the snapshot's block plus the blocks elapsed since the mock started.
func (c *MockChain) Block(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(ctx); err != nil {
		return 0, err
	}
	return c.blockLocked(), nil
}

// SubscribeBlocks delivers each new block number as the clock advances.
func (c *MockChain) SubscribeBlocks(ctx context.Context) (<-chan uint64, error) {
	c.mu.Lock()
	if err := c.check(ctx); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	bt := c.BlockTime
	if bt <= 0 {
		bt = 12 * time.Second
	}
	last := c.blockLocked()
	c.mu.Unlock()
	ch := make(chan uint64, 1)
	go func() {
		defer close(ch)
		t := time.NewTicker(max(bt/4, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			c.mu.Lock()
			closed, b := c.closed, c.blockLocked()
			c.mu.Unlock()
			if closed {
				return
			}
			if b != last {
				last = b
				select {
				case ch <- b:
				default:
				}
			}
		}
	}()
	return ch, nil
}

// graphFor returns the snapshot for netuid, at the current mock block.
func (c *MockChain) graphFor(netuid uint16) (*Metagraph, error) {
	if !c.any && netuid != c.graph.Netuid {
		return nil, fmt.Errorf("mock chain: subnet %d does not exist (the mock metagraph is netuid %d)", netuid, c.graph.Netuid)
	}
	g := *c.graph
	g.Netuid = netuid
	g.Block = c.blockLocked()
	g.Neurons = append([]Neuron(nil), c.graph.Neurons...)
	if err := g.index(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Metagraph returns a copy of the mock snapshot at the current mock block.
func (c *MockChain) Metagraph(ctx context.Context, netuid uint16) (*Metagraph, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	return c.graphFor(netuid)
}

// IsRegistered looks hotkey up in the mock snapshot.
func (c *MockChain) IsRegistered(ctx context.Context, netuid uint16, hotkey AccountID) (bool, uint16, error) {
	m, err := c.Metagraph(ctx, netuid)
	if err != nil {
		return false, 0, err
	}
	uid, ok := m.UID(hotkey)
	return ok, uid, nil
}

// AxonInfo returns hotkey's axon from the mock snapshot.
func (c *MockChain) AxonInfo(ctx context.Context, netuid uint16, hotkey AccountID) (AxonInfo, bool, error) {
	m, err := c.Metagraph(ctx, netuid)
	if err != nil {
		return AxonInfo{}, false, err
	}
	n := m.ByHotkey(hotkey)
	if n == nil || !n.Axon.Serving() {
		return AxonInfo{}, false, nil
	}
	return n.Axon, true, nil
}

// update applies fn to hotkey's neuron in a new copy of the snapshot.
func (c *MockChain) update(ctx context.Context, netuid uint16, hotkey AccountID, fn func(*Neuron, uint64)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(ctx); err != nil {
		return err
	}
	g, err := c.graphFor(netuid)
	if err != nil {
		return err
	}
	uid, ok := g.UID(hotkey)
	if !ok {
		return &ModuleError{Pallet: "SubtensorModule", Name: "NotRegistered", Docs: "mock chain: hotkey " + hotkey.String() + " is not registered"}
	}
	fn(&g.Neurons[uid], g.Block)
	g.Netuid, g.Block = c.graph.Netuid, c.graph.Block
	c.graph = g
	return nil
}

// ServeAxon records axon for the signing hotkey, rejecting what the chain rejects
// (unregistered hotkey, invalid or non-public IP, zero port is allowed).
func (c *MockChain) ServeAxon(ctx context.Context, hotkey Signer, netuid uint16, axon AxonInfo) error {
	ip, ipType, err := EncodeIP(axon.IP)
	if err != nil {
		return err
	}
	if !validChainIP(ip, ipType) {
		return &ModuleError{Pallet: "SubtensorModule", Name: "InvalidIpAddress", Docs: "mock chain: " + axon.IP + " is not a public address"}
	}
	return c.update(ctx, netuid, AccountID(hotkey.PublicKey()), func(n *Neuron, block uint64) {
		axon.Block = block
		axon.IPType = ipType
		n.Axon = axon
	})
}

// SetWeights records the weight update as the neuron's last_update.
func (c *MockChain) SetWeights(ctx context.Context, hotkey Signer, netuid uint16, uids, weights []uint16, versionKey uint64) error {
	if len(uids) != len(weights) {
		return &ModuleError{Pallet: "SubtensorModule", Name: "WeightVecNotEqualSize", Docs: "mock chain: uids and weights differ in length"}
	}
	return c.update(ctx, netuid, AccountID(hotkey.PublicKey()), func(n *Neuron, block uint64) {
		n.LastUpdate = block
	})
}

// Close makes later calls fail.
func (c *MockChain) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// validChainIP mirrors subtensor's is_valid_ip_address (2023
// pallets/subtensor/src/serving.rs; HEAD additionally allows zero): the type is 4 or
// 6; the value is not zero; an IPv4 value is below 2^32-1 and not 127.0.0.1; an IPv6
// value is neither ::1 nor all ones.
func validChainIP(u128 [16]byte, ipType uint8) bool {
	lo, hi := binary.LittleEndian.Uint64(u128[:8]), binary.LittleEndian.Uint64(u128[8:])
	switch {
	case lo == 0 && hi == 0:
		return false
	case ipType == 4:
		return hi == 0 && lo < 0xffffffff && lo != 0x7f000001
	case ipType == 6:
		return !(hi == 0 && lo == 1) && !(hi == ^uint64(0) && lo == ^uint64(0))
	}
	return false
}
