// Package miner is the BTLM text-prompting miner: the Python CerebrasBTLMMiner on the
// text-prompting base Miner (opentensor/text-prompting b126ac1), put together from
// the Go model, axon and chain client, with the seed's bugs fixed
// (../shared/reference/operators-and-conventions.md §1).
//
// Run's lifecycle: load the hotkey (never the coldkey) → connect to the chain → check
// registration (ErrNotRegistered) → read the metagraph → load the model (downloading
// it first when --btlm.model is a Hugging Face id) → start the axon with the
// Prompting and StreamPrompting handlers → publish the axon on chain when the chain's
// record differs → follow blocks, resync the metagraph every blocks_per_epoch blocks
// and log a status line, without ever stopping on a chain error → when ctx ends, stop
// accepting requests, let in-flight ones finish within --miner.shutdown_timeout, and
// return nil.
package miner

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/axon"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/btlm"
	"github.com/btlm-miner/btlm-miner/generate"
	"github.com/btlm-miner/btlm-miner/hub"
	"github.com/btlm-miner/btlm-miner/miner/admission"
	"github.com/btlm-miner/btlm-miner/miner/config"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

// ErrNotRegistered is returned by Run when the hotkey holds no uid on the subnet.
var ErrNotRegistered = errors.New("hotkey not registered")

// Options are Run's injection points; the zero value runs a real miner.
type Options struct {
	Logger   *slog.Logger // default: NewLogger(cfg, Stderr)
	Stderr   io.Writer    // default os.Stderr
	Warnings []string     // from config.Parse, logged once the logger exists
	// Hotkey replaces loading the wallet's hotkey file.
	Hotkey *wallet.Keypair
	// OpenChain replaces subtensor.Open.
	OpenChain func(ctx context.Context, c subtensor.Config, hotkey subtensor.AccountID) (subtensor.Chain, error)
	// ResolveModel replaces the default model lookup: an existing directory as is,
	// otherwise a Hugging Face repository id through package hub (HF cache,
	// downloading what is missing; HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN honoured).
	ResolveModel func(ctx context.Context, spec, revision string) (string, error)
	// OnReady is called once the axon serves, with the bound addresses.
	OnReady func(Ready)
	// ChainTimeout bounds each chain call (default 30 s).
	ChainTimeout time.Duration

	// wrapSequence, in tests, wraps every model sequence (e.g. to slow it down).
	wrapSequence func(generate.Sequence) generate.Sequence
	// retryBase, in tests, shortens the chain retry backoff.
	retryBase time.Duration
}

// Ready describes a running miner.
type Ready struct {
	Hotkey      string
	UID         uint16
	AxonAddr    net.Addr // nil with --miner.no_start_axon
	MetricsAddr net.Addr // nil with --metrics.port -1
}

// Run runs the miner until ctx ends (see the package doc). It returns nil after a
// clean shutdown.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	log := opts.Logger
	if log == nil {
		l, closer, err := NewLogger(cfg, opts.Stderr)
		if err != nil {
			return err
		}
		defer closer.Close()
		log = l
	}
	if opts.ChainTimeout <= 0 {
		opts.ChainTimeout = 30 * time.Second
	}
	for _, w := range opts.Warnings {
		log.Warn(w)
	}
	for _, line := range cfg.Effective() {
		log.Debug("config", "option", line)
	}
	if !cfg.Miner.Blacklist.ForceValidatorPermit {
		log.Warn("requests from hotkeys without a validator permit are accepted (--miner.blacklist.force_validator_permit is off)")
	}
	if cfg.Miner.Blacklist.AllowNonRegistered {
		log.Warn("requests from unregistered hotkeys are accepted (--miner.blacklist.allow_non_registered)")
	}

	// 1. Hotkey (never the coldkey).
	hotkey := opts.Hotkey
	if hotkey == nil {
		path := wallet.HotkeyPath(cfg.Wallet.Path, cfg.Wallet.Name, cfg.Wallet.Hotkey)
		hotkey, err = wallet.LoadHotkey(path)
		switch {
		case err != nil && cfg.IsMock() && errors.Is(err, fs.ErrNotExist):
			// Offline mock network without a wallet: a throwaway key, so that
			// `btlm-miner run --subtensor.network mock` works out of the box.
			hotkey, err = ephemeralHotkey()
			if err != nil {
				return err
			}
			log.Warn("no hotkey file; the mock network runs with a throwaway hotkey", "path", path, "ss58", hotkey.SS58())
		case err != nil:
			return fmt.Errorf("load hotkey %s/%s: %w", cfg.Wallet.Name, cfg.Wallet.Hotkey, err)
		}
	}
	me := subtensor.AccountID(hotkey.PublicKey())
	log.Info("wallet", "name", cfg.Wallet.Name, "hotkey", cfg.Wallet.Hotkey, "ss58", hotkey.SS58())

	// 2. Chain.
	sc := subtensor.Config{Network: cfg.Subtensor.Network, Endpoint: cfg.Subtensor.ChainEndpoint,
		MockMetagraph: cfg.Subtensor.MockMetagraph}
	open := opts.OpenChain
	if open == nil {
		open = subtensor.Open
	}
	octx, cancel := context.WithTimeout(ctx, opts.ChainTimeout)
	chain, err := open(octx, sc, me)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to subtensor network %s: %w", cfg.Subtensor.Network, err)
	}
	defer chain.Close()
	network, url, _ := sc.Resolve()
	log.Info("subtensor", "network", network, "endpoint", url, "netuid", cfg.Netuid)

	// 3. Registration and the first metagraph.
	var uid uint16
	var registered bool
	err = withTimeout(ctx, opts.ChainTimeout, func(c context.Context) (e error) {
		registered, uid, e = chain.IsRegistered(c, cfg.Netuid, me)
		return e
	})
	if err != nil {
		return fmt.Errorf("registration check on netuid %d: %w", cfg.Netuid, err)
	}
	if !registered {
		return fmt.Errorf("%w: %s is not registered on netuid %d of %s; register it first (btcli subnets register --netuid %d --wallet.name %s --wallet.hotkey %s)",
			ErrNotRegistered, hotkey.SS58(), cfg.Netuid, network, cfg.Netuid, cfg.Wallet.Name, cfg.Wallet.Hotkey)
	}
	log.Info("registered", "uid", uid)
	var graph subtensor.MetagraphHolder
	var g *subtensor.Metagraph
	if err := withTimeout(ctx, opts.ChainTimeout, func(c context.Context) (e error) {
		g, e = chain.Metagraph(c, cfg.Netuid)
		return e
	}); err != nil {
		return fmt.Errorf("read metagraph of netuid %d: %w", cfg.Netuid, err)
	}
	graph.Store(g)

	// 4. Model.
	engine, err := loadEngine(ctx, cfg, opts, log)
	if err != nil {
		return err
	}

	// 5. Admission, metrics, axon.
	policy, err := admission.NewPolicy(cfg.Miner.Blacklist, cfg.Miner.Priority)
	if err != nil {
		return err
	}
	s := &server{log: log, engine: engine, policy: policy, graph: &graph, now: time.Now,
		requests: admission.NewRequestLog(policy.RequestWindow(), maxTrackedHotkeys),
		span:     cfg.Miner.Blacklist.PromptCacheBlockSpan}
	if cfg.Miner.Blacklist.UsePromptCache {
		s.cache = admission.NewPromptCache(uint64(cfg.Miner.Blacklist.PromptCacheBlockSpan), maxCachedPrompts)
	}
	var ax *axon.Axon
	var axPtr atomic.Pointer[axon.Axon] // read by metric scrapes
	s.m = newMetrics(func() float64 {
		if a := axPtr.Load(); a != nil {
			return float64(a.Stats().Queued)
		}
		return 0
	})
	s.m.lastSync.Store(time.Now().UnixNano())
	s.observeGraph(g, me)

	var serving atomic.Bool
	ready := Ready{Hotkey: hotkey.SS58(), UID: uid}
	if cfg.Metrics.Port >= 0 {
		st, err := startStatusServer(cfg.Metrics.IP, cfg.Metrics.Port, s.m, func() error {
			if !serving.Load() && !cfg.Miner.NoStartAxon {
				return errors.New("axon not serving")
			}
			if graph.Load() == nil {
				return errors.New("no metagraph")
			}
			return nil
		}, log)
		if err != nil {
			return err
		}
		defer func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st.Close(c)
			cancel()
		}()
		ready.MetricsAddr = st.Addr()
		log.Info("metrics", "addr", st.Addr().String(), "paths", "/metrics /healthz")
	}

	axonDone := make(chan error, 1)
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	if !cfg.Miner.NoStartAxon {
		ac := axon.Config{IP: cfg.Axon.IP, Port: cfg.Axon.Port, ExternalIP: cfg.Axon.ExternalIP,
			ExternalPort: cfg.Axon.ExternalPort, MaxWorkers: cfg.Axon.MaxWorkers, QueueSize: cfg.Axon.QueueSize,
			MaxTimeout: cfg.Axon.MaxTimeout, ShutdownTimeout: cfg.Miner.ShutdownTimeout}
		ax, err = axon.New(ac, hotkey, axon.WithLogger(log), axon.WithBlacklist(s.blacklist), axon.WithObserver(s.observe))
		if err != nil {
			return err
		}
		if err := s.attach(ax); err != nil {
			return err
		}
		if err := ax.Listen(); err != nil {
			return err
		}
		axPtr.Store(ax)
		ready.AxonAddr = ax.Addr()
		go func() {
			err := ax.Serve(ctx)
			if ctx.Err() == nil { // the server failed on its own: stop the miner
				log.Error("axon stopped", "err", err)
				stopLoop()
			}
			axonDone <- err
		}()
		serving.Store(true)
		log.Info("axon serving", "addr", ax.Addr().String(), "synapses", "Prompting StreamPrompting")
	} else {
		close(axonDone)
		log.Info("axon not started (--miner.no_start_axon)")
	}
	fl := &follower{cfg: cfg, log: log, chain: chain, s: s, me: me, hotkey: hotkey, timeout: opts.ChainTimeout,
		network: network, axonPort: axonPort(ax), retryBase: opts.retryBase}
	fl.serveAxon(ctx, g)
	if opts.OnReady != nil {
		opts.OnReady(ready)
	}

	// 6. Follow the chain until ctx ends; the axon drains in parallel (Serve returns
	// after its graceful shutdown).
	fl.loop(loopCtx)
	if ctx.Err() == nil { // the axon failed
		return fmt.Errorf("axon: %w", <-axonDone)
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.Miner.ShutdownTimeout)
	if aerr, ok := <-axonDone; ok && aerr != nil {
		log.Warn("axon shutdown", "err", aerr)
	}
	log.Info("stopped", "served", s.m.served.Load(), "blacklisted", s.m.blacklistedN.Load(), "refused", s.m.refused.Load())
	return nil
}

func axonPort(a *axon.Axon) int {
	if a == nil || a.Addr() == nil {
		return 0
	}
	if t, ok := a.Addr().(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

// ephemeralHotkey returns a random hotkey that is never written anywhere.
func ephemeralHotkey() (*wallet.Keypair, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return wallet.KeypairFromSeed(seed)
}

// withTimeout runs f with a deadline.
func withTimeout(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(c)
}

// loadEngine resolves, loads and checks the model and tokenizer.
func loadEngine(ctx context.Context, cfg *config.Config, opts Options, log *slog.Logger) (*Engine, error) {
	resolve := opts.ResolveModel
	if resolve == nil {
		resolve = func(ctx context.Context, spec, revision string) (string, error) {
			return hub.ResolveFromEnv(ctx, spec, revision, log, opts.Stderr)
		}
	}
	start := time.Now()
	dir, err := resolve(ctx, cfg.BTLM.Model, cfg.BTLM.Revision)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", cfg.BTLM.Model, err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer from %s: %w", dir, err)
	}
	model, err := btlm.Load(dir, btlm.Options{Threads: cfg.BTLM.Threads, Quant: cfg.BTLM.Quant})
	if err != nil {
		return nil, fmt.Errorf("load model from %s: %w", dir, err)
	}
	mc := model.Config()
	if tok.VocabSize() > mc.VocabSize {
		return nil, fmt.Errorf("inconsistent model directory %s: the tokenizer has %d tokens but config.json's vocab_size is %d",
			dir, tok.VocabSize(), mc.VocabSize)
	}
	// Concurrent requests share each pass over the weights (see btlm.Batcher).
	batcher := btlm.NewBatcher(model, cfg.BTLM.MaxBatch)
	newSeq := func() generate.Sequence { return batcher.NewSequence() }
	if wrap := opts.wrapSequence; wrap != nil {
		newSeq = func() generate.Sequence { return wrap(batcher.NewSequence()) }
	}
	engine, err := NewEngine(newSeq, tok, cfg.BTLM, mc.EOSTokenID, mc.NPositions)
	if err != nil {
		return nil, err
	}
	log.Info("model loaded", "dir", dir, "layers", mc.NLayer, "d_model", mc.NEmbd, "context", mc.NPositions,
		"seconds", time.Since(start).Round(time.Millisecond).Seconds(), "quant", cfg.BTLM.Quant,
		"weight_bytes", model.WeightBytes(), "threads", model.Threads(), "max_batch", cfg.BTLM.MaxBatch, "format", cfg.BTLM.CompletionFormat,
		"do_sample", cfg.BTLM.DoSample)
	return engine, nil
}
