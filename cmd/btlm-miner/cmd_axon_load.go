package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/bittensor/axon"
	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

func init() {
	register(command{name: "axon-load", summary: "load-test the axon's verified request path on loopback", run: runAxonLoad})
}

const axonLoadSynopsis = `[--concurrency N] [--requests N] [--presign] [--style v10|v6] [--axon.max_workers N]

Starts an axon on 127.0.0.1 with a no-op Prompting forward and throw-away keys, sends
--requests signed requests from --concurrency dendrites (each with its own uuid) and
prints verified requests/s and p50/p99 latency. Every request goes through the full
pipeline: header parse, signature and nonce check, priority queue, body hash, forward.
With --presign the client signs all requests before the clock starts, so the run
measures the server rather than client-side signing (both share the machine).`

func runAxonLoad(args []string, stdout, stderr io.Writer) (code int) {
	const name = "axon-load"
	defer recoverCommandPanic(name, stderr, &code)
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	concurrency := fs.Int("concurrency", 32, "concurrent dendrites")
	requests := fs.Int("requests", 20000, "total requests")
	presign := fs.Bool("presign", false, "sign every request before timing")
	styleName := fs.String("style", "v10", "dendrite style: v10 or v6")
	workers := fs.Int("axon.max_workers", 10, "axon forward workers")
	queue := fs.Int("axon.queue_size", 0, "axon queue size (0: at least concurrency)")
	message := fs.String("message", "hello", "message sent in each request")
	if done, c := parseCommandFlags(fs, args, stdout, stderr, name, axonLoadSynopsis); done {
		return c
	}
	if *concurrency <= 0 || *concurrency > 4096 || *requests <= 0 {
		return usageError(stderr, name, "--concurrency must be 1..4096 and --requests positive")
	}
	style, err := dendrite.ParseStyle(*styleName)
	if err != nil {
		return usageError(stderr, name, err.Error())
	}
	axonKey, err := randomKey()
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	clientKey, err := randomKey()
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	qs := *queue
	if qs == 0 {
		qs = max(*concurrency, 16)
	}
	a, err := axon.New(axon.Config{IP: "127.0.0.1", Port: 0, MaxWorkers: *workers, QueueSize: qs}, axonKey)
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	if err := a.Attach(axon.Unary(func() *synapse.Prompting { return &synapse.Prompting{} },
		func(context.Context, *synapse.Prompting) error { return nil })); err != nil {
		return printCommandError(stderr, name, err)
	}
	if err := a.Listen(); err != nil {
		return printCommandError(stderr, name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	target := dendrite.Target{IP: "127.0.0.1", Port: a.Addr().(*net.TCPAddr).Port, Hotkey: axonKey.SS58()}
	rep, err := dendrite.Load(context.Background(), dendrite.LoadConfig{
		Target: target, Hotkey: clientKey, Style: style, Concurrency: *concurrency, Requests: *requests,
		Message: *message, Timeout: 30 * time.Second, Presign: *presign,
	}, stderr)
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	fmt.Fprintf(stdout, "concurrency=%d presign=%v style=%v workers=%d %s\n", *concurrency, *presign, style, *workers, rep)
	if rep.OK != rep.Requests {
		return printCommandError(stderr, name, fmt.Errorf("%d of %d requests failed: %v", rep.Requests-rep.OK, rep.Requests, rep.Failures))
	}
	return 0
}

func randomKey() (*wallet.Keypair, error) {
	seed := make([]byte, wallet.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return wallet.KeypairFromSeed(seed)
}
