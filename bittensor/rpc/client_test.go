package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeNode is a tiny JSON-RPC websocket server for protocol and reconnect tests.
//
//	echo [x...]         → result: params
//	hang                → never answers
//	fail                → error -32000
//	big [n]             → result: a string of n bytes
//	test_subscribe      → result: "subN", then {"tick": k} every 5 ms
//	test_unsubscribe id → result: true, stops that subscription
type fakeNode struct {
	t    testing.TB
	addr string
	srv  *http.Server
	ln   net.Listener

	mu           sync.Mutex
	conns        map[*websocket.Conn]context.CancelFunc
	subscribes   atomic.Int64
	unsubscribes atomic.Int64
	wg           sync.WaitGroup
}

func newFakeNode(t testing.TB) *fakeNode {
	n := &fakeNode{t: t, conns: map[*websocket.Conn]context.CancelFunc{}}
	n.start("127.0.0.1:0")
	t.Cleanup(n.stop)
	return n
}

func (n *fakeNode) url() string { return "ws://" + n.addr }

func (n *fakeNode) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		n.t.Fatalf("listen %s: %v", addr, err)
	}
	n.ln = ln
	n.addr = ln.Addr().String()
	n.srv = &http.Server{Handler: http.HandlerFunc(n.serve)}
	go n.srv.Serve(ln)
}

// stop closes the listener and every connection, and waits for the handlers.
func (n *fakeNode) stop() {
	if n.srv != nil {
		n.srv.Close()
		n.srv = nil
	}
	n.dropConns()
	n.wg.Wait()
}

func (n *fakeNode) dropConns() {
	n.mu.Lock()
	for c, cancel := range n.conns {
		cancel()
		c.CloseNow()
	}
	n.conns = map[*websocket.Conn]context.CancelFunc{}
	n.mu.Unlock()
}

func (n *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	n.mu.Lock()
	n.conns[c] = cancel
	n.wg.Add(1)
	n.mu.Unlock()
	defer n.wg.Done()
	defer c.CloseNow()
	subs := map[string]context.CancelFunc{}
	var subWG sync.WaitGroup
	defer subWG.Wait()
	defer cancel()
	send := func(v any) {
		b, _ := json.Marshal(v)
		_ = c.Write(ctx, websocket.MessageText, b)
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			ID     uint64            `json:"id"`
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		if json.Unmarshal(data, &req) != nil {
			continue
		}
		reply := func(result any) { send(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result}) }
		switch req.Method {
		case "echo":
			reply(req.Params)
		case "hang":
		case "fail":
			send(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32000, "message": "boom"}})
		case "big":
			var size int
			_ = json.Unmarshal(req.Params[0], &size)
			reply(strings.Repeat("x", size))
		case "test_subscribe":
			id := fmt.Sprintf("sub%d", n.subscribes.Add(1))
			sctx, scancel := context.WithCancel(ctx)
			subs[id] = scancel
			reply(id)
			subWG.Add(1)
			go func() {
				defer subWG.Done()
				for k := 0; ; k++ {
					select {
					case <-sctx.Done():
						return
					case <-time.After(5 * time.Millisecond):
					}
					send(map[string]any{"jsonrpc": "2.0", "method": "test_notify",
						"params": map[string]any{"subscription": id, "result": map[string]int{"tick": k}}})
				}
			}()
		case "test_unsubscribe":
			var id string
			_ = json.Unmarshal(req.Params[0], &id)
			if cancel, ok := subs[id]; ok {
				cancel()
				delete(subs, id)
				n.unsubscribes.Add(1)
			}
			reply(true)
		default:
			send(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32601, "message": "Method not found"}})
		}
	}
}

var fastOpts = &Options{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, CallTimeout: 5 * time.Second}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestCallConcurrentIDs(t *testing.T) {
	n := newFakeNode(t)
	c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []int
			if err := c.Call(context.Background(), &got, "echo", i, i*2); err != nil {
				errs <- err
				return
			}
			if len(got) != 2 || got[0] != i || got[1] != 2*i {
				errs <- fmt.Errorf("call %d got %v", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCallErrors(t *testing.T) {
	n := newFakeNode(t)
	c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var rpcErr *Error
	err = c.Call(context.Background(), nil, "fail")
	if !errors.As(err, &rpcErr) || rpcErr.Code != -32000 || !strings.Contains(err.Error(), "rpc fail") {
		t.Errorf("fail: %v", err)
	}
	err = c.Call(context.Background(), nil, "no_such_method")
	if !errors.As(err, &rpcErr) || rpcErr.Code != -32601 {
		t.Errorf("unknown method: %v", err)
	}
	// A call whose deadline passes fails with DeadlineExceeded, and the shared
	// connection stays usable.
	err = c.Call(ctxTimeout(t, 100*time.Millisecond), nil, "hang")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	var got []string
	if err := c.Call(context.Background(), &got, "echo", "still-up"); err != nil || got[0] != "still-up" {
		t.Errorf("after timeout: %v %v", got, err)
	}
	if c.Connects() != 1 {
		t.Errorf("Connects = %d, want 1 (a timed-out call must not drop the connection)", c.Connects())
	}
	// Results larger than coder/websocket's 32 KiB default read limit.
	var big string
	if err := c.Call(context.Background(), &big, "big", 3<<20); err != nil || len(big) != 3<<20 {
		t.Errorf("big result: %d bytes, %v", len(big), err)
	}
	var wrong int
	if err := c.Call(context.Background(), &wrong, "echo", "x"); err == nil || !strings.Contains(err.Error(), "decode result") {
		t.Errorf("bad result type: %v", err)
	}
}

func TestDeadEndpointFailsWithinDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	c := New("ws://"+addr, fastOpts)
	defer c.Close()
	deadline := 300 * time.Millisecond
	start := time.Now()
	err = c.Call(ctxTimeout(t, deadline), nil, "chain_getHeader")
	elapsed := time.Since(start)
	if !errors.Is(err, ErrNotConnected) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNotConnected and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error does not name the endpoint and cause: %v", err)
	}
	// Generous bound: the call must not outlive its deadline by more than scheduling noise.
	if elapsed > deadline+2*time.Second {
		t.Errorf("call took %v with a %v deadline", elapsed, deadline)
	}
	// The default call timeout applies when the context has none.
	c2 := New("ws://"+addr, &Options{CallTimeout: 200 * time.Millisecond, BackoffMin: 10 * time.Millisecond})
	defer c2.Close()
	if err := c2.Call(context.Background(), nil, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("default deadline: %v", err)
	}
	if _, err := Dial(ctxTimeout(t, 200*time.Millisecond), "ws://"+addr, fastOpts); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Dial dead endpoint: %v", err)
	}
}

func nextTick(t *testing.T, s *Subscription) int {
	t.Helper()
	raw, err := s.Next(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	var v struct{ Tick int }
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("notification %s: %v", raw, err)
	}
	return v.Tick
}

func TestReconnectResubscribes(t *testing.T) {
	n := newFakeNode(t)
	var states []bool
	var statesMu sync.Mutex
	opts := *fastOpts
	opts.OnState = func(up bool, err error) {
		statesMu.Lock()
		states = append(states, up)
		statesMu.Unlock()
		if up != (err == nil) {
			t.Errorf("OnState(%v, %v)", up, err)
		}
	}
	c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctxTimeout(t, 5*time.Second), "test_subscribe", "test_unsubscribe", true)
	if err != nil {
		t.Fatal(err)
	}
	nextTick(t, sub)
	watch, err := c.Subscribe(ctxTimeout(t, 5*time.Second), "test_subscribe", "test_unsubscribe", false)
	if err != nil {
		t.Fatal(err)
	}
	nextTick(t, watch)

	n.dropConns() // the node goes away and comes back at once

	// The non-resumable subscription ends with ErrDisconnected (after its queue drains).
	for {
		if _, err := watch.Next(ctxTimeout(t, 5*time.Second)); err != nil {
			if !errors.Is(err, ErrDisconnected) {
				t.Fatalf("watch ended with %v, want ErrDisconnected", err)
			}
			break
		}
	}
	// The resumable one keeps delivering, from a new server-side subscription whose
	// ticks restart at 0.
	for nextTick(t, sub) != 0 {
	}
	if got := n.subscribes.Load(); got != 3 {
		t.Errorf("server saw %d subscribes, want 3 (2 + 1 resubscribe)", got)
	}
	if c.Connects() != 2 {
		t.Errorf("Connects = %d, want 2", c.Connects())
	}
	for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait); time.Sleep(5 * time.Millisecond) {
		statesMu.Lock()
		got := len(states)
		statesMu.Unlock()
		if got >= 3 {
			break
		}
	}
	statesMu.Lock()
	if len(states) < 3 || !states[0] || states[1] || !states[2] {
		t.Errorf("OnState calls %v, want up, down, up", states)
	}
	statesMu.Unlock()
	var got []string
	if err := c.Call(ctxTimeout(t, 5*time.Second), &got, "echo", "after"); err != nil || got[0] != "after" {
		t.Errorf("call after reconnect: %v %v", got, err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := sub.Next(ctxTimeout(t, 5*time.Second)); err != nil && !errors.Is(err, ErrSubscriptionClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	for {
		if _, err := sub.Next(ctxTimeout(t, 5*time.Second)); errors.Is(err, ErrSubscriptionClosed) {
			break
		} else if err != nil {
			t.Fatalf("Next after Close: %v", err)
		}
	}
	if n.unsubscribes.Load() != 1 {
		t.Errorf("server saw %d unsubscribes, want 1", n.unsubscribes.Load())
	}
}

func TestServerRestartSamePort(t *testing.T) {
	n := newFakeNode(t)
	c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := subscribeTicks(t, c)
	if err != nil {
		t.Fatal(err)
	}
	nextTick(t, sub)
	addr := n.addr
	n.stop()

	err = c.Call(ctxTimeout(t, 200*time.Millisecond), nil, "echo")
	if !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrDisconnected) {
		t.Fatalf("call while down: %v", err)
	}
	n.start(addr)
	var got []int
	if err := c.Call(ctxTimeout(t, 5*time.Second), &got, "echo", 7); err != nil || got[0] != 7 {
		t.Fatalf("call after restart: %v %v", got, err)
	}
	for nextTick(t, sub) != 0 {
	}
}

// subscribeTicks subscribes to the fake node's resumable test subscription.
func subscribeTicks(t *testing.T, c *Client) (*Subscription, error) {
	return c.Subscribe(ctxTimeout(t, 5*time.Second), "test_subscribe", "test_unsubscribe", true)
}

func TestSubscriptionOverflow(t *testing.T) {
	n := newFakeNode(t)
	c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), &Options{MaxQueued: 3, BackoffMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := subscribeTicks(t, c)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sub.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(sub.Err(), ErrSubscriptionOverflow) {
		t.Fatalf("Err = %v, want overflow", sub.Err())
	}
	for i := 0; i < 3; i++ { // the queued notifications are still delivered
		if _, err := sub.Next(ctxTimeout(t, time.Second)); err != nil {
			t.Fatalf("queued %d: %v", i, err)
		}
	}
	if _, err := sub.Next(ctxTimeout(t, time.Second)); !errors.Is(err, ErrSubscriptionOverflow) {
		t.Fatalf("after drain: %v", err)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	n := newFakeNode(t)
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), fastOpts)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := subscribeTicks(t, c)
		if err != nil {
			t.Fatal(err)
		}
		nextTick(t, sub)
		n.dropConns()
		nextTick(t, sub) // after the reconnect
		c.Close()
		if _, err := sub.Next(ctxTimeout(t, time.Second)); err == nil {
			for {
				if _, err = sub.Next(ctxTimeout(t, time.Second)); err != nil {
					break
				}
			}
		}
		if err := c.Call(context.Background(), nil, "echo"); !errors.Is(err, ErrClosed) {
			t.Errorf("call after Close: %v", err)
		}
	}
	n.dropConns()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before\n%s", g, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestNewHeadsHelpersAgainstFake(t *testing.T) {
	// chain_subscribeNewHeads is unknown to the fake: the error must surface as *Error.
	n := newFakeNode(t)
	c, err := Dial(ctxTimeout(t, 5*time.Second), n.url(), fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rpcErr *Error
	if _, err := c.SubscribeNewHeads(ctxTimeout(t, 5*time.Second)); !errors.As(err, &rpcErr) {
		t.Errorf("SubscribeNewHeads on fake: %v", err)
	}
}

func TestHexTypes(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{`"0x00000001"`, 1, true},
		{`"0x1b"`, 27, true},
		{`"42"`, 42, true},
		{`42`, 42, true},
		{`"0xzz"`, 0, false},
		{`"0x1ffffffffffffffff"`, 0, false},
		{`{}`, 0, false},
	}
	for _, tc := range tests {
		var n HexNumber
		err := json.Unmarshal([]byte(tc.in), &n)
		if (err == nil) != tc.ok || (tc.ok && uint64(n) != tc.want) {
			t.Errorf("HexNumber %s = %d, %v", tc.in, n, err)
		}
	}
	h, err := ParseHeader(json.RawMessage(`{"parentHash":"0x4545","number":"0x00000002","stateRoot":"0x00","extrinsicsRoot":"0x01","digest":{"logs":["0x0661"]}}`))
	if err != nil || h.Number != 2 || h.ParentHash.String() != "0x4545" || len(h.Digest.Logs) != 1 {
		t.Errorf("ParseHeader: %+v %v", h, err)
	}
	var b Bytes
	if err := json.Unmarshal([]byte(`null`), &b); err != nil || b != nil {
		t.Errorf("null Bytes: %v %v", b, err)
	}
	out, _ := json.Marshal(Bytes{0xde, 0xad})
	if string(out) != `"0xdead"` {
		t.Errorf("Bytes marshal: %s", out)
	}
}

// FuzzDispatch feeds arbitrary server messages to a connection's dispatcher: it must
// never panic, and a response must reach only the pending request with its id.
func FuzzDispatch(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":"sub1"}`))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"chain_newHead","params":{"subscription":"sub1","result":{"number":"0x01"}}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"x","data":"y"}}`))
	f.Add([]byte(`{"method":"x","params":{"subscription":7,"error":{"code":1,"message":"gone"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Client{url: "ws://fuzz", opts: (&Options{MaxQueued: 4}).withDefaults()}
		cn := &conn{c: c, pending: map[uint64]*pending{}, subsByID: map[string]*Subscription{}}
		s := &Subscription{c: c, method: "m", mu: make(chan struct{}, 1), notify: make(chan struct{}, 1)}
		p1 := &pending{ch: make(chan response, 1), sub: s}
		p2 := &pending{ch: make(chan response, 1)}
		cn.pending[1], cn.pending[2] = p1, p2
		cn.subsByID["sub1"] = s
		cn.dispatch(data)
		cn.dispatch(data)
	})
}

// BenchmarkCall measures one request/response round trip over the shared connection
// to the in-process fake node.
func BenchmarkCall(b *testing.B) {
	n := newFakeNode(b)
	c, err := Dial(context.Background(), n.url(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var got []int
		if err := c.Call(context.Background(), &got, "echo", i); err != nil {
			b.Fatal(err)
		}
	}
}
