package subtensor

import (
	"bytes"
	"testing"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

// appendNeuronLite encodes n as NeuronInfoLite, splitting its stake over stakes
// entries, so the decoder can be checked against values it did not produce.
func appendNeuronLite(t testing.TB, b []byte, n Neuron, netuid uint16, stakes int) []byte {
	t.Helper()
	b = append(b, n.Hotkey[:]...)
	b = append(b, n.Coldkey[:]...)
	b = scale.AppendCompact(b, uint64(n.UID))
	b = scale.AppendCompact(b, uint64(netuid))
	b = scale.AppendBool(b, n.Active)
	axon, err := encodeAxonInfo(n.Axon)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, axon...)
	b = append(b, make([]byte, 31)...) // prometheus_info
	b = scale.AppendCompact(b, uint64(stakes))
	for i := range stakes {
		var who [32]byte
		who[0] = byte(i)
		b = append(b, who[:]...)
		share := n.Stake / uint64(stakes)
		if i == stakes-1 {
			share = n.Stake - share*uint64(stakes-1)
		}
		b = scale.AppendCompact(b, share)
	}
	for _, v := range []uint64{uint64(n.Rank), n.Emission, uint64(n.Incentive), uint64(n.Consensus),
		uint64(n.Trust), uint64(n.ValidatorTrust), uint64(n.Dividends), n.LastUpdate} {
		b = scale.AppendCompact(b, v)
	}
	b = scale.AppendBool(b, n.ValidatorPermit)
	return scale.AppendCompact(b, uint64(n.PruningScore))
}

func sampleNeurons() []Neuron {
	ns := []Neuron{
		{UID: 0, Axon: AxonInfo{IP: "0.0.0.0", IPType: 4}},
		{UID: 1, Active: true, Stake: 123_456_789_012, Rank: 65535, Emission: 1_000_000_000,
			Incentive: 1, Consensus: 30000, Trust: 40000, ValidatorTrust: 50000, Dividends: 7,
			LastUpdate: 1 << 40, ValidatorPermit: true, PruningScore: 65535,
			Axon: AxonInfo{Block: 9, Version: 610, IP: "1.2.3.4", Port: 8091, IPType: 4, Protocol: 4}},
		{UID: 2, Axon: AxonInfo{IP: "2001:db8::7", Port: 1, IPType: 6, Protocol: 4}},
	}
	for i := range ns {
		ns[i].Hotkey[0], ns[i].Hotkey[31] = byte(i+1), 0xaa
		ns[i].Coldkey[0] = byte(i + 100)
	}
	return ns
}

func TestDecodeNeuronsLite(t *testing.T) {
	ns := sampleNeurons()
	typed := scale.AppendCompact(nil, uint64(len(ns)))
	for i, n := range ns {
		typed = appendNeuronLite(t, typed, n, 1, i) // 0, 1 and 2 stake entries
	}
	wrapped := scale.AppendBytes(nil, typed)
	for name, input := range map[string][]byte{"typed": typed, "wrapped": wrapped} {
		got, err := DecodeNeuronsLite(input)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(ns) {
			t.Fatalf("%s: %d neurons", name, len(got))
		}
		for i := range ns {
			if got[i] != ns[i] {
				t.Errorf("%s neuron %d:\n got %+v\nwant %+v", name, i, got[i], ns[i])
			}
		}
	}
	for name, input := range map[string][]byte{"empty typed": {0}, "empty wrapped": {4, 0}} {
		got, err := DecodeNeuronsLite(input)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: %v %v", name, got, err)
		}
	}
	bad := map[string][]byte{
		"nothing":    {},
		"truncated":  typed[:len(typed)-1],
		"trailing":   append(append([]byte{}, typed...), 0),
		"huge count": {0x03, 0xff, 0xff, 0xff, 0xff},
		"bad bool": func() []byte {
			b := append([]byte{}, typed...)
			b[1+32+32+1+1] = 2 // neuron 0's active flag
			return b
		}(),
	}
	for name, input := range bad {
		if _, err := DecodeNeuronsLite(input); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeNeuronsLite(f *testing.F) {
	typed := scale.AppendCompact(nil, 3)
	for i, n := range sampleNeurons() {
		typed = appendNeuronLite(f, typed, n, 1, i)
	}
	f.Add(typed)
	f.Add(scale.AppendBytes(nil, typed))
	f.Add([]byte{0})
	f.Add([]byte{4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := DecodeNeuronsLite(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same neurons.
		re := scale.AppendCompact(nil, uint64(len(ns)))
		for _, n := range ns {
			re = appendNeuronLite(t, re, n, 0, min(1, int(n.Stake)))
		}
		back, err := DecodeNeuronsLite(re)
		if err != nil || len(back) != len(ns) {
			t.Fatalf("re-decode: %v", err)
		}
		for i := range ns {
			if back[i] != ns[i] {
				t.Fatalf("neuron %d changed: %#v vs %#v", i, back[i], ns[i])
			}
		}
	})
}

func BenchmarkDecodeNeuronsLite256(b *testing.B) {
	ns := sampleNeurons()
	typed := scale.AppendCompact(nil, 256)
	for i := range 256 {
		n := ns[i%3]
		n.UID = uint16(i)
		typed = appendNeuronLite(b, typed, n, 1, 2)
	}
	b.SetBytes(int64(len(typed)))
	for b.Loop() {
		if _, err := DecodeNeuronsLite(typed); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadMetagraphJSON(f *testing.F) {
	f.Add([]byte(`{"netuid": 3, "block": 1000, "neurons": [{"uid": 0, "hotkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "axon": {"ip": "8.8.8.8", "port": 1}}]}`))
	f.Add([]byte(`{"netuid": 1, "neurons": [{"uid": 1}, {"uid": 0, "hotkey": "0x0101010101010101010101010101010101010101010101010101010101010101"}]}`))
	f.Add([]byte(`{"neurons": [{"uid": 0, "axon": {"ip": "::1"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadMetagraphJSON(bytes.NewReader(b))
		if err != nil {
			return
		}
		// A loaded snapshot is consistent: uids 0..n-1, every hotkey found at its uid.
		for i := range m.Neurons {
			n := &m.Neurons[i]
			if int(n.UID) != i || m.ByHotkey(n.Hotkey) != n {
				t.Fatalf("uid %d inconsistent", i)
			}
			if _, _, err := EncodeIP(n.Axon.IP); err != nil {
				t.Fatalf("uid %d: loaded an invalid ip %q", i, n.Axon.IP)
			}
		}
	})
}

func FuzzParseTxStatus(f *testing.F) {
	for _, s := range []string{`"ready"`, `{"inBlock":"0x01"}`, `{"finalized":"0x02"}`, `{"broadcast":["a"]}`, `"invalid"`, `null`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseTxStatus(b)
		_, _ = parseNumber(b)
	})
}
