package subtensor

import (
	"errors"
	"fmt"
	"math"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// Limits applied while decoding chain data: a subnet has at most 4096 uids in every
// runtime seen, and a neuron's stake list is bounded by its nominators.
const (
	maxNeurons        = 1 << 16
	maxStakeEntries   = 1 << 16
	neuronLiteMinSize = 32 + 32 + 3 + AxonInfoSize + 31 + 1 + 10 // every compact at its 1-byte minimum
)

// DecodeNeuronsLite decodes the result of the runtime API
// NeuronInfoRuntimeApi_get_neurons_lite. Runtimes up to spec 218 declare the API as
// returning Vec<u8>, so the result is Compact(len) ‖ SCALE(Vec<NeuronInfoLite>);
// later ones (opentensor/subtensor e2b8367b8, Feb 2025) return the typed
// Vec<NeuronInfoLite> directly. The wrapper is recognised by its first compact equal
// to the remaining length, which a typed vector of one or more neurons (at least 142
// bytes each) can never satisfy. The whole input must be consumed.
func DecodeNeuronsLite(b []byte) ([]Neuron, error) {
	d := scale.NewDecoder(b)
	if n, err := d.Compact(); err == nil && n == uint64(d.Remaining()) && n > 0 {
		b = d.Rest()
	}
	d = scale.NewDecoder(b)
	count, err := d.Len(neuronLiteMinSize)
	if err != nil {
		return nil, fmt.Errorf("neurons_lite: count: %w", err)
	}
	if count > maxNeurons {
		return nil, fmt.Errorf("neurons_lite: %d neurons", count)
	}
	out := make([]Neuron, 0, count)
	for i := range count {
		n, err := decodeNeuronLite(d)
		if err != nil {
			return nil, fmt.Errorf("neurons_lite: neuron %d: %w", i, err)
		}
		out = append(out, n)
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("neurons_lite: %w", err)
	}
	return out, nil
}

// decodeNeuronLite reads one NeuronInfoLite:
//
//	hotkey [u8;32], coldkey [u8;32], uid Compact<u16>, netuid Compact<u16>, active bool,
//	axon_info AxonInfo, prometheus_info PrometheusInfo (31 bytes),
//	stake Vec<(AccountId, Compact<u64>)>, rank, emission(Compact<u64>), incentive,
//	consensus, trust, validator_trust, dividends (Compact<u16>), last_update Compact<u64>,
//	validator_permit bool, pruning_score Compact<u16>
func decodeNeuronLite(d *scale.Decoder) (Neuron, error) {
	var n Neuron
	r := fieldReader{d: d}
	n.Hotkey = AccountID(r.account())
	n.Coldkey = AccountID(r.account())
	n.UID = r.compact16()
	_ = r.compact16() // netuid
	n.Active = r.boolean()
	axon := r.fixed(AxonInfoSize)
	r.fixed(31) // prometheus_info
	if r.err != nil {
		return n, r.err
	}
	var err error
	if n.Axon, err = decodeAxonInfo(axon); err != nil {
		return n, err
	}
	entries, err := d.Len(33)
	if err != nil {
		return n, fmt.Errorf("stake: %w", err)
	}
	if entries > maxStakeEntries {
		return n, fmt.Errorf("stake: %d entries", entries)
	}
	for range entries {
		r.account()
		v := r.compact64()
		if r.err != nil {
			return n, fmt.Errorf("stake: %w", r.err)
		}
		if n.Stake+v < n.Stake {
			return n, errors.New("stake overflows u64")
		}
		n.Stake += v
	}
	n.Rank = r.compact16()
	n.Emission = r.compact64()
	n.Incentive = r.compact16()
	n.Consensus = r.compact16()
	n.Trust = r.compact16()
	n.ValidatorTrust = r.compact16()
	n.Dividends = r.compact16()
	n.LastUpdate = r.compact64()
	n.ValidatorPermit = r.boolean()
	n.PruningScore = r.compact16()
	return n, r.err
}

// fieldReader wraps a scale.Decoder for a run of fields: the first error sticks and
// later reads return zero values, so a struct decodes top to bottom with one check.
type fieldReader struct {
	d   *scale.Decoder
	err error
}

func (r *fieldReader) fixed(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	p, err := r.d.Fixed(n)
	if err != nil {
		r.err = err
		return make([]byte, n)
	}
	return p
}

func (r *fieldReader) account() (a scale.AccountID) {
	copy(a[:], r.fixed(32))
	return a
}

func (r *fieldReader) boolean() bool {
	if r.err != nil {
		return false
	}
	v, err := r.d.Bool()
	r.err = err
	return v
}

func (r *fieldReader) compact64() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.Compact()
	r.err = err
	return v
}

func (r *fieldReader) compact16() uint16 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.CompactMax(math.MaxUint16)
	r.err = err
	return uint16(v)
}
