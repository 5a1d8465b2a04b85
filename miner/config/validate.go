package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// validate checks every value once, so that nothing downstream has to. Errors name
// the flag and the offending value.
func (c *Config) validate() error {
	var errs []error
	bad := func(flag string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	b := &c.BTLM
	if strings.TrimSpace(b.Model) == "" {
		bad("btlm.model", "empty; give a Hugging Face repository id or a model directory")
	}
	switch dev := strings.ToLower(strings.TrimSpace(b.Device)); {
	case dev == "cpu":
		b.Device = "cpu"
	case dev == "cuda" || strings.HasPrefix(dev, "cuda:"):
		bad("btlm.device", "%q: this build runs the model on the CPU only (no GPU path yet); use --btlm.device cpu", b.Device)
	default:
		bad("btlm.device", "%q: want cpu", b.Device)
	}
	if b.Threads < 0 {
		bad("btlm.threads", "%d: must be >= 0", b.Threads)
	}
	switch q := strings.ToLower(strings.TrimSpace(b.Quant)); q {
	case "none", "fp32", "f32", "":
		b.Quant = "none"
	case "bf16", "q8_0":
		b.Quant = q
	default:
		bad("btlm.quant", "%q: want none, bf16 or q8_0", b.Quant)
	}
	if b.MaxBatch < 1 {
		bad("btlm.max_batch", "%d: must be >= 1", b.MaxBatch)
	}
	if b.MaxLength <= 0 {
		bad("btlm.max_length", "%d: must be > 0", b.MaxLength)
	}
	if b.NoRepeatNGramSize < 0 {
		bad("btlm.no_repeat_ngram_size", "%d: must be >= 0", b.NoRepeatNGramSize)
	}
	if !(b.Temperature > 0) || math.IsInf(b.Temperature, 0) {
		bad("btlm.temperature", "%v: must be a positive number", b.Temperature)
	}
	if b.TopK < 0 {
		bad("btlm.top_k", "%d: must be >= 0 (0 disables it)", b.TopK)
	}
	if !(b.TopP >= 0 && b.TopP <= 1) {
		bad("btlm.top_p", "%v: must be in [0, 1] (1 disables it)", b.TopP)
	}
	switch b.CompletionFormat {
	case "seed", "clean":
	default:
		bad("btlm.completion_format", "%q: want seed or clean", b.CompletionFormat)
	}

	m := &c.Miner
	if m.BlocksPerEpoch <= 0 {
		bad("miner.blocks_per_epoch", "%d: must be > 0", m.BlocksPerEpoch)
	}
	bl := &m.Blacklist
	for _, l := range []struct {
		flag string
		list *[]string
	}{{"miner.blacklist.blacklist", &bl.Blacklist}, {"miner.blacklist.whitelist", &bl.Whitelist}} {
		for i, hk := range *l.list {
			hk = strings.TrimSpace(hk)
			(*l.list)[i] = hk
			if _, _, err := wallet.SS58Decode(hk); err != nil {
				bad(l.flag, "%q is not an SS58 hotkey address: %v", hk, err)
			}
		}
	}
	if bl.MinimumStakeRequirement < 0 || math.IsNaN(bl.MinimumStakeRequirement) || math.IsInf(bl.MinimumStakeRequirement, 0) {
		bad("miner.blacklist.minimum_stake_requirement", "%v: must be a number >= 0", bl.MinimumStakeRequirement)
	}
	if bl.PromptCacheBlockSpan < 0 {
		bad("miner.blacklist.prompt_cache_block_span", "%d: must be >= 0", bl.PromptCacheBlockSpan)
	}
	if bl.MinRequestPeriod < 0 {
		bad("miner.blacklist.min_request_period", "%d: must be >= 0 (0 disables the limit)", bl.MinRequestPeriod)
	}
	p := &m.Priority
	if math.IsNaN(p.Default) || math.IsInf(p.Default, 0) {
		bad("miner.priority.default", "%v: must be a finite number", p.Default)
	}
	if p.TimeStakeMultiplicate < 0 {
		bad("miner.priority.time_stake_multiplicate", "%d: must be >= 0", p.TimeStakeMultiplicate)
	}
	if p.LenRequestTimestamps < 1 || p.LenRequestTimestamps > 10000 {
		bad("miner.priority.len_request_timestamps", "%d: must be in 1..10000", p.LenRequestTimestamps)
	}
	if m.ShutdownTimeout < 0 {
		bad("miner.shutdown_timeout", "%v: must be >= 0", m.ShutdownTimeout)
	}

	for flag, name := range map[string]string{"wallet.name": c.Wallet.Name, "wallet.hotkey": c.Wallet.Hotkey} {
		if err := wallet.CheckName(name); err != nil {
			bad(flag, "%v", err)
		}
	}
	if strings.TrimSpace(c.Wallet.Path) == "" {
		bad("wallet.path", "empty")
	}

	a := &c.Axon
	if a.Port < 0 || a.Port > 65535 {
		bad("axon.port", "%d: want 0..65535", a.Port)
	}
	if a.ExternalPort < 0 || a.ExternalPort > 65535 {
		bad("axon.external_port", "%d: want 0..65535", a.ExternalPort)
	}
	if a.ExternalIP != "" {
		if _, err := netip.ParseAddr(a.ExternalIP); err != nil {
			bad("axon.external_ip", "%q is not an IP address", a.ExternalIP)
		}
	}
	if ip := strings.Trim(a.IP, "[]"); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			bad("axon.ip", "%q is not an IP address", a.IP)
		}
	}
	if a.MaxWorkers < 1 || a.MaxWorkers > 1024 {
		bad("axon.max_workers", "%d: want 1..1024", a.MaxWorkers)
	}
	if a.QueueSize < 0 {
		bad("axon.queue_size", "%d: must be >= 0", a.QueueSize)
	}
	if a.MaxTimeout <= 0 {
		bad("axon.max_timeout", "%v: must be > 0", a.MaxTimeout)
	}

	s := &c.Subtensor
	s.Network = strings.TrimSpace(s.Network)
	if m.MockSubtensor {
		s.Network = "mock"
	}
	if s.Network == "" {
		bad("subtensor.network", "empty")
	}
	if ep := s.ChainEndpoint; ep != "" && !strings.HasPrefix(ep, "ws://") && !strings.HasPrefix(ep, "wss://") {
		bad("subtensor.chain_endpoint", "%q: want a ws:// or wss:// URL", ep)
	}

	l := &c.Logging
	if l.Trace {
		l.Debug = true
	}
	if l.Format != "text" && l.Format != "json" {
		bad("logging.format", "%q: want text or json", l.Format)
	}
	if c.Metrics.Port < -1 || c.Metrics.Port > 65535 {
		bad("metrics.port", "%d: want -1 (off) or 0..65535", c.Metrics.Port)
	}
	if _, err := netip.ParseAddr(strings.Trim(c.Metrics.IP, "[]")); err != nil {
		bad("metrics.ip", "%q is not an IP address", c.Metrics.IP)
	}
	return errors.Join(errs...)
}

// IsMock reports whether the offline mock chain is selected.
func (c *Config) IsMock() bool { return strings.EqualFold(c.Subtensor.Network, "mock") }

// Effective returns "name=value (source)" for every option, sorted, for the start-up
// debug log. Values of options whose name suggests a secret are redacted (none of the
// current options carries one; the rule protects future ones).
func (c *Config) Effective() []string {
	cp := *c
	fs := newFlagSet(&cp)
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		v := f.Value.String()
		lower := strings.ToLower(f.Name)
		for _, w := range append(secretWords, "token") {
			if strings.Contains(lower, w) && v != "" {
				v = "<redacted>"
			}
		}
		src := c.Sources[f.Name]
		if src == "" {
			src = FromDefault
		}
		out = append(out, fmt.Sprintf("%s=%s (%s)", f.Name, v, src))
	})
	sort.Strings(out)
	return out
}
