package subtensor

// Integration tests on older runtimes: the metadata-driven encoding adapts to
// SubtensorModule at pallet 8 and an extension list without CheckMetadataHash
// (spec 103), and the metagraph comes from storage where the runtime API is missing
// (spec 143).

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

// TestChainSpec103 runs the miner's calls on the March 2023 test-network runtime:
// SubtensorModule is pallet 8 there, the extension list has no CheckMetadataHash and
// no subtensor extension, and neurons register through Sudo.sudo(sudo_register).
func TestChainSpec103(t *testing.T) {
	n := startChain(t, chaintest.Testfinney)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	c := dial(t, ctx, n)
	sudo := key(t, "//Alice")
	hot := key(t, "//BtlmMinerOld")
	prepare(t, ctx, n, []uint16{3}, sudo)
	if err := n.SetSudo(ctx, scale.AccountID(sudo.PublicKey())); err != nil {
		t.Fatal(err)
	}
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Metadata.Pallet(SubtensorPallet)
	if err != nil || p.Index != 8 || rt.SpecVersion != 103 {
		t.Fatalf("spec %d SubtensorModule index %v (%v), want 103 / 8", rt.SpecVersion, p, err)
	}
	for _, e := range rt.Metadata.Extrinsic.SignedExtensions {
		if e.Identifier == "CheckMetadataHash" {
			t.Fatal("spec 103 unexpectedly has CheckMetadataHash")
		}
	}
	inner, err := c.EncodeCall(ctx, SubtensorPallet, "sudo_register", map[string]any{
		"netuid": uint16(3), "hotkey": hot.PublicKey(), "coldkey": sudo.PublicKey(),
		"stake": uint64(0), "balance": uint64(1_000_000_000),
	})
	if err != nil {
		t.Fatal(err)
	}
	if inner[0] != 8 {
		t.Fatalf("sudo_register call starts with pallet %d, want 8", inner[0])
	}
	res, err := c.Sudo(ctx, sudo, inner)
	if err != nil {
		t.Fatal(err)
	}
	if !res.HasEvent("Sudo.Sudid") || !res.HasEvent("SubtensorModule.NeuronRegistered") {
		t.Fatalf("events %v", res.Events)
	}
	hk := AccountID(hot.PublicKey())
	ok, uid, err := c.IsRegistered(ctx, 3, hk)
	if err != nil || !ok {
		t.Fatalf("registered = %v %v", ok, err)
	}
	want := AxonInfo{IP: "8.8.4.4", Port: 8091, Version: 610, Protocol: 4, IPType: 4}
	if err := c.ServeAxon(ctx, hot, 3, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.AxonInfo(ctx, 3, hk)
	if err != nil || !ok || !got.SameEndpoint(want) {
		t.Fatalf("axon = %+v %v %v", got, ok, err)
	}
	// This runtime's DispatchError::Module layout decodes to the same named error.
	err = c.ServeAxon(ctx, hot, 3, AxonInfo{IP: "127.0.0.1", Port: 1, Version: 610, Protocol: 4})
	if !errors.Is(err, &ModuleError{Pallet: "SubtensorModule", Name: "InvalidIpAddress"}) {
		t.Fatalf("loopback serve_axon on spec 103: %v", err)
	}
	m, err := c.Metagraph(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	nr := m.ByHotkey(hk)
	if nr == nil || nr.UID != uid || !nr.Axon.SameEndpoint(want) || nr.Coldkey != AccountID(sudo.PublicKey()) {
		t.Fatalf("metagraph neuron = %+v", nr)
	}
	// Storage fallback agrees with the runtime API on this runtime too.
	neurons, err := c.neuronsFromStorage(ctx, rt, "", 3)
	if err != nil {
		t.Fatal(err)
	}
	if int(uid) >= len(neurons) || neurons[uid].Hotkey != hk || !neurons[uid].Axon.SameEndpoint(want) {
		t.Fatalf("storage neurons = %+v", neurons)
	}
}

// TestChainSpec143: the v6.1.0-era finney runtime (SubtensorSignedExtension and
// CommitmentsSignedExtension, zero-sized) without NeuronInfoRuntimeApi, so the
// metagraph comes from storage. Its first block's migrations drop netuid 3; the test
// creates netuid 1 with register_network and registers with burned_register.
func TestChainSpec143(t *testing.T) {
	n := startChain(t, chaintest.Spec143)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	c := dial(t, ctx, n)
	cold, hot := key(t, "//Alice"), key(t, "//BtlmMiner143")
	prepare(t, ctx, n, nil, cold)
	if _, err := c.RegisterNetwork(ctx, cold, nil); err != nil {
		t.Fatal(err)
	}
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if rt.SpecVersion != 143 {
		t.Fatalf("spec %d, want 143", rt.SpecVersion)
	}
	var ids []string
	for _, e := range rt.Metadata.Extrinsic.SignedExtensions {
		ids = append(ids, e.Identifier)
	}
	if !strings.Contains(strings.Join(ids, ","), "SubtensorSignedExtension") {
		t.Fatalf("extensions %v", ids)
	}
	if err := n.RelaxRateLimits(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BurnedRegister(ctx, cold, 1, AccountID(hot.PublicKey())); err != nil {
		t.Fatal(err)
	}
	want := AxonInfo{IP: "1.2.3.4", Port: 8091, Version: 610, Protocol: 4, IPType: 4}
	if err := c.ServeAxon(ctx, hot, 1, want); err != nil {
		t.Fatal(err)
	}
	hk := AccountID(hot.PublicKey())
	m, err := c.Metagraph(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	fellBack := c.noNeuron[143]
	c.mu.Unlock()
	if !fellBack {
		t.Fatal("spec 143 has no NeuronInfoRuntimeApi, but the client did not note it")
	}
	nr := m.ByHotkey(hk)
	if nr == nil || !nr.Axon.SameEndpoint(want) || nr.Coldkey != AccountID(cold.PublicKey()) {
		t.Fatalf("metagraph neuron = %+v", nr)
	}
	if err := c.SetWeights(ctx, hot, 1, []uint16{nr.UID}, []uint16{65535}, 0); err != nil {
		t.Fatal(err)
	}
}
