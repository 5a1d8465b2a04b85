package miner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/axon"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/miner/admission"
)

// server connects the axon to the engine: admission (blacklist, priority, prompt
// cache) over the live metagraph snapshot, the Prompting and StreamPrompting
// forwards, request logs and metrics.
type server struct {
	log      *slog.Logger
	engine   *Engine
	policy   *admission.Policy
	requests *admission.RequestLog
	cache    *admission.PromptCache // nil unless --miner.blacklist.use_prompt_cache
	span     int
	graph    *subtensor.MetagraphHolder
	block    atomic.Uint64 // latest chain block seen
	m        *metrics
	now      func() time.Time
}

// maxTrackedHotkeys bounds the per-hotkey request history (B4); the subnet has at most
// a few thousand uids, the rest are unregistered callers when those are allowed.
const maxTrackedHotkeys = 8192

// maxCachedPrompts bounds the prompt cache (B3): 32 bytes + a block per entry.
const maxCachedPrompts = 1 << 18

// currentBlock is the latest chain block, or the snapshot's when none was seen.
func (s *server) currentBlock() uint64 {
	if b := s.block.Load(); b != 0 {
		return b
	}
	if g := s.graph.Load(); g != nil {
		return g.Block
	}
	return 0
}

// blacklist is the axon's header-only blacklist (runs before the signature check).
func (s *server) blacklist(_ context.Context, r *axon.RequestInfo) (bool, string) {
	if r.Synapse == "Synapse" { // the ping route carries no work
		return false, ""
	}
	d := s.policy.Check(s.graph.Load(), r.Hotkey, s.requests.Times(r.Hotkey), s.now())
	if d.Blocked {
		s.m.reject(d.Label)
		trace(s.log, "blacklisted", "hotkey", r.Hotkey, "synapse", r.Synapse, "reason", d.Reason)
	}
	return d.Blocked, d.Reason
}

// priority runs after the signature is verified: it computes the seed's stake × time
// priority and records the request time (B5: only verified requests are recorded).
func (s *server) priority(_ context.Context, r *axon.RequestInfo) float64 {
	now := s.now()
	p := s.policy.Priority(s.graph.Load(), r.Hotkey, s.requests.Times(r.Hotkey), now)
	s.requests.Record(r.Hotkey, now)
	return p
}

// checkPromptCache refuses a prompt answered within prompt_cache_block_span blocks.
func (s *server) checkPromptCache(messages []string) error {
	if s.cache == nil || !s.cache.Seen(messages, s.currentBlock()) {
		return nil
	}
	s.m.reject(admission.LabelPromptRepeated)
	return &axon.StatusError{Code: http.StatusForbidden,
		Message: fmt.Sprintf("Blacklisted: Prompt sent recently in last %d blocks.", s.span)}
}

func hotkeyOf(b *synapse.Synapse) string {
	if b.Dendrite.Hotkey != nil {
		return *b.Dendrite.Hotkey
	}
	return ""
}

func (s *server) prompting(ctx context.Context, m *synapse.Prompting) error {
	if err := s.checkPromptCache(m.Messages); err != nil {
		return err
	}
	c, err := s.engine.Complete(ctx, m.Roles, m.Messages)
	if err != nil {
		return err
	}
	m.Completion = c.Text
	s.served("Prompting", hotkeyOf(&m.Synapse), c)
	return nil
}

func (s *server) streamPrompting(ctx context.Context, m *synapse.StreamPrompting, w axon.StreamWriter) error {
	if err := s.checkPromptCache(m.Messages); err != nil {
		return err
	}
	c, err := s.engine.Stream(ctx, m.Roles, m.Messages, func(text string) error {
		_, err := io.WriteString(w, text)
		return err
	})
	if err != nil {
		return err
	}
	s.served("StreamPrompting", hotkeyOf(&m.Synapse), c)
	return nil
}

// served logs the per-request line of a generated answer and records its metrics.
func (s *server) served(name, hotkey string, c Completion) {
	s.m.observeGeneration(c)
	s.log.Debug("request", "synapse", name, "hotkey", hotkey, "status", http.StatusOK, "tokens", c.Tokens,
		"stop", c.Stop, "first_token", c.FirstToken.Round(time.Millisecond), "latency", c.Duration.Round(time.Millisecond))
}

// observe is the axon's observer: metrics for every answer, and the per-request line
// for answers that did not come from the engine (refusals, timeouts, errors).
func (s *server) observe(e axon.Event) {
	s.m.observeRequest(e.Synapse, e.Status, e.Duration)
	if e.Status != http.StatusOK {
		s.log.Debug("request", "synapse", e.Synapse, "hotkey", e.Hotkey, "status", e.Status,
			"message", e.Message, "latency", e.Duration.Round(time.Millisecond))
	}
}

// attach registers the two synapses on a.
func (s *server) attach(a *axon.Axon) error {
	p := axon.Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, s.prompting)
	p.Priority = s.priority
	sp := axon.Streaming(func() *synapse.StreamPrompting { return &synapse.StreamPrompting{} }, s.streamPrompting)
	sp.Priority = s.priority
	if err := a.Attach(p); err != nil {
		return err
	}
	return a.Attach(sp)
}
