package axon

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// Config configures an Axon. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// IP is the bind address (--axon.ip). "", "[::]", "::" and "0.0.0.0" bind all
	// interfaces (the Python axon always binds 0.0.0.0).
	IP string
	// Port is the bind port (--axon.port, default 8091); 0 picks a free port.
	Port int
	// ExternalIP and ExternalPort are what the miner advertises on chain
	// (--axon.external_ip, --axon.external_port); the axon itself does not use them.
	ExternalIP   string
	ExternalPort int
	// MaxWorkers bounds the forward functions running at once (--axon.max_workers, 10).
	MaxWorkers int
	// QueueSize bounds the verified requests waiting for a worker (--axon.queue_size);
	// a request beyond it is answered 503. Default 4×MaxWorkers, at least 16.
	QueueSize int
	// MaxBodyBytes bounds a request body (--axon.max_body_bytes, 1 MiB); larger ⇒ 413.
	MaxBodyBytes int64
	// MaxTimeout caps the client's timeout header (--axon.max_timeout, 60 s).
	MaxTimeout time.Duration
	// MinForwardTime: a request with less time left than this when it would start is
	// dropped with 408 instead of being run (default 10 ms).
	MinForwardTime time.Duration
	// ShutdownTimeout is how long Serve waits for in-flight requests when its context
	// ends (default 30 s).
	ShutdownTimeout time.Duration
	// NonceCapacity bounds the nonce store (hotkey:uuid entries, default 65536, LRU).
	NonceCapacity int
	// Version is the bt_header_axon_version this axon reports (default 610).
	Version int
	// UnsignedResponses drops bt_header_axon_nonce/_signature from responses. By
	// default they are sent like the Python axon's (nobody verifies them); signatures
	// are cached per caller for a second so they cost little.
	UnsignedResponses bool
	// ReadHeaderTimeout and IdleTimeout configure the http.Server (5 s, 60 s).
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes bounds the request header block (default 32 KiB).
	MaxHeaderBytes int
}

// DefaultConfig returns the defaults: port 8091, 10 workers, 1 MiB bodies.
func DefaultConfig() Config {
	return Config{
		Port: 8091, MaxWorkers: 10, MaxBodyBytes: 1 << 20, MaxTimeout: 60 * time.Second,
		MinForwardTime: 10 * time.Millisecond, ShutdownTimeout: 30 * time.Second,
		NonceCapacity: 1 << 16, Version: synapse.Version610,
		ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 32 << 10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = d.MaxWorkers
	}
	if c.QueueSize <= 0 {
		c.QueueSize = max(4*c.MaxWorkers, 16)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = d.MaxTimeout
	}
	if c.MinForwardTime <= 0 {
		c.MinForwardTime = d.MinForwardTime
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	if c.NonceCapacity <= 0 {
		c.NonceCapacity = d.NonceCapacity
	}
	if c.Version == 0 {
		c.Version = d.Version
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return c
}

// Validate checks ranges.
func (c Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("axon.port %d out of range", c.Port)
	}
	if c.ExternalPort < 0 || c.ExternalPort > 65535 {
		return fmt.Errorf("axon.external_port %d out of range", c.ExternalPort)
	}
	if c.ExternalIP != "" && net.ParseIP(c.ExternalIP) == nil {
		return fmt.Errorf("axon.external_ip %q is not an IP address", c.ExternalIP)
	}
	return nil
}

// ListenAddr is the host:port the axon binds.
func (c Config) ListenAddr() string {
	ip := c.IP
	switch ip {
	case "", "[::]", "::", "0.0.0.0":
		ip = ""
	}
	if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		ip = ip[1 : len(ip)-1]
	}
	return net.JoinHostPort(ip, strconv.Itoa(c.Port))
}

// AddFlags registers the bittensor-style --axon.* flags on fs, writing into c. The
// defaults are c's current values, overridden by BT_AXON_PORT, BT_AXON_IP,
// BT_AXON_EXTERNAL_IP, BT_AXON_EXTERNAL_PORT and BT_AXON_MAX_WORKERS when set.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
			return v
		}
		return def
	}
	envStr := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.IntVar(&c.Port, "axon.port", envInt("BT_AXON_PORT", c.Port), "port the axon listens on")
	fs.StringVar(&c.IP, "axon.ip", envStr("BT_AXON_IP", c.IP), "bind address (empty or [::] = all interfaces)")
	fs.StringVar(&c.ExternalIP, "axon.external_ip", envStr("BT_AXON_EXTERNAL_IP", c.ExternalIP), "IP advertised on chain")
	fs.IntVar(&c.ExternalPort, "axon.external_port", envInt("BT_AXON_EXTERNAL_PORT", c.ExternalPort), "port advertised on chain (0 = axon.port)")
	fs.IntVar(&c.MaxWorkers, "axon.max_workers", envInt("BT_AXON_MAX_WORKERS", c.MaxWorkers), "forward functions running at once")
	fs.IntVar(&c.QueueSize, "axon.queue_size", c.QueueSize, "verified requests waiting for a worker before 503 (0 = 4×max_workers, at least 16)")
	fs.Int64Var(&c.MaxBodyBytes, "axon.max_body_bytes", c.MaxBodyBytes, "largest accepted request body")
	fs.DurationVar(&c.MaxTimeout, "axon.max_timeout", c.MaxTimeout, "cap on the timeout a caller may request")
}

// Option customises an Axon.
type Option func(*Axon)

// WithClock replaces the wall clock used for the nonce window and the axon nonce
// (tests replaying recorded requests).
func WithClock(now func() time.Time) Option { return func(a *Axon) { a.now = now } }

// WithNonceStore replaces the in-memory nonce store.
func WithNonceStore(s NonceStore) Option { return func(a *Axon) { a.nonces = s } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(a *Axon) { a.log = l } }

// WithBlacklist adds a blacklist applied to every route (before the route's own).
func WithBlacklist(f BlacklistFunc) Option { return func(a *Axon) { a.blacklist = f } }

// Event describes one answered request, for metrics and request logs.
type Event struct {
	Synapse  string
	Hotkey   string // claimed dendrite hotkey ("" when absent); verified when Verified
	Verified bool
	Status   int
	Message  string
	Duration time.Duration
	Stream   bool
}

// WithObserver calls f after every response is written (from the request goroutine;
// keep it fast).
func WithObserver(f func(Event)) Option { return func(a *Axon) { a.observe = f } }
