// Package rpc is a websocket JSON-RPC 2.0 client for Substrate nodes (subtensor).
//
// One Client holds one shared websocket connection. Every call carries a deadline (the
// caller's context, or Options.CallTimeout when the context has none). When the
// connection drops, the client reconnects in the background with exponential backoff
// and jitter and re-subscribes every resumable subscription; calls made while
// disconnected wait for the connection until their deadline and then fail with an error
// naming the endpoint and the last connection error. Calls in flight when a connection
// drops fail with ErrDisconnected (they are not retried, since a submission must not be
// sent twice behind the caller's back); calls that had not been sent yet wait for the
// next connection.
//
// Protocol reference: JSON-RPC 2.0 and Substrate's pub/sub convention
// ({"method": …, "params": {"subscription": id, "result": …}}), as served by
// polkadot-sdk nodes and chopsticks.
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Errors returned by the client (wrapped with the method and endpoint).
var (
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("rpc: client closed")
	// ErrDisconnected: the connection dropped while the request was in flight, or a
	// non-resumable subscription lost its connection.
	ErrDisconnected = errors.New("rpc: connection lost")
	// ErrNotConnected: no connection could be established before the call's deadline.
	ErrNotConnected = errors.New("rpc: not connected")
	// ErrSubscriptionOverflow: a subscriber fell more than Options.MaxQueued
	// notifications behind; the subscription was ended.
	ErrSubscriptionOverflow = errors.New("rpc: subscription queue overflow")
	// ErrSubscriptionClosed: Subscription.Close was called.
	ErrSubscriptionClosed = errors.New("rpc: subscription closed")
)

// Error is a JSON-RPC error object returned by the server.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Data) > 0 && string(e.Data) != "null" {
		return fmt.Sprintf("rpc error %d: %s: %s", e.Code, e.Message, e.Data)
	}
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// Options configure a Client. Zero fields take the defaults shown.
type Options struct {
	CallTimeout  time.Duration // deadline for calls whose context has none (30s)
	DialTimeout  time.Duration // per connection attempt (10s)
	WriteTimeout time.Duration // per message write (10s)
	PingInterval time.Duration // keep-alive ping period (20s); a failed ping reconnects
	PingTimeout  time.Duration // (10s)
	ReadLimit    int64         // largest accepted message (64 MiB; metadata is ~0.2-0.5 MiB)
	BackoffMin   time.Duration // first reconnect delay (250ms)
	BackoffMax   time.Duration // reconnect delay cap (10s)
	MaxQueued    int           // notifications buffered per subscription (1024)
	// OnState, when set, is called from the connection goroutine whenever a connection
	// comes up (connected, nil) or goes down (false, the reason), e.g. to log
	// reconnects. It must not block or call back into the client.
	OnState func(connected bool, err error)
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.CallTimeout, 30*time.Second)
	def(&r.DialTimeout, 10*time.Second)
	def(&r.WriteTimeout, 10*time.Second)
	def(&r.PingInterval, 20*time.Second)
	def(&r.PingTimeout, 10*time.Second)
	def(&r.BackoffMin, 250*time.Millisecond)
	def(&r.BackoffMax, 10*time.Second)
	if r.ReadLimit <= 0 {
		r.ReadLimit = 64 << 20
	}
	if r.MaxQueued <= 0 {
		r.MaxQueued = 1024
	}
	return r
}

// Client is a JSON-RPC client over one shared, automatically reconnecting websocket.
// It is safe for concurrent use.
type Client struct {
	url    string
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nextID atomic.Uint64
	dials  atomic.Uint64

	mu        sync.Mutex
	conn      *conn         // nil while disconnected
	connected chan struct{} // closed while conn != nil
	lastErr   error
	subs      map[*Subscription]struct{}
}

// New returns a client for url (ws:// or wss://) and starts connecting in the
// background. It does not wait for the connection; use Dial for that.
func New(url string, opts *Options) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url:       url,
		opts:      opts.withDefaults(),
		ctx:       ctx,
		cancel:    cancel,
		connected: make(chan struct{}),
		subs:      make(map[*Subscription]struct{}),
	}
	c.wg.Add(1)
	go c.run()
	return c
}

// Dial returns a client for url once its first connection is up, or an error (and no
// client) if ctx ends first (or Options.CallTimeout passes, when ctx has no deadline).
func Dial(ctx context.Context, url string, opts *Options) (*Client, error) {
	c := New(url, opts)
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if _, err := c.waitConn(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("rpc dial %s: %w", url, err)
	}
	return c, nil
}

// URL returns the endpoint.
func (c *Client) URL() string { return c.url }

// Connects returns how many connections have been established so far (1 after the
// first connection, 2 after the first reconnect, ...).
func (c *Client) Connects() uint64 { return c.dials.Load() }

// Connected reports whether a connection is currently up.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// Close closes the connection, ends every subscription with ErrClosed, fails pending
// calls, and waits for the client's goroutines to exit.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	cn := c.conn
	subs := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
	}
	c.subs = map[*Subscription]struct{}{}
	c.mu.Unlock()
	if cn != nil {
		cn.fail(ErrClosed)
	}
	c.wg.Wait()
	for _, s := range subs {
		s.end(ErrClosed)
	}
	return nil
}

// run is the connection manager: dial, serve until the connection dies, back off, repeat.
func (c *Client) run() {
	defer c.wg.Done()
	backoff := c.opts.BackoffMin
	for c.ctx.Err() == nil {
		cn, err := c.dial()
		if err != nil {
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			delay := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, c.opts.BackoffMax)
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		backoff = c.opts.BackoffMin
		c.dials.Add(1)
		c.attach(cn)
		c.notify(true, nil)
		<-cn.done
		cn.wg.Wait()
		c.detach(cn)
		c.notify(false, cn.err)
	}
}

func (c *Client) notify(connected bool, err error) {
	if c.opts.OnState != nil {
		c.opts.OnState(connected, err)
	}
}

func (c *Client) dial() (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, c.url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.url, err)
	}
	ws.SetReadLimit(c.opts.ReadLimit)
	return newConn(c, ws), nil
}

// attach publishes a new connection and re-subscribes resumable subscriptions on it.
func (c *Client) attach(cn *conn) {
	c.mu.Lock()
	if cn.isDead() { // died before it could be used; run() moves on to detach
		c.mu.Unlock()
		return
	}
	c.conn = cn
	close(c.connected)
	var resume []*Subscription
	for s := range c.subs {
		resume = append(resume, s)
	}
	c.mu.Unlock()
	for _, s := range resume {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			s.resubscribe(cn)
		}()
	}
}

// detach withdraws a dead connection; subscriptions that cannot resume end.
func (c *Client) detach(cn *conn) {
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
		c.connected = make(chan struct{})
	}
	c.lastErr = cn.err
	var ended []*Subscription
	for s := range c.subs {
		if !s.resume {
			delete(c.subs, s)
			ended = append(ended, s)
		}
	}
	c.mu.Unlock()
	for _, s := range ended {
		s.end(fmt.Errorf("%s on %s: %w (%v)", s.method, c.url, ErrDisconnected, cn.err))
	}
}

// waitConn returns the current connection, waiting for one until ctx ends.
func (c *Client) waitConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		cn, ready := c.conn, c.connected
		c.mu.Unlock()
		if cn != nil {
			return cn, nil
		}
		select {
		case <-c.ctx.Done():
			return nil, ErrClosed
		case <-ready:
		case <-ctx.Done():
			c.mu.Lock()
			lastErr := c.lastErr
			c.mu.Unlock()
			if lastErr != nil {
				return nil, fmt.Errorf("%w to %s (last error: %v): %w", ErrNotConnected, c.url, lastErr, ctx.Err())
			}
			return nil, fmt.Errorf("%w to %s: %w", ErrNotConnected, c.url, ctx.Err())
		}
	}
}

func (c *Client) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.CallTimeout)
}

// Call invokes method with params and unmarshals the result into result (a pointer; a
// *json.RawMessage keeps it raw; nil discards it). A JSON-RPC error is returned as
// *Error (wrapped). Params are JSON-encoded: pass byte strings (storage keys, call
// data, extrinsics) as Bytes, which encodes as "0x…" hex, not as []byte (base64).
func (c *Client) Call(ctx context.Context, result any, method string, params ...any) error {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	raw, err := c.request(ctx, method, params, nil)
	if err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("rpc %s: decode result: %w", method, err)
	}
	return nil
}

// request sends one request on the current connection (waiting for one) and waits for
// its response. sub, when set, is registered by the reader under the returned id.
// A request that never left because its connection had just died is sent again on the
// next connection.
func (c *Client) request(ctx context.Context, method string, params []any, sub *Subscription) (json.RawMessage, error) {
	for {
		cn, err := c.waitConn(ctx)
		if err != nil {
			return nil, err
		}
		res, err := cn.request(ctx, method, params, sub)
		if errors.Is(err, errNotSent) && ctx.Err() == nil && c.ctx.Err() == nil {
			continue
		}
		return res, err
	}
}
