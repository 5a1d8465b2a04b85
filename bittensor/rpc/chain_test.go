package rpc

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

// Tests against a real subtensor runtime under chopsticks (shared/subtensor/raonet.json).

func TestMain(m *testing.M) { os.Exit(chaintest.Main(m)) }

// nextHeader waits for the next header on sub.
func nextHeader(t *testing.T, sub *Subscription) *Header {
	t.Helper()
	raw, err := sub.Next(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	h, err := ParseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waitHeader reads headers until one with number want arrives.
func waitHeader(t *testing.T, sub *Subscription, want uint64) {
	t.Helper()
	for {
		h := nextHeader(t, sub)
		if uint64(h.Number) == want {
			return
		}
		if uint64(h.Number) > want {
			t.Fatalf("header %d, want %d", h.Number, want)
		}
	}
}

func TestChopsticksCallsAndSubscriptions(t *testing.T) {
	node := chaintest.Shared(t, chaintest.Raonet)
	c, err := Dial(ctxTimeout(t, 30*time.Second), node.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxTimeout(t, 60*time.Second)

	var head Header
	if err := c.Call(ctx, &head, "chain_getHeader"); err != nil {
		t.Fatal(err)
	}
	var meta Bytes // ~177 KB: far above coder/websocket's default 32 KiB read limit
	if err := c.Call(ctx, &meta, "state_getMetadata"); err != nil || len(meta) < 100_000 || string(meta[:4]) != "meta" {
		t.Fatalf("state_getMetadata: %d bytes, %v", len(meta), err)
	}
	var rpcErr *Error
	if err := c.Call(ctx, nil, "neuronInfo_getNeuronsLite", 1); !errors.As(err, &rpcErr) {
		t.Errorf("custom RPC: %v", err)
	}

	heads, err := c.SubscribeNewHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer heads.Close()
	finalized, err := c.SubscribeFinalizedHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer finalized.Close()
	if _, err := node.NewBlock(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitHeader(t, heads, uint64(head.Number)+1)
	waitHeader(t, finalized, uint64(head.Number)+1)
}

// The node is killed and restarted: the client reconnects on its own, re-subscribes to
// new heads, and the next calls succeed; while the node is down, calls fail within
// their deadline.
func TestChopsticksRestartReconnects(t *testing.T) {
	node := chaintest.StartT(t, chaintest.Options{Runtime: chaintest.Raonet})
	c, err := Dial(ctxTimeout(t, 30*time.Second), node.URL(), &Options{BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxTimeout(t, 120*time.Second)
	heads, err := c.SubscribeNewHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer heads.Close()
	// chopsticks starts at head #0 or #1 (the start-up block is not always built before
	// it reports ready), so block numbers are taken relative to the current head.
	var head Header
	if err := c.Call(ctx, &head, "chain_getHeader"); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NewBlock(ctx, 2); err != nil {
		t.Fatal(err)
	}
	waitHeader(t, heads, uint64(head.Number)+2)

	node.Kill()
	deadline := 500 * time.Millisecond
	start := time.Now()
	err = c.Call(ctxTimeout(t, deadline), nil, "chain_getHeader")
	if !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrDisconnected) {
		t.Fatalf("call to killed node: %v", err)
	}
	if time.Since(start) > deadline+5*time.Second {
		t.Errorf("call to killed node took %v", time.Since(start))
	}
	t.Logf("while down: %v", err)

	if err := node.Restart(); err != nil { // same port, fresh chain from genesis (head #1)
		t.Fatal(err)
	}
	if err := c.Call(ctx, &head, "chain_getHeader"); err != nil {
		t.Fatalf("call after restart: %v", err)
	}
	if head.Number > 1 {
		t.Errorf("head after restart %d, want a fresh chain (0 or 1)", head.Number)
	}
	if c.Connects() < 2 {
		t.Errorf("Connects = %d", c.Connects())
	}
	if _, err := node.NewBlock(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitHeader(t, heads, uint64(head.Number)+1) // from the re-created subscription
}
