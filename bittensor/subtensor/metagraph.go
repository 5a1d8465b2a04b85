package subtensor

import (
	"fmt"
	"sync/atomic"
)

// Neuron is one uid of a subnet, with the fields of NeuronInfoLite
// (opentensor/subtensor pallets/subtensor/src/neuron_info.rs) as the chain stores
// them. bittensor 6.1.0 (chain_data.py NeuronInfoLite.from_neuron_info) normalises
// rank, trust, consensus, incentive, dividends and validator_trust by /65535 and
// stake and emission by /1e9; the *F methods give those values.
type Neuron struct {
	UID             uint16    `json:"uid"`
	Hotkey          AccountID `json:"hotkey"`
	Coldkey         AccountID `json:"coldkey"`
	Active          bool      `json:"active"`
	Stake           uint64    `json:"stake"` // rao, summed over the stake entries
	Rank            uint16    `json:"rank"`
	Trust           uint16    `json:"trust"`
	ValidatorTrust  uint16    `json:"validator_trust"`
	Consensus       uint16    `json:"consensus"`
	Incentive       uint16    `json:"incentive"`
	Dividends       uint16    `json:"dividends"`
	Emission        uint64    `json:"emission"` // rao per block
	LastUpdate      uint64    `json:"last_update"`
	ValidatorPermit bool      `json:"validator_permit"`
	PruningScore    uint16    `json:"pruning_score"`
	Axon            AxonInfo  `json:"axon"`
}

// RaoPerTAO is the number of rao in one TAO.
const RaoPerTAO = 1e9

// StakeTAO returns the stake in TAO.
func (n *Neuron) StakeTAO() float64 { return float64(n.Stake) / RaoPerTAO }

// EmissionTAO returns the emission in TAO.
func (n *Neuron) EmissionTAO() float64 { return float64(n.Emission) / RaoPerTAO }

// RankF, TrustF, ConsensusF, IncentiveF, DividendsF and ValidatorTrustF return the
// u16 fixed-point values as fractions of 1 (value / 65535).
func (n *Neuron) RankF() float64           { return u16f(n.Rank) }
func (n *Neuron) TrustF() float64          { return u16f(n.Trust) }
func (n *Neuron) ConsensusF() float64      { return u16f(n.Consensus) }
func (n *Neuron) IncentiveF() float64      { return u16f(n.Incentive) }
func (n *Neuron) DividendsF() float64      { return u16f(n.Dividends) }
func (n *Neuron) ValidatorTrustF() float64 { return u16f(n.ValidatorTrust) }

func u16f(v uint16) float64 { return float64(v) / 65535 }

// Metagraph is an immutable snapshot of one subnet at one block: Neurons[i].UID == i.
// Build it with NewMetagraph and never modify it afterwards; share it through a
// MetagraphHolder.
type Metagraph struct {
	Netuid  uint16   `json:"netuid"`
	Block   uint64   `json:"block"`
	Neurons []Neuron `json:"neurons"`

	byHotkey map[AccountID]uint16
}

// NewMetagraph builds a snapshot from neurons (in any order). It fails when uids are
// not exactly 0..n-1 or a hotkey appears twice.
func NewMetagraph(netuid uint16, block uint64, neurons []Neuron) (*Metagraph, error) {
	m := &Metagraph{Netuid: netuid, Block: block, Neurons: make([]Neuron, len(neurons))}
	seen := make([]bool, len(neurons))
	for _, n := range neurons {
		if int(n.UID) >= len(neurons) || seen[n.UID] {
			return nil, fmt.Errorf("metagraph netuid %d: uid %d duplicated or outside 0..%d", netuid, n.UID, len(neurons)-1)
		}
		seen[n.UID] = true
		m.Neurons[n.UID] = n
	}
	if err := m.index(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metagraph) index() error {
	m.byHotkey = make(map[AccountID]uint16, len(m.Neurons))
	for i := range m.Neurons {
		hk := m.Neurons[i].Hotkey
		if prev, dup := m.byHotkey[hk]; dup {
			return fmt.Errorf("metagraph netuid %d: hotkey %s at uids %d and %d", m.Netuid, hk, prev, i)
		}
		m.byHotkey[hk] = uint16(i)
	}
	return nil
}

// N returns the number of neurons.
func (m *Metagraph) N() int { return len(m.Neurons) }

// UID returns the uid of hotkey, and whether it is registered in this snapshot.
func (m *Metagraph) UID(hotkey AccountID) (uint16, bool) {
	if m.byHotkey == nil { // not built by NewMetagraph (e.g. a literal): scan
		for i := range m.Neurons {
			if m.Neurons[i].Hotkey == hotkey {
				return uint16(i), true
			}
		}
		return 0, false
	}
	uid, ok := m.byHotkey[hotkey]
	return uid, ok
}

// ByHotkey returns the neuron of hotkey, or nil when it is not registered.
// The returned value belongs to the snapshot and must not be modified.
func (m *Metagraph) ByHotkey(hotkey AccountID) *Neuron {
	uid, ok := m.UID(hotkey)
	if !ok || int(uid) >= len(m.Neurons) {
		return nil
	}
	return &m.Neurons[uid]
}

// Neuron returns uid's neuron, or nil when uid is out of range.
func (m *Metagraph) Neuron(uid uint16) *Neuron {
	if int(uid) >= len(m.Neurons) {
		return nil
	}
	return &m.Neurons[uid]
}

// MetagraphHolder publishes metagraph snapshots atomically: readers always see a
// complete snapshot, and a refresh replaces it in one step. The zero value holds nil.
type MetagraphHolder struct{ p atomic.Pointer[Metagraph] }

// Load returns the current snapshot, or nil before the first Store.
func (h *MetagraphHolder) Load() *Metagraph { return h.p.Load() }

// Store publishes m. m must not be modified afterwards.
func (h *MetagraphHolder) Store(m *Metagraph) { h.p.Store(m) }
