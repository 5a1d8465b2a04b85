package subtensor

// Integration tests against real subtensor runtimes executed by chopsticks
// (../shared/subtensor, ../shared/reference/subtensor-chain.md §8), started by
// internal/chaintest: spec 218 (raonet) for the full miner flow and the fault tests,
// spec 103 (2023 test network genesis, SubtensorModule at pallet index 8, no
// CheckMetadataHash) and spec 143 (no NeuronInfoRuntimeApi) for metadata-driven
// encoding on older runtimes. Each test runs its own node, in parallel.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

func TestMain(m *testing.M) { os.Exit(chaintest.Main(m)) }

// startChain starts a chopsticks node of its own for one test (the tests run in
// parallel, each with its node), or skips in -short mode.
func startChain(t *testing.T, r chaintest.Runtime) *chaintest.Node {
	t.Helper()
	if testing.Short() {
		t.Skip("chopsticks integration test skipped in -short mode")
	}
	t.Parallel()
	return chaintest.StartT(t, chaintest.Options{Runtime: r})
}

// prepare funds the accounts (1e6 TAO each) and relaxes the rate limits of netuids.
func prepare(t *testing.T, ctx context.Context, n *chaintest.Node, netuids []uint16, accounts ...*wallet.Keypair) {
	t.Helper()
	var ids []scale.AccountID
	for _, kp := range accounts {
		ids = append(ids, scale.AccountID(kp.PublicKey()))
	}
	if err := n.Fund(ctx, 1_000_000_000_000_000, ids...); err != nil {
		t.Fatal(err)
	}
	if err := n.RelaxRateLimits(ctx, netuids...); err != nil {
		t.Fatal(err)
	}
}

func key(t *testing.T, uri string) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.KeypairFromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func dial(t *testing.T, ctx context.Context, n *chaintest.Node) *Client {
	t.Helper()
	c, err := Dial(ctx, n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestChainSpec218(t *testing.T) {
	n := startChain(t, chaintest.Raonet)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	c := dial(t, ctx, n)
	cold := key(t, "//Alice")
	hot1, hot2 := key(t, "//BtlmMinerHot1"), key(t, "//BtlmMinerHot2")
	prepare(t, ctx, n, []uint16{1}, cold)
	rt, err := c.Runtime(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if rt.SpecVersion != 218 {
		t.Fatalf("spec %d, want 218", rt.SpecVersion)
	}
	startBlock, err := c.Block(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var uid1, uid2 uint16
	t.Run("burned_register", func(t *testing.T) {
		for i, hk := range []*wallet.Keypair{hot1, hot2} {
			c.WaitFinalized = i == 1 // the second waits for finalization
			res, err := c.BurnedRegister(ctx, cold, 1, AccountID(hk.PublicKey()))
			if err != nil {
				t.Fatalf("burned_register %s: %v", hk.SS58(), err)
			}
			if !res.HasEvent("SubtensorModule.NeuronRegistered") || res.Finalized != c.WaitFinalized {
				t.Fatalf("events %v, finalized %v", res.Events, res.Finalized)
			}
		}
		c.WaitFinalized = false
		var ok bool
		if ok, uid1, err = c.IsRegistered(ctx, 1, AccountID(hot1.PublicKey())); err != nil || !ok {
			t.Fatalf("hot1 registered = %v, %v", ok, err)
		}
		if ok, uid2, err = c.IsRegistered(ctx, 1, AccountID(hot2.PublicKey())); err != nil || !ok {
			t.Fatalf("hot2 registered = %v, %v", ok, err)
		}
		if uid1 == uid2 {
			t.Fatalf("both hotkeys at uid %d", uid1)
		}
		if ok, _, err := c.IsRegistered(ctx, 1, AccountID(key(t, "//Nobody").PublicKey())); err != nil || ok {
			t.Fatalf("unregistered hotkey registered = %v, %v", ok, err)
		}
		if n, err := c.SubnetworkN(ctx, 1); err != nil || n != 3 {
			t.Fatalf("SubnetworkN = %d, %v (want 3: uid 0 + two new)", n, err)
		}
		if hk, ok, err := c.HotkeyOf(ctx, 1, uid2); err != nil || !ok || hk != AccountID(hot2.PublicKey()) {
			t.Fatalf("Keys(1, %d) = %s %v %v", uid2, hk, ok, err)
		}
		if _, ok, err := c.HotkeyOf(ctx, 1, 200); err != nil || ok {
			t.Fatalf("Keys(1, 200) = %v %v, want a free uid", ok, err)
		}
		if _, err := c.HotkeyStake(ctx, 1, AccountID(hot1.PublicKey())); err != nil {
			t.Fatalf("stake: %v", err)
		}
	})

	t.Run("metagraph", func(t *testing.T) {
		m, err := c.Metagraph(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		checkRegistered(t, m, cold, hot1, hot2, uid1, uid2)
		// The storage path (used when the runtime lacks the API) agrees on identities.
		neurons, err := c.neuronsFromStorage(ctx, rt, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		sm, err := NewMetagraph(1, m.Block, neurons)
		if err != nil {
			t.Fatal(err)
		}
		checkRegistered(t, sm, cold, hot1, hot2, uid1, uid2)
		if _, err := c.Metagraph(ctx, 77); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("metagraph of a missing subnet: %v", err)
		}
	})

	t.Run("serve_axon", func(t *testing.T) {
		// The reference's worked example (subtensor-chain.md §2), accepted on spec 218.
		call, err := encodeCallKnown(rt.Metadata, SubtensorPallet, "serve_axon",
			mustServeArgs(t, 1, AxonInfo{IP: "9.9.9.9", Port: 8093, Version: 6001000, Protocol: 4}))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hex.EncodeToString(call), "0704"+"0100"+"68915b00"+"09090909000000000000000000000000"+"9d1f"+"04"+"04"+"00"+"00"; got != want {
			t.Fatalf("serve_axon call = %s\nwant             %s", got, want)
		}
		hk := AccountID(hot1.PublicKey())
		want := AxonInfo{IP: "1.2.3.4", Port: 8091, Version: 610, Protocol: 4}
		res, err := c.ServeAxonResult(ctx, hot1, 1, want)
		if err != nil {
			t.Fatal(err)
		}
		if !res.HasEvent("SubtensorModule.AxonServed") {
			t.Fatalf("events %v", res.Events)
		}
		got, ok, err := c.AxonInfo(ctx, 1, hk)
		if err != nil || !ok {
			t.Fatalf("axon info: %v %v", ok, err)
		}
		want.IPType = 4
		if !got.SameEndpoint(want) || got.Block == 0 {
			t.Fatalf("axon = %+v, want %+v", got, want)
		}
		m, err := c.Metagraph(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if a := m.ByHotkey(hk).Axon; !a.SameEndpoint(want) || a.Block != got.Block {
			t.Fatalf("metagraph axon = %+v, storage %+v", a, got)
		}
		// An IPv6 endpoint round-trips too (sent with an immortal era).
		v6 := AxonInfo{IP: "2001:db8::42", Port: 9000, Version: 610, Protocol: 4}
		c.EraPeriod = 0
		err = c.ServeAxon(ctx, hot2, 1, v6)
		c.EraPeriod = 64
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := c.AxonInfo(ctx, 1, AccountID(hot2.PublicKey())); err != nil || got.IP != "2001:db8::42" || got.IPType != 6 {
			t.Fatalf("v6 axon = %+v, %v", got, err)
		}
		// The chain rejects loopback; the module error is named from the metadata.
		err = c.ServeAxon(ctx, hot1, 1, AxonInfo{IP: "127.0.0.1", Port: 8091, Version: 610, Protocol: 4})
		if !errors.Is(err, &ModuleError{Pallet: "SubtensorModule", Name: "InvalidIpAddress"}) {
			t.Fatalf("loopback serve_axon: %v", err)
		}
	})

	t.Run("set_weights", func(t *testing.T) {
		before, _ := c.Metagraph(ctx, 1)
		res, err := c.SetWeightsResult(ctx, hot1, 1, []uint16{uid1}, []uint16{65535}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !res.HasEvent("SubtensorModule.WeightsSet") {
			t.Fatalf("events %v", res.Events)
		}
		after, err := c.Metagraph(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if lu := after.Neuron(uid1).LastUpdate; lu <= before.Neuron(uid1).LastUpdate || lu > after.Block {
			t.Fatalf("last_update %d (before %d, block %d)", lu, before.Neuron(uid1).LastUpdate, after.Block)
		}
		// A call over 256 bytes is signed through its blake2-256 hash; the node accepts
		// the signature and the runtime then rejects the unknown uids by name.
		uids := make([]uint16, 80)
		ws := make([]uint16, 80)
		for i := range uids {
			uids[i], ws[i] = uint16(i), 1000
		}
		_, err = c.SetWeightsResult(ctx, hot2, 1, uids, ws, 0)
		var me *ModuleError
		if !errors.As(err, &me) || me.Pallet != "SubtensorModule" {
			t.Fatalf("oversized set_weights: %v", err)
		}
		t.Logf("oversized set_weights rejected by the runtime: %v", me)
	})

	t.Run("blocks", func(t *testing.T) {
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		ch, err := c.SubscribeBlocks(sctx)
		if err != nil {
			t.Fatal(err)
		}
		now, err := c.Block(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if now <= startBlock {
			t.Fatalf("block %d did not advance from %d", now, startBlock)
		}
		if _, err := n.NewBlock(ctx, 1); err != nil {
			t.Fatal(err)
		}
		waitBlock(t, ch, now+1)
	})

	t.Run("bad_signature", func(t *testing.T) {
		// The node checks signatures before the pool: a wrong one is rejected (1010).
		call, err := c.EncodeCall(ctx, SubtensorPallet, "serve_axon",
			mustServeArgs(t, 1, AxonInfo{IP: "1.2.3.4", Port: 1, Version: 1, Protocol: 4}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Submit(ctx, forgedSigner{pub: hot1.PublicKey()}, call)
		if !errors.Is(err, ErrInvalidTransaction) || !strings.Contains(err.Error(), "1010") {
			t.Fatalf("forged signature: %v", err)
		}
		t.Logf("forged signature rejected: %v", err)
	})

	t.Run("unknown_extension", func(t *testing.T) {
		m := *rt.Metadata
		exts := append([]metadata.SignedExtension{}, m.Extrinsic.SignedExtensions...)
		// A made-up extension whose extra is a u32 (the CheckSpecVersion additional type).
		exts = append(exts, metadata.SignedExtension{Identifier: "FutureExtension", Type: exts[1].AdditionalSigned, AdditionalSigned: exts[0].AdditionalSigned})
		m.Extrinsic.SignedExtensions = exts
		_, _, err := signedExtensions(&m, signingState{})
		if err == nil || !strings.Contains(err.Error(), "FutureExtension") {
			t.Fatalf("unknown non-zero-sized extension: %v", err)
		}
	})

	t.Run("kill_restart", func(t *testing.T) {
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		ch, err := c.SubscribeBlocks(sctx)
		if err != nil {
			t.Fatal(err)
		}
		n.Kill()
		// While the node is down, a call fails within its deadline, naming the endpoint.
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		start := time.Now()
		_, err = c.Block(dctx)
		dcancel()
		if err == nil || !strings.Contains(err.Error(), n.URL()) || time.Since(start) > 3*time.Second {
			t.Fatalf("call to a dead node: %v after %v", err, time.Since(start))
		}
		if err := n.Restart(); err != nil {
			t.Fatal(err)
		}
		// The fresh node starts from genesis again (netuid 1 with uid 0 only).
		var m *Metagraph
		deadline := time.Now().Add(30 * time.Second)
		for {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			m, err = c.Metagraph(cctx, 1)
			ccancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("metagraph after restart: %v", err)
		}
		if m.N() != 1 {
			t.Fatalf("metagraph after restart has %d neurons, want the genesis 1", m.N())
		}
		if c.RPC().Connects() < 2 {
			t.Fatalf("client did not reconnect (connects %d)", c.RPC().Connects())
		}
		// The head subscription was re-created on the new connection.
		b, err := c.Block(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.NewBlock(ctx, 1); err != nil {
			t.Fatal(err)
		}
		waitBlock(t, ch, b+1)
	})
}

// forgedSigner claims a public key but signs with garbage.
type forgedSigner struct{ pub [32]byte }

func (f forgedSigner) PublicKey() [32]byte { return f.pub }
func (f forgedSigner) Sign([]byte) ([]byte, error) {
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(i * 7)
	}
	sig[63] |= 0x80 // schnorrkel marker bit, so only the verification fails
	return sig, nil
}

func mustServeArgs(t *testing.T, netuid uint16, a AxonInfo) map[string]any {
	t.Helper()
	args, err := serveAxonArgs(netuid, a)
	if err != nil {
		t.Fatal(err)
	}
	return args
}

func checkRegistered(t *testing.T, m *Metagraph, cold, hot1, hot2 *wallet.Keypair, uid1, uid2 uint16) {
	t.Helper()
	if m.N() != 3 || m.Netuid != 1 || m.Block == 0 {
		t.Fatalf("metagraph netuid %d block %d n %d", m.Netuid, m.Block, m.N())
	}
	for _, x := range []struct {
		kp  *wallet.Keypair
		uid uint16
	}{{hot1, uid1}, {hot2, uid2}} {
		nr := m.ByHotkey(AccountID(x.kp.PublicKey()))
		if nr == nil || nr.UID != x.uid || nr.Coldkey != AccountID(cold.PublicKey()) {
			t.Fatalf("neuron of %s = %+v (want uid %d, coldkey %s)", x.kp.SS58(), nr, x.uid, cold.SS58())
		}
	}
}

// waitBlock reads ch until a block ≥ want arrives.
func waitBlock(t *testing.T, ch <-chan uint64, want uint64) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case b, ok := <-ch:
			if !ok {
				t.Fatalf("block subscription closed before block %d", want)
			}
			if b >= want {
				return
			}
		case <-timeout:
			t.Fatalf("no block %d from the subscription", want)
		}
	}
}

// TestDeadEndpoint: a node that is not there fails within the caller's deadline with
// an error naming the endpoint.
func TestDeadEndpoint(t *testing.T) {
	url := fmt.Sprintf("ws://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, url)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("dial of a dead endpoint succeeded")
	}
	if elapsed > 3*time.Second {
		t.Fatalf("dial took %v past its 1.5 s deadline", elapsed)
	}
	if !strings.Contains(err.Error(), url) {
		t.Fatalf("error does not name the endpoint: %v", err)
	}
	_, err = Open(ctx, Config{Network: "local", Endpoint: url}, AccountID{})
	if err == nil || !strings.Contains(err.Error(), "subtensor local") {
		t.Fatalf("Open: %v", err)
	}
}

// freePort returns a port nothing listens on (just released by the kernel).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
