package chaintest

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// alice is the //Alice sr25519 public key (5GrwvaEF…).
var alice = func() scale.AccountID {
	var a scale.AccountID
	b, _ := hex.DecodeString("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
	copy(a[:], b)
	return a
}()

// storage keys from shared/reference/subtensor-chain.md §3 and shared/subtensor/README.md.
const (
	aliceAccountKey     = "0x26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9de1e86a9a8c739864cf3cc5ec2bea59fd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
	weightsRateLimitKey = "0x658faa385070e074c85bf6b568cf05552d919f5b3b970cd2c91638872d3aa64c0100"
)

func TestSharedRaonetDevHelpers(t *testing.T) {
	n := Shared(t, Raonet)
	ctx := ctxT(t)
	t.Logf("raonet ready in %v on port %d (pid %d)", n.ReadyIn, n.Port(), n.PID())
	if n.Port() == 0 || !strings.HasPrefix(n.URL(), "ws://127.0.0.1:") {
		t.Fatalf("URL %s", n.URL())
	}
	var genesis string
	if err := n.Call(ctx, &genesis, "chain_getBlockHash", 0); err != nil {
		t.Fatal(err)
	}
	if genesis != "0x"+strings.Repeat("45", 32) {
		t.Errorf("genesis hash %s", genesis)
	}
	before, err := n.BlockNumber(ctx)
	if err != nil || before < 1 {
		t.Fatalf("block number %d, %v", before, err)
	}
	if _, err := n.NewBlock(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if after, err := n.BlockNumber(ctx); err != nil || after != before+2 {
		t.Fatalf("after 2 new blocks: %d (was %d), %v", after, before, err)
	}

	if err := n.Fund(ctx, 1_000_000_000_000_000, alice); err != nil {
		t.Fatal(err)
	}
	var acct string
	if err := n.Call(ctx, &acct, "state_getStorage", aliceAccountKey); err != nil {
		t.Fatal(err)
	}
	// nonce 0, consumers 0, providers 1, sufficients 0, free 10^15 rao.
	if !strings.HasPrefix(acct, "0x00000000000000000100000000000000"+"0080c6a47e8d0300") {
		t.Errorf("System.Account(Alice) = %s", acct)
	}
	if err := n.RelaxRateLimits(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var limit string
	if err := n.Call(ctx, &limit, "state_getStorage", weightsRateLimitKey); err != nil || limit != "0x0100000000000000" {
		t.Errorf("WeightsSetRateLimit[1] = %q, %v", limit, err)
	}
	if err := n.SetStorageRaw(ctx, map[string][]byte{weightsRateLimitKey: make([]byte, 8)}); err != nil {
		t.Fatal(err)
	}
	if err := n.Call(ctx, &limit, "state_getStorage", weightsRateLimitKey); err != nil || limit != "0x0000000000000000" {
		t.Errorf("raw zero WeightsSetRateLimit[1] = %q, %v", limit, err)
	}
	if err := n.SetSudo(ctx, alice); err != nil {
		t.Fatal(err)
	}
	var rpcErr error = n.Call(ctx, nil, "neuronInfo_getNeuronsLite", 1)
	if rpcErr == nil || !strings.Contains(rpcErr.Error(), "rpc error") {
		t.Errorf("custom RPC should be missing in chopsticks: %v", rpcErr)
	}
	if Shared(t, Raonet) != n {
		t.Error("Shared started a second instance")
	}
}

// A node is killed and restarted on the same port, then stopped by its PID. With
// Persist (where the sqlite3 module is built) it resumes from its last block with its
// state; without, it starts again from genesis (the rpc package's restart test covers
// that case too).
func TestKillRestartStop(t *testing.T) {
	persist := PersistAvailable() == nil
	n := StartT(t, Options{Runtime: Raonet, Persist: persist})
	ctx := ctxT(t)
	port, pid := n.Port(), n.PID()
	if err := n.RelaxRateLimits(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := n.NewBlock(ctx, 2); err != nil {
		t.Fatal(err)
	}
	head, err := n.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.Kill()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("killed process %d still exists: %v", pid, err)
	}
	if err := n.Call(ctx, nil, "chain_getHeader"); err == nil {
		t.Error("call after Kill succeeded")
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart (persist %v) ready in %v", persist, n.ReadyIn)
	if n.Port() != port || n.PID() == pid || n.PID() == 0 {
		t.Errorf("after restart: port %d (was %d), pid %d (was %d)", n.Port(), port, n.PID(), pid)
	}
	got, err := n.BlockNumber(ctx)
	switch {
	case err != nil:
		t.Fatal(err)
	case persist && got != head:
		t.Errorf("head after resume %d, want %d", got, head)
	case !persist && got > 1:
		t.Errorf("head after restart from genesis %d, want 0 or 1", got)
	}
	if persist {
		var limit, number string
		// Replayed dev_setStorage override.
		if err := n.Call(ctx, &limit, "state_getStorage", weightsRateLimitKey); err != nil || limit != "0x0100000000000000" {
			t.Errorf("WeightsSetRateLimit[1] after resume = %q, %v", limit, err)
		}
		// System.Number (u32, little-endian), written by block execution.
		wantNumber := "0x" + hex.EncodeToString(scale.AppendU32(nil, uint32(head)))
		if err := n.Call(ctx, &number, "state_getStorage", "0x26aa394eea5630e07c48ae0c9558cef702a5c1b19ab7a04f536c519aca4983ac"); err != nil || number != wantNumber {
			t.Errorf("System.Number after resume = %q, want %s (%v)", number, wantNumber, err)
		}
	}
	if _, err := n.NewBlock(ctx, 1); err != nil {
		t.Fatalf("block after restart: %v", err)
	}
	if after, err := n.BlockNumber(ctx); err != nil || after != got+1 {
		t.Errorf("head after a new block %d, want %d (%v)", after, got+1, err)
	}
	pid = n.PID()
	n.Stop()
	n.Stop() // idempotent
	if n.PID() != 0 {
		t.Error("PID after Stop")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d survives Stop: %v", pid, err)
	}
}

func TestMissingPrerequisites(t *testing.T) {
	t.Setenv("BTLM_SHARED", t.TempDir())
	_, err := Start(Options{Runtime: Testfinney})
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "raw_spec_testfinney.json") {
		t.Errorf("missing spec: %v", err)
	}
	if _, err := Start(Options{Runtime: "nope"}); err == nil || errors.Is(err, ErrMissing) {
		t.Errorf("unknown runtime: %v", err)
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(100)
	for i := 0; i < 50; i++ {
		b.WriteLine("line-with-some-text")
	}
	if s := b.String(); len(s) > 100 || !strings.HasSuffix(s, "line-with-some-text\n") {
		t.Errorf("tail %d bytes: %q", len(s), s)
	}
}

// BenchmarkStart measures launch → listening → stopped for each runtime:
//
//	go test -run '^$' -bench Start -benchtime 3x ./internal/chaintest/
func BenchmarkStart(b *testing.B) {
	for _, r := range []Runtime{Raonet, Testfinney, Spec143} {
		b.Run(string(r), func(b *testing.B) {
			var ready time.Duration
			for i := 0; i < b.N; i++ {
				n, err := Start(Options{Runtime: r})
				if errors.Is(err, ErrMissing) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				ready += n.ReadyIn
				n.Stop()
			}
			b.ReportMetric(ready.Seconds()/float64(b.N), "s-to-ready/op")
		})
	}
}
