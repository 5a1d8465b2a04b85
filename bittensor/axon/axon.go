// Package axon is a Bittensor axon: the HTTP server through which validators'
// dendrites call a miner. It serves unmodified bittensor 6.1.0 and 10.x Python
// dendrites (and the Go dendrite) following ../shared/reference/axon-protocol.md
// §2-§10, with the Go rules of §5 and §7:
//
//	route → parse headers (400) → blacklist on headers (403) → signature and nonce
//	(401) → priority → admission to a bounded priority queue (503) → bounded body read
//	(413/408) → body hash with the server's own hash-field list (500) → forward on a
//	worker within the request deadline (408/500) → 200.
//
// Every response carries the lowercase bt_header_axon_* / bt_header_dendrite_* header
// set, an HTTP status equal to bt_header_axon_status_code and a JSON body (the
// synapse on success, {"message": ...} on errors); streaming routes answer
// text/event-stream with raw flushed chunks.
package axon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// Axon is the server. Create it with New, Attach routes, then Serve (or Listen and
// Serve). It is safe for concurrent use once serving.
type Axon struct {
	cfg       Config
	hotkey    *wallet.Keypair
	uuid      string
	now       func() time.Time
	nonces    NonceStore
	log       *slog.Logger
	blacklist BlacklistFunc
	observe   func(Event)

	mu         sync.Mutex
	routes     map[string]*Handler
	routeNames []string
	notFound   string // Python repr of the route list, for 404 messages
	ln         net.Listener
	srv        *http.Server
	sched      *scheduler
	started    bool
	shutdown   bool

	sigs responseSigner
}

// New returns an axon that signs as hotkey. The ping route /Synapse is attached.
func New(cfg Config, hotkey *wallet.Keypair, opts ...Option) (*Axon, error) {
	if hotkey == nil {
		return nil, errors.New("axon: nil hotkey")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("axon: %w", err)
	}
	a := &Axon{cfg: cfg.withDefaults(), hotkey: hotkey, uuid: synapse.NewUUID(), now: time.Now, log: slog.Default(),
		routes: map[string]*Handler{}}
	for _, o := range opts {
		o(a)
	}
	if a.nonces == nil {
		a.nonces = NewMemoryNonceStore(a.cfg.NonceCapacity)
	}
	a.sigs.init()
	if err := a.Attach(Unary(func() *synapse.Synapse { return &synapse.Synapse{} },
		func(context.Context, *synapse.Synapse) error { return nil })); err != nil {
		return nil, err
	}
	return a, nil
}

// Config returns the effective configuration (defaults filled in).
func (a *Axon) Config() Config { return a.cfg }

// Hotkey returns the axon's hotkey.
func (a *Axon) Hotkey() *wallet.Keypair { return a.hotkey }

// Attach serves h at /{ClassName}. Attaching a name again replaces the handler (so a
// miner may replace the /Synapse ping). It must be called before Serve.
func (a *Axon) Attach(h Handler) error {
	if h.New == nil || (h.Forward == nil) == (h.Stream == nil) {
		return errors.New("axon: handler needs New and exactly one of Forward or Stream")
	}
	name := h.New().ClassName()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return errors.New("axon: Attach after Serve")
	}
	if _, ok := a.routes[name]; !ok {
		a.routeNames = append(a.routeNames, name)
	}
	a.routes[name] = &h
	a.notFound = synapse.PyStrList(a.routeNames, synapse.DefaultProfile)
	return nil
}

// Listen binds the listening socket (Config.IP/Port) and starts the workers. Serve
// calls it when needed; call it first to learn Addr before serving.
func (a *Axon) Listen() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shutdown {
		return errors.New("axon: shut down")
	}
	if a.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("axon: listen %s: %w", a.cfg.ListenAddr(), err)
	}
	a.ln = ln
	a.started = true
	a.sched = newScheduler(a.cfg.MaxWorkers, a.cfg.QueueSize, a.cfg.MinForwardTime)
	a.srv = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    a.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	return nil
}

// Addr returns the bound address, or nil before Listen.
func (a *Axon) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// Serve listens if needed and serves until ctx ends, then shuts down gracefully
// (Config.ShutdownTimeout). It returns nil after a clean shutdown.
func (a *Axon) Serve(ctx context.Context) error {
	if err := a.Listen(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Serve(a.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("axon: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		err := a.Shutdown(sctx)
		<-errc
		return err
	}
}

// Shutdown stops accepting connections, waits for in-flight requests (queued ones
// included) to finish, then stops the workers. When ctx ends first, open connections
// are closed, which cancels the remaining forward contexts.
func (a *Axon) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.shutdown = true
	srv, sched := a.srv, a.sched
	a.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	sched.close()
	if werr := sched.wait(ctx); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("axon: shutdown: %w", err)
	}
	return nil
}

// ExternalAddr returns the IP and port to advertise on chain: Config.ExternalIP and
// Config.ExternalPort, the port defaulting to the bound port (or Config.Port).
// The IP is "" when not configured.
func (a *Axon) ExternalAddr() (string, int) {
	port := a.cfg.ExternalPort
	if port == 0 {
		port = a.cfg.Port
		if addr, ok := a.Addr().(*net.TCPAddr); ok {
			port = addr.Port
		}
	}
	return a.cfg.ExternalIP, port
}

// Stats returns the queue state (zero before Listen).
func (a *Axon) Stats() Stats {
	a.mu.Lock()
	s := a.sched
	a.mu.Unlock()
	if s == nil {
		return Stats{}
	}
	return s.stats()
}

func newErrorID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// responseSigner caches the axon's response signatures per (caller, claimed axon
// hotkey) for a second: the message has no per-request part except the axon nonce.
type responseSigner struct {
	mu    sync.Mutex
	cache map[string]signedNonce
}

type signedNonce struct {
	nonce   int64
	sig     string
	expires time.Time
}

func (s *responseSigner) init() { s.cache = map[string]signedNonce{} }

// sign returns (nonce, signature) for the message
// "{axon.nonce}.{dendrite.hotkey}.{axon.hotkey as sent}.{axon.uuid}" (§4.3). With
// cachedOnly it returns ok=false instead of signing anew.
func (a *Axon) responseSignature(dendriteHotkey, axonHotkey string, cachedOnly bool) (int64, string, bool) {
	key := dendriteHotkey + "\x00" + axonHotkey
	mono := time.Now()
	a.sigs.mu.Lock()
	e, ok := a.sigs.cache[key]
	a.sigs.mu.Unlock()
	if ok && mono.Before(e.expires) {
		return e.nonce, e.sig, true
	}
	if cachedOnly {
		return 0, "", false
	}
	nonce := a.now().UnixNano()
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%s.%s.%s", nonce, dendriteHotkey, axonHotkey, a.uuid)
	sig, err := a.hotkey.Sign([]byte(b.String()))
	if err != nil {
		return 0, "", false
	}
	e = signedNonce{nonce, "0x" + hex.EncodeToString(sig), mono.Add(time.Second)}
	a.sigs.mu.Lock()
	if len(a.sigs.cache) >= 4096 {
		clear(a.sigs.cache)
	}
	a.sigs.cache[key] = e
	a.sigs.mu.Unlock()
	return e.nonce, e.sig, true
}
