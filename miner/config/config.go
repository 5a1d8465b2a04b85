// Package config is the btlm-miner run configuration: every flag of the Python
// text-prompting BTLM miner (opentensor/text-prompting b126ac1,
// prompting/baseminer/config.py and neurons/miners/bittensorLM/miner.py, on bittensor
// 6.1.0's wallet, axon, subtensor and logging flags) with its name and default, plus
// the Go miner's own flags.
//
// Parse reads, in order of precedence:
//
//  1. command-line flags (--btlm.max_length 50);
//  2. the YAML file named by --config, with flat dotted keys ("axon.port: 9000", the
//     form bittensor feeds to argparse's set_defaults) or nested maps
//     ("axon: {port: 9000}"), or both;
//  3. environment variables named BT_ + the flag name upper-cased with every "." turned
//     into "_" (--axon.port → BT_AXON_PORT, --miner.blacklist.min_request_period →
//     BT_MINER_BLACKLIST_MIN_REQUEST_PERIOD), which generalises bittensor 6.1.0's
//     BT_AXON_PORT, BT_WALLET_NAME, BT_SUBTENSOR_NETWORK, BT_LOGGING_DEBUG, ...;
//  4. the defaults of Default.
//
// Everything is parsed and checked once, at start-up (Caddy's Provision style), into
// the typed Config; the running miner never parses again. Unknown flags and file keys
// are warnings, or errors with --strict. --wandb.* flags are accepted and ignored with
// a warning: the Go miner exports Prometheus metrics instead of Weights & Biases.
package config

import (
	"time"
)

// Config is the validated configuration of `btlm-miner run`. Field comments name the
// flag; Default gives the defaults.
type Config struct {
	File              string // --config: YAML file of defaults
	Strict            bool   // --strict: unknown flags and file keys are errors
	NoVersionChecking bool   // --no_version_checking: accepted for compatibility; no effect
	NoPrompt          bool   // --no_prompt: accepted for compatibility; no effect
	Netuid            uint16 // --netuid (1)

	BTLM      BTLM
	Miner     Miner
	Wallet    Wallet
	Axon      Axon
	Subtensor Subtensor
	Logging   Logging
	Metrics   Metrics
	Wandb     Wandb

	// Sources records where each option's value came from (flag, file, env or
	// default), keyed by flag name; Effective prints it.
	Sources map[string]Source
}

// BTLM configures the model and decoding (--btlm.*).
type BTLM struct {
	Model             string  // --btlm.model: Hugging Face repo id or local directory
	Revision          string  // --btlm.revision: branch, tag, commit or refs/pr/N
	Device            string  // --btlm.device: only "cpu" (cuda is refused until a GPU path exists)
	Threads           int     // --btlm.threads: compute goroutines (0: all cores)
	Quant             string  // --btlm.quant: in-memory weight format: none (fp32), bf16 or q8_0
	MaxBatch          int     // --btlm.max_batch: requests decoded together in one pass over the weights
	MaxLength         int     // --btlm.max_length: max_new_tokens (100)
	DoSample          bool    // --btlm.do_sample: sample instead of greedy decoding
	NoRepeatNGramSize int     // --btlm.no_repeat_ngram_size (2)
	DoPromptInjection bool    // --btlm.do_prompt_injection: replace the first system message
	SystemPrompt      string  // --btlm.system_prompt: text injected with do_prompt_injection
	UseDeepspeed      bool    // --btlm.use_deepspeed: accepted, no effect (warned)
	Temperature       float64 // --btlm.temperature (0.7; with do_sample)
	TopK              int     // --btlm.top_k (50; with do_sample)
	TopP              float64 // --btlm.top_p (1.0 = off; with do_sample)
	Seed              uint64  // --btlm.seed: sampling seed
	SeedSet           bool    // whether --btlm.seed was given (otherwise a random seed per request)
	CompletionFormat  string  // --btlm.completion_format: "seed" or "clean"
}

// Miner configures the base miner (--miner.*).
type Miner struct {
	Root            string        // --miner.root ("~/.bittensor/miners/")
	Name            string        // --miner.name ("Bittensor Miner")
	BlocksPerEpoch  int           // --miner.blocks_per_epoch (100): metagraph resync period
	Blacklist       Blacklist     // --miner.blacklist.*
	Priority        Priority      // --miner.priority.*
	NoSetWeights    bool          // --miner.no_set_weights: accepted; miners set no weights by default
	SetWeights      bool          // --miner.set_weights: opt in to the seed's self-weight each epoch
	NoServe         bool          // --miner.no_serve: never publish the axon on chain
	NoStartAxon     bool          // --miner.no_start_axon: do not start the axon
	MockSubtensor   bool          // --miner.mock_subtensor: same as --subtensor.network mock
	ShutdownTimeout time.Duration // --miner.shutdown_timeout (25s): drain deadline on SIGTERM
}

// Blacklist configures request admission (--miner.blacklist.*).
type Blacklist struct {
	Blacklist               []string // --miner.blacklist.blacklist: hotkeys always refused
	Whitelist               []string // --miner.blacklist.whitelist: hotkeys always admitted
	ForceValidatorPermit    bool     // --miner.blacklist.force_validator_permit
	AllowNonRegistered      bool     // --miner.blacklist.allow_non_registered
	MinimumStakeRequirement float64  // --miner.blacklist.minimum_stake_requirement (TAO)
	PromptCacheBlockSpan    int      // --miner.blacklist.prompt_cache_block_span (7200)
	UsePromptCache          bool     // --miner.blacklist.use_prompt_cache
	MinRequestPeriod        int      // --miner.blacklist.min_request_period (5, minutes)
}

// Priority configures the request priority (--miner.priority.*).
type Priority struct {
	Default               float64 // --miner.priority.default (0.0)
	TimeStakeMultiplicate int     // --miner.priority.time_stake_multiplicate (10, minutes)
	LenRequestTimestamps  int     // --miner.priority.len_request_timestamps (50)
}

// Wallet selects the hotkey (--wallet.*). The coldkey is never read.
type Wallet struct {
	Name   string // --wallet.name ("default")
	Hotkey string // --wallet.hotkey ("default")
	Path   string // --wallet.path ("~/.bittensor/wallets/")
}

// Axon configures the server (--axon.*).
type Axon struct {
	IP           string        // --axon.ip ("[::]"): bind address
	Port         int           // --axon.port (8091)
	ExternalIP   string        // --axon.external_ip: advertised on chain (default: detected)
	ExternalPort int           // --axon.external_port: advertised on chain (0: axon.port)
	MaxWorkers   int           // --axon.max_workers (10)
	QueueSize    int           // --axon.queue_size (0: 4×max_workers, at least 16)
	MaxTimeout   time.Duration // --axon.max_timeout (60s): cap on a caller's timeout
}

// Subtensor selects the chain (--subtensor.*).
type Subtensor struct {
	Network       string // --subtensor.network ("finney"): finney, test, archive, local, mock or a ws(s):// URL
	ChainEndpoint string // --subtensor.chain_endpoint: overrides the network's endpoint when set
	MockMetagraph string // --subtensor.mock_metagraph: JSON metagraph for the mock network
}

// Logging configures log/slog output (--logging.*).
type Logging struct {
	Debug      bool   // --logging.debug
	Trace      bool   // --logging.trace (implies debug)
	RecordLog  bool   // --logging.record_log: also write to a file under logging_dir
	LoggingDir string // --logging.logging_dir ("~/.bittensor/miners")
	Format     string // --logging.format: "text" or "json"
}

// Metrics configures the Prometheus endpoint (--metrics.*).
type Metrics struct {
	IP   string // --metrics.ip ("127.0.0.1")
	Port int    // --metrics.port (9091; 0 picks a free port, -1 disables)
}

// Wandb holds the seed's Weights & Biases flags, accepted and ignored.
type Wandb struct {
	On          bool
	Off         bool
	Offline     bool
	ProjectName string
	Entity      string
	Notes       string
}

// Seed defaults that are long enough to name.
const (
	DefaultModel = "cerebras/btlm-3b-8k-base"
	// DefaultSystemPrompt is the seed's --btlm.system_prompt, byte for byte (note the
	// trailing space and the absence of a final newline).
	DefaultSystemPrompt = "A chat between a curious user and an artificial intelligence assistant.\n" +
		"The assistant gives helpful, detailed, and polite answers to the user's questions. "
)

// Default returns the defaults: the seed's for every seed flag, with these exceptions,
// each documented on its flag: --btlm.device is "cpu" (the seed's "cuda" has no Go
// path yet) and --subtensor.chain_endpoint is empty (the seed's finney URL only
// applied when set explicitly).
func Default() Config {
	return Config{
		Netuid: 1,
		BTLM: BTLM{
			Model:             DefaultModel,
			Revision:          "main",
			Device:            "cpu",
			Quant:             "none",
			MaxBatch:          8,
			MaxLength:         100,
			NoRepeatNGramSize: 2,
			SystemPrompt:      DefaultSystemPrompt,
			Temperature:       0.7,
			TopK:              50,
			TopP:              1.0,
			CompletionFormat:  "seed",
		},
		Miner: Miner{
			Root:           "~/.bittensor/miners/",
			Name:           "Bittensor Miner",
			BlocksPerEpoch: 100,
			Blacklist: Blacklist{
				Blacklist:            []string{},
				Whitelist:            []string{},
				PromptCacheBlockSpan: 7200,
				MinRequestPeriod:     5,
			},
			Priority: Priority{
				TimeStakeMultiplicate: 10,
				LenRequestTimestamps:  50,
			},
			ShutdownTimeout: 25 * time.Second,
		},
		Wallet:    Wallet{Name: "default", Hotkey: "default", Path: "~/.bittensor/wallets/"},
		Axon:      Axon{IP: "[::]", Port: 8091, MaxWorkers: 10, MaxTimeout: 60 * time.Second},
		Subtensor: Subtensor{Network: "finney"},
		Logging:   Logging{LoggingDir: "~/.bittensor/miners", Format: "text"},
		Metrics:   Metrics{IP: "127.0.0.1", Port: 9091},
	}
}

// Source is where an option's value came from.
type Source string

const (
	FromDefault Source = "default"
	FromEnv     Source = "env"
	FromFile    Source = "file"
	FromFlag    Source = "flag"
)
