package miner

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

// follower follows the chain: block numbers, the metagraph resync every
// blocks_per_epoch blocks, the axon record and (opt-in) self-weights. It replaces the
// seed's run loop, whose resynced metagraph was never stored (#94) and whose single
// try/except ended the loop at the first error; here every chain error is logged and
// retried, and serving never depends on the chain being up.
type follower struct {
	cfg      *config.Config
	log      *slog.Logger
	chain    subtensor.Chain
	s        *server
	me       subtensor.AccountID
	hotkey   *wallet.Keypair
	timeout  time.Duration
	network  string
	axonPort int
	// retryBase is the unit of the retry backoff (default 1 s).
	retryBase time.Duration

	lastSync  uint64    // block of the snapshot in use
	nextTry   time.Time // after a failed resync, do not retry before this
	failures  int
	step      int
	lastBlock time.Time
	warned    map[string]time.Time // rate limit for repeated warnings
}

// warn logs a warning at most once a minute per key (chain outages repeat).
func (f *follower) warn(key, msg string, args ...any) {
	if f.warned == nil {
		f.warned = map[string]time.Time{}
	}
	if t, ok := f.warned[key]; ok && time.Since(t) < time.Minute {
		f.log.Debug(msg, args...)
		return
	}
	f.warned[key] = time.Now()
	f.log.Warn(msg, args...)
}

// backoff grows with consecutive failures: 2 s, 4 s, 8 s, ... up to a minute
// (retryBase scales it in tests).
func (f *follower) backoff(failures int) time.Duration {
	base := f.retryBase
	if base <= 0 {
		base = time.Second
	}
	return min(base<<min(failures, 6), 60*base)
}

// loop runs until ctx ends.
func (f *follower) loop(ctx context.Context) {
	if g := f.s.graph.Load(); g != nil {
		f.lastSync = g.Block
	}
	f.lastBlock = time.Now()
	poll := time.NewTicker(30 * time.Second)
	defer poll.Stop()
	var blocks <-chan uint64
	subFailures := 0
	for ctx.Err() == nil {
		if blocks == nil {
			ch, err := f.chain.SubscribeBlocks(ctx)
			if err != nil {
				subFailures++
				f.warn("subscribe", "cannot follow blocks; retrying (serving continues)", "err", err, "retry_in", f.backoff(subFailures))
				if !sleep(ctx, f.backoff(subFailures)) {
					return
				}
				f.pollBlock(ctx)
				continue
			}
			subFailures = 0
			blocks = ch
		}
		select {
		case <-ctx.Done():
			return
		case b, ok := <-blocks:
			if !ok {
				blocks = nil // connection dropped: resubscribe
				if !sleep(ctx, f.backoff(0)) {
					return
				}
				continue
			}
			f.onBlock(ctx, b)
		case <-poll.C:
			// A subscription can go quiet without closing; ask for the block then.
			if time.Since(f.lastBlock) > 2*time.Minute {
				f.pollBlock(ctx)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (f *follower) pollBlock(ctx context.Context) {
	var b uint64
	err := withTimeout(ctx, f.timeout, func(c context.Context) (e error) { b, e = f.chain.Block(c); return e })
	if err != nil {
		if ctx.Err() == nil {
			f.warn("block", "cannot read the chain's block (serving continues)", "err", err)
		}
		return
	}
	f.onBlock(ctx, b)
}

func (f *follower) onBlock(ctx context.Context, b uint64) {
	f.lastBlock = time.Now()
	f.s.block.Store(b)
	f.s.m.block.Set(float64(b))
	if b < f.lastSync+uint64(f.cfg.Miner.BlocksPerEpoch) || time.Now().Before(f.nextTry) {
		return
	}
	f.resync(ctx)
}

// resync reads a fresh metagraph into the live snapshot and logs the status line.
func (f *follower) resync(ctx context.Context) {
	var g *subtensor.Metagraph
	err := withTimeout(ctx, f.timeout, func(c context.Context) (e error) { g, e = f.chain.Metagraph(c, f.cfg.Netuid); return e })
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		f.failures++
		f.nextTry = time.Now().Add(f.backoff(f.failures))
		f.warn("metagraph", "metagraph resync failed; keeping the previous snapshot", "err", err,
			"snapshot_block", f.lastSync, "retry_in", f.backoff(f.failures))
		return
	}
	f.failures = 0
	f.s.graph.Store(g)
	f.lastSync = g.Block
	f.s.m.lastSync.Store(time.Now().UnixNano())
	f.s.observeGraph(g, f.me)
	f.step++
	n := g.ByHotkey(f.me)
	if n == nil {
		f.warn("deregistered", "our hotkey is no longer registered on the subnet; still serving, re-register to earn",
			"netuid", f.cfg.Netuid, "block", g.Block)
	} else {
		f.log.Info("status", "step", f.step, "block", g.Block, "uid", n.UID,
			"stake", n.StakeTAO(), "rank", n.RankF(), "trust", n.TrustF(), "consensus", n.ConsensusF(),
			"incentive", n.IncentiveF(), "emission", n.EmissionTAO(),
			"served", f.s.m.served.Load(), "blacklisted", f.s.m.blacklistedN.Load(), "refused", f.s.m.refused.Load())
	}
	f.serveAxon(ctx, g)
	if f.cfg.Miner.SetWeights && !f.cfg.Miner.NoSetWeights && n != nil {
		f.setSelfWeight(ctx, n.UID)
	}
}

// observeGraph updates the metagraph metrics.
func (s *server) observeGraph(g *subtensor.Metagraph, me subtensor.AccountID) {
	s.m.graphBlock.Set(float64(g.Block))
	s.m.graphSynced.SetToCurrentTime()
	n := g.ByHotkey(me)
	if n == nil {
		s.m.registered.Set(0)
		return
	}
	s.m.registered.Set(1)
	for field, v := range map[string]float64{"stake": n.StakeTAO(), "rank": n.RankF(), "trust": n.TrustF(),
		"consensus": n.ConsensusF(), "incentive": n.IncentiveF(), "emission": n.EmissionTAO()} {
		s.m.neuron.WithLabelValues(field).Set(v)
	}
}

// serveAxon publishes the axon endpoint when the chain's record differs from ours
// (not with --miner.no_serve or without a running axon). A failure is a warning; the
// next resync tries again.
func (f *follower) serveAxon(ctx context.Context, g *subtensor.Metagraph) {
	if f.cfg.Miner.NoServe || f.axonPort == 0 {
		return
	}
	want, err := f.wantAxon()
	if err != nil {
		f.warn("serve", "axon endpoint not published", "err", err)
		return
	}
	if n := g.ByHotkey(f.me); n != nil && n.Axon.SameEndpoint(want) {
		f.log.Debug("axon endpoint on chain is current", "axon", want.String())
		return
	}
	err = withTimeout(ctx, f.timeout, func(c context.Context) error {
		return f.chain.ServeAxon(c, f.hotkey, f.cfg.Netuid, want)
	})
	if err != nil {
		if ctx.Err() == nil {
			f.warn("serve", "serve_axon failed; will retry at the next resync", "axon", want.String(), "err", err)
		}
		return
	}
	f.log.Info("axon endpoint published", "axon", want.String(), "netuid", f.cfg.Netuid, "network", f.network)
}

// wantAxon is the endpoint to publish: --axon.external_ip (or the bind address when
// it is a specific one, or the address of the interface that routes outwards) and
// --axon.external_port (or the bound port).
func (f *follower) wantAxon() (subtensor.AxonInfo, error) {
	ip := f.cfg.Axon.ExternalIP
	if ip == "" {
		if a, err := netip.ParseAddr(trimBrackets(f.cfg.Axon.IP)); err == nil && !a.IsUnspecified() && !a.IsLoopback() {
			ip = a.String()
		}
	}
	if ip == "" {
		detected, err := outboundIP()
		if err != nil {
			return subtensor.AxonInfo{}, fmt.Errorf("cannot determine the external IP (%v): set --axon.external_ip", err)
		}
		ip = detected
		if a, _ := netip.ParseAddr(ip); a.IsPrivate() {
			f.warn("private-ip", "publishing a private IP; behind NAT set --axon.external_ip", "ip", ip)
		}
	}
	port := f.cfg.Axon.ExternalPort
	if port == 0 {
		port = f.axonPort
	}
	a, _ := netip.ParseAddr(ip)
	ipType := uint8(4)
	if a.Is6() && !a.Is4In6() {
		ipType = 6
	}
	return subtensor.AxonInfo{IP: a.Unmap().String(), Port: uint16(port), Version: synapse.Version610,
		IPType: ipType, Protocol: 4}, nil
}

// outboundIP returns the local address the kernel would use to reach the internet
// (a UDP "connection" sends no packet).
func outboundIP() (string, error) {
	c, err := net.Dial("udp", "1.1.1.1:53")
	if err != nil {
		return "", err
	}
	defer c.Close()
	a, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || a.IP.IsLoopback() || a.IP.IsUnspecified() {
		return "", fmt.Errorf("no outbound interface")
	}
	return a.IP.String(), nil
}

// setSelfWeight is the seed's set_weights (weight 1.0 on our uid, version_key 1),
// only with --miner.set_weights.
func (f *follower) setSelfWeight(ctx context.Context, uid uint16) {
	err := withTimeout(ctx, f.timeout, func(c context.Context) error {
		return f.chain.SetWeights(c, f.hotkey, f.cfg.Netuid, []uint16{uid}, []uint16{65535}, 1)
	})
	if err != nil && ctx.Err() == nil {
		f.warn("weights", "set_weights failed", "err", err)
		return
	}
	f.log.Info("self-weight set", "uid", uid)
}
