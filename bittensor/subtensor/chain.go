package subtensor

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Chain is what the miner needs from subtensor. Client (a real node over websocket
// JSON-RPC) and MockChain (offline) implement it. Every method honours ctx's deadline.
type Chain interface {
	// Block returns the current best block number.
	Block(ctx context.Context) (uint64, error)
	// SubscribeBlocks delivers new block numbers until ctx ends or Close; the channel
	// is then closed. A slow reader misses numbers rather than blocking the chain.
	SubscribeBlocks(ctx context.Context) (<-chan uint64, error)
	// Metagraph returns a fresh snapshot of netuid at the current block.
	Metagraph(ctx context.Context, netuid uint16) (*Metagraph, error)
	// IsRegistered reports whether hotkey holds a uid on netuid, and which.
	IsRegistered(ctx context.Context, netuid uint16, hotkey AccountID) (registered bool, uid uint16, err error)
	// AxonInfo returns hotkey's published axon on netuid; ok is false when it never served.
	AxonInfo(ctx context.Context, netuid uint16, hotkey AccountID) (info AxonInfo, ok bool, err error)
	// ServeAxon publishes axon (IP, Port, Version, Protocol; IPType derived from the IP
	// when 0) for the hotkey that signs, and waits until it is in a block.
	ServeAxon(ctx context.Context, hotkey Signer, netuid uint16, axon AxonInfo) error
	// SetWeights sets hotkey's weights (u16 values, see NormalizeWeights) on netuid and
	// waits until they are in a block.
	SetWeights(ctx context.Context, hotkey Signer, netuid uint16, uids, weights []uint16, versionKey uint64) error
	// Close releases the connection; later calls fail.
	Close() error
}

// Both chains implement Chain.
var (
	_ Chain = (*Client)(nil)
	_ Chain = (*MockChain)(nil)
)

// Signer signs extrinsics with an sr25519 key (wallet.Keypair implements it).
type Signer interface {
	PublicKey() [32]byte
	Sign(msg []byte) ([]byte, error)
}

// Network endpoints of bittensor 6.1.0 (bittensor/__init__.py).
var Endpoints = map[string]string{
	"finney":  "wss://entrypoint-finney.opentensor.ai:443",
	"test":    "wss://test.finney.opentensor.ai:443/",
	"archive": "wss://archive.chain.opentensor.ai:443/",
	"local":   "ws://127.0.0.1:9944",
}

// Config selects a chain: --subtensor.network, --subtensor.chain_endpoint and, for the
// offline mock, --subtensor.mock_metagraph.
type Config struct {
	Network       string // finney, test, archive, local, mock, or a ws(s):// URL
	Endpoint      string // overrides the network's endpoint when set
	MockMetagraph string // JSON file for the mock network (format: package doc)
}

// AddFlags registers the subtensor flags with bittensor's names, reading defaults from
// BT_SUBTENSOR_NETWORK and BT_SUBTENSOR_CHAIN_ENDPOINT (default network: finney).
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	network := envOr("BT_SUBTENSOR_NETWORK", "finney")
	fs.StringVar(&c.Network, "subtensor.network", network,
		"subtensor network: finney, test, archive, local, mock (offline), or a ws(s):// endpoint")
	fs.StringVar(&c.Endpoint, "subtensor.chain_endpoint", os.Getenv("BT_SUBTENSOR_CHAIN_ENDPOINT"),
		"websocket endpoint of a subtensor node; overrides the network's default")
	fs.StringVar(&c.MockMetagraph, "subtensor.mock_metagraph", "",
		"mock network: metagraph JSON file (default: one neuron holding the miner's hotkey)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Resolve returns the network name and websocket URL, following bittensor 6.1.0's
// subtensor.setup_config: an explicit endpoint wins and the network is named after
// it ("custom" when it matches none); otherwise a known network name maps to its
// endpoint, and a ws(s):// URL given as the network is used as is. The mock network
// has no URL.
func (c Config) Resolve() (network, url string, err error) {
	name := strings.ToLower(strings.TrimSpace(c.Network))
	if name == "mock" {
		return "mock", "", nil
	}
	if ep := strings.TrimSpace(c.Endpoint); ep != "" {
		if !isWebsocketURL(ep) {
			return "", "", fmt.Errorf("subtensor.chain_endpoint %q: want a ws:// or wss:// URL", ep)
		}
		return networkOf(ep), ep, nil
	}
	if name == "" {
		name = "finney"
	}
	if u, ok := Endpoints[name]; ok {
		return name, u, nil
	}
	if isWebsocketURL(name) {
		return networkOf(c.Network), strings.TrimSpace(c.Network), nil
	}
	return "", "", fmt.Errorf("subtensor.network %q: want finney, test, archive, local, mock or a ws(s):// URL", c.Network)
}

func isWebsocketURL(s string) bool {
	s = strings.ToLower(s)
	return strings.HasPrefix(s, "ws://") || strings.HasPrefix(s, "wss://")
}

// networkOf names the network of an endpoint URL like bittensor's
// determine_chain_endpoint_and_network.
func networkOf(url string) string {
	u := strings.ToLower(url)
	switch {
	case strings.Contains(u, "entrypoint-finney.opentensor.ai"):
		return "finney"
	case strings.Contains(u, "test.finney.opentensor.ai"):
		return "test"
	case strings.Contains(u, "archive.chain.opentensor.ai"):
		return "archive"
	case strings.Contains(u, "127.0.0.1") || strings.Contains(u, "localhost"):
		return "local"
	}
	return "custom"
}

// Open connects to the configured chain. For the mock network, hotkey is the miner's
// own hotkey, placed at uid 0 of the default single-neuron metagraph.
func Open(ctx context.Context, c Config, hotkey AccountID) (Chain, error) {
	network, url, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	if network == "mock" {
		if c.MockMetagraph != "" {
			return LoadMockChain(c.MockMetagraph)
		}
		return NewMockChain(hotkey), nil
	}
	cl, err := Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("subtensor %s (%s): %w", network, url, err)
	}
	return cl, nil
}
