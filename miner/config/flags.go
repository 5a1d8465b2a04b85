package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// groups orders the --help sections; a flag's group is its name up to the first dot
// (flags without a dot are "general").
var groups = []struct{ prefix, title string }{
	{"", "general"},
	{"btlm", "model and decoding (--btlm.*)"},
	{"miner", "miner (--miner.*)"},
	{"wallet", "wallet (--wallet.*; only the hotkey is read)"},
	{"axon", "axon server (--axon.*)"},
	{"subtensor", "chain (--subtensor.*)"},
	{"logging", "logging (--logging.*)"},
	{"metrics", "Prometheus metrics (--metrics.*)"},
	{"wandb", "Weights & Biases (--wandb.*: accepted and ignored, see metrics)"},
}

// newFlagSet returns the run flags bound to c's fields, with c's current values as
// the defaults.
func newFlagSet(c *Config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SortFlags = false

	fs.StringVar(&c.File, "config", c.File, "YAML file of defaults (flat dotted keys or nested maps); flags win over it")
	fs.BoolVar(&c.Strict, "strict", c.Strict, "unknown flags and config keys are errors (otherwise warnings)")
	fs.BoolVar(&c.NoVersionChecking, "no_version_checking", c.NoVersionChecking, "accepted for bittensor compatibility; no effect")
	fs.BoolVar(&c.NoPrompt, "no_prompt", c.NoPrompt, "accepted for bittensor compatibility; no effect")
	fs.Uint16Var(&c.Netuid, "netuid", c.Netuid, "subnet uid")

	b := &c.BTLM
	fs.StringVar(&b.Model, "btlm.model", b.Model, "Hugging Face repository id (downloaded into the HF cache) or a local model directory")
	fs.StringVar(&b.Revision, "btlm.revision", b.Revision, "repository revision: branch, tag, commit or refs/pr/N")
	fs.StringVar(&b.Device, "btlm.device", b.Device, "device to run the model on: cpu (the seed's default cuda has no Go path yet and is refused)")
	fs.IntVar(&b.Threads, "btlm.threads", b.Threads, "compute threads (0: all cores)")
	fs.StringVar(&b.Quant, "btlm.quant", b.Quant, "in-memory weight format, converted at load: none (fp32, Hugging Face-exact), bf16, or q8_0 (8-bit blocks: about 3x faster decode, 1/4 of the memory)")
	fs.IntVar(&b.MaxBatch, "btlm.max_batch", b.MaxBatch, "concurrent requests decoded together in one pass over the weights (1: one at a time)")
	fs.IntVar(&b.MaxLength, "btlm.max_length", b.MaxLength, "maximum number of generated tokens (max_new_tokens)")
	fs.BoolVar(&b.DoSample, "btlm.do_sample", b.DoSample, "sample instead of greedy decoding (temperature, top_k and top_p only apply with it)")
	fs.IntVar(&b.NoRepeatNGramSize, "btlm.no_repeat_ngram_size", b.NoRepeatNGramSize, "never repeat an n-gram of this size from the prompt or the output (0: off)")
	fs.BoolVar(&b.DoPromptInjection, "btlm.do_prompt_injection", b.DoPromptInjection, "prepend --btlm.system_prompt and drop the request's first system message")
	fs.StringVar(&b.SystemPrompt, "btlm.system_prompt", b.SystemPrompt, "system prompt used with --btlm.do_prompt_injection")
	fs.BoolVar(&b.UseDeepspeed, "btlm.use_deepspeed", b.UseDeepspeed, "accepted for compatibility; no effect (warned)")
	fs.Float64Var(&b.Temperature, "btlm.temperature", b.Temperature, "sampling temperature (with --btlm.do_sample)")
	fs.IntVar(&b.TopK, "btlm.top_k", b.TopK, "sample among the k most likely tokens (0: off; with --btlm.do_sample)")
	fs.Float64Var(&b.TopP, "btlm.top_p", b.TopP, "nucleus sampling mass (1: off; with --btlm.do_sample)")
	fs.Uint64Var(&b.Seed, "btlm.seed", b.Seed, "sampling seed (default: a random seed per request)")
	fs.StringVar(&b.CompletionFormat, "btlm.completion_format", b.CompletionFormat, `"seed": the Python miner's text after the last ':' of prompt+completion; "clean": the generated text only, trimmed, cut at a new user:/system: turn`)

	m := &c.Miner
	fs.StringVar(&m.Root, "miner.root", m.Root, "miner state directory (seed flag; logs go under --logging.logging_dir)")
	fs.StringVar(&m.Name, "miner.name", m.Name, "miner name (seed flag)")
	fs.IntVar(&m.BlocksPerEpoch, "miner.blocks_per_epoch", m.BlocksPerEpoch, "blocks between metagraph resyncs (and self-weights with --miner.set_weights)")
	bl := &m.Blacklist
	fs.StringSliceVar(&bl.Blacklist, "miner.blacklist.blacklist", bl.Blacklist, "hotkeys (SS58) always refused; repeat the flag or separate with commas")
	fs.StringSliceVar(&bl.Whitelist, "miner.blacklist.whitelist", bl.Whitelist, "hotkeys (SS58) always admitted, before any other rule")
	fs.BoolVar(&bl.ForceValidatorPermit, "miner.blacklist.force_validator_permit", bl.ForceValidatorPermit, "only admit hotkeys holding a validator permit")
	fs.BoolVar(&bl.AllowNonRegistered, "miner.blacklist.allow_non_registered", bl.AllowNonRegistered, "admit hotkeys that are not registered on the subnet")
	fs.Float64Var(&bl.MinimumStakeRequirement, "miner.blacklist.minimum_stake_requirement", bl.MinimumStakeRequirement, "refuse hotkeys with less stake than this (TAO)")
	fs.IntVar(&bl.PromptCacheBlockSpan, "miner.blacklist.prompt_cache_block_span", bl.PromptCacheBlockSpan, "blocks a prompt stays in the prompt cache")
	fs.BoolVar(&bl.UsePromptCache, "miner.blacklist.use_prompt_cache", bl.UsePromptCache, "refuse a prompt (same messages) already answered within prompt_cache_block_span blocks")
	fs.IntVar(&bl.MinRequestPeriod, "miner.blacklist.min_request_period", bl.MinRequestPeriod, "minutes in which a hotkey may send at most len_request_timestamps requests (0: no limit)")
	p := &m.Priority
	fs.Float64Var(&p.Default, "miner.priority.default", p.Default, "priority of requests from hotkeys that are not registered")
	fs.IntVar(&p.TimeStakeMultiplicate, "miner.priority.time_stake_multiplicate", p.TimeStakeMultiplicate, "minutes of idleness (since a hotkey's 10th-last request) that double the weight of its stake")
	fs.IntVar(&p.LenRequestTimestamps, "miner.priority.len_request_timestamps", p.LenRequestTimestamps, "request timestamps kept per hotkey (the rate limit's request count)")
	fs.BoolVar(&m.NoSetWeights, "miner.no_set_weights", m.NoSetWeights, "do not set weights (the default; kept for compatibility)")
	fs.BoolVar(&m.SetWeights, "miner.set_weights", m.SetWeights, "set the seed's self-weight (1.0 on our uid) every epoch")
	fs.BoolVar(&m.NoServe, "miner.no_serve", m.NoServe, "never publish the axon endpoint on chain")
	fs.BoolVar(&m.NoStartAxon, "miner.no_start_axon", m.NoStartAxon, "do not start the axon (follow the chain only)")
	fs.BoolVar(&m.MockSubtensor, "miner.mock_subtensor", m.MockSubtensor, "use the offline mock chain (same as --subtensor.network mock)")
	fs.DurationVar(&m.ShutdownTimeout, "miner.shutdown_timeout", m.ShutdownTimeout, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")

	w := &c.Wallet
	fs.StringVar(&w.Name, "wallet.name", w.Name, "wallet name")
	fs.StringVar(&w.Hotkey, "wallet.hotkey", w.Hotkey, "hotkey name")
	fs.StringVar(&w.Path, "wallet.path", w.Path, "wallets directory")

	a := &c.Axon
	fs.StringVar(&a.IP, "axon.ip", a.IP, "bind address ([::] = all interfaces)")
	fs.IntVar(&a.Port, "axon.port", a.Port, "bind port (0: any free port)")
	fs.StringVar(&a.ExternalIP, "axon.external_ip", a.ExternalIP, "IP published on chain (default: detected, or the bind address)")
	fs.IntVar(&a.ExternalPort, "axon.external_port", a.ExternalPort, "port published on chain (0: the bound port)")
	fs.IntVar(&a.MaxWorkers, "axon.max_workers", a.MaxWorkers, "requests processed at once")
	fs.IntVar(&a.QueueSize, "axon.queue_size", a.QueueSize, "verified requests waiting for a worker before 503 (0: 4×max_workers, at least 16)")
	fs.DurationVar(&a.MaxTimeout, "axon.max_timeout", a.MaxTimeout, "cap on the timeout a caller may ask for")

	s := &c.Subtensor
	fs.StringVar(&s.Network, "subtensor.network", s.Network, "finney, test, archive, local, mock (offline) or a ws(s):// URL")
	fs.StringVar(&s.ChainEndpoint, "subtensor.chain_endpoint", s.ChainEndpoint, "websocket endpoint; overrides the network's when set")
	fs.StringVar(&s.MockMetagraph, "subtensor.mock_metagraph", s.MockMetagraph, "mock network: metagraph JSON file (default: one neuron, our hotkey)")

	l := &c.Logging
	fs.BoolVar(&l.Debug, "logging.debug", l.Debug, "debug logs (one line per request)")
	fs.BoolVar(&l.Trace, "logging.trace", l.Trace, "trace logs (implies debug)")
	fs.BoolVar(&l.RecordLog, "logging.record_log", l.RecordLog, "also write logs to <logging_dir>/<wallet>/<hotkey>/netuid<N>/miner/btlm-miner.log")
	fs.StringVar(&l.LoggingDir, "logging.logging_dir", l.LoggingDir, "log directory for --logging.record_log")
	fs.StringVar(&l.Format, "logging.format", l.Format, "log format: text or json")

	mt := &c.Metrics
	fs.StringVar(&mt.IP, "metrics.ip", mt.IP, "address of the /metrics and /healthz endpoint")
	fs.IntVar(&mt.Port, "metrics.port", mt.Port, "port of the /metrics and /healthz endpoint (0: any free port, -1: off)")

	wb := &c.Wandb
	fs.BoolVar(&wb.On, "wandb.on", wb.On, "ignored")
	fs.BoolVar(&wb.Off, "wandb.off", wb.Off, "ignored")
	fs.BoolVar(&wb.Offline, "wandb.offline", wb.Offline, "ignored")
	fs.StringVar(&wb.ProjectName, "wandb.project_name", wb.ProjectName, "ignored")
	fs.StringVar(&wb.Entity, "wandb.entity", wb.Entity, "ignored")
	fs.StringVar(&wb.Notes, "wandb.notes", wb.Notes, "ignored")
	return fs
}

// groupOf returns the help group prefix of a flag name.
func groupOf(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return ""
}

// PrintUsage writes `btlm-miner run --help`: every flag, grouped by prefix, with its
// default and environment variable.
func PrintUsage(w io.Writer) {
	c := Default()
	fs := newFlagSet(&c)
	fmt.Fprintln(w, "usage: btlm-miner run [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Serves the text-prompting Prompting and StreamPrompting synapses with BTLM.")
	fmt.Fprintln(w, "Precedence: flag > --config YAML > environment (BT_<FLAG>, e.g. BT_AXON_PORT) > default.")
	for _, g := range groups {
		sub := pflag.NewFlagSet(g.prefix, pflag.ContinueOnError)
		sub.SortFlags = false
		fs.VisitAll(func(f *pflag.Flag) {
			if groupOf(f.Name) == g.prefix {
				sub.AddFlag(f)
			}
		})
		fmt.Fprintf(w, "\n%s:\n%s", g.title, sub.FlagUsagesWrapped(110))
	}
	fmt.Fprintln(w, "\nEnvironment: every flag also reads BT_ + its name upper-cased with '.' → '_'")
	fmt.Fprintln(w, "(BT_MINER_BLACKLIST_MIN_REQUEST_PERIOD=10); lists are comma-separated.")
}

// EnvName returns the environment variable read for a flag: BT_ + the name
// upper-cased with "." replaced by "_".
func EnvName(flag string) string {
	return "BT_" + strings.ToUpper(strings.ReplaceAll(flag, ".", "_"))
}

// envAliases are extra variable names bittensor 6.1.0 reads (its typo for max_workers).
var envAliases = map[string][]string{
	"axon.max_workers": {"BT_AXON_MAX_WORERS"},
}
