package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// conn is one websocket connection with its reader, writer and pinger goroutines.
type conn struct {
	c      *Client
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	writes chan []byte
	done   chan struct{} // closed by fail
	wg     sync.WaitGroup

	mu       sync.Mutex
	err      error // why the connection died
	dead     bool
	pending  map[uint64]*pending
	subsByID map[string]*Subscription
}

type pending struct {
	ch  chan response // buffered 1
	sub *Subscription
}

type response struct {
	result json.RawMessage
	err    error
}

func newConn(c *Client, ws *websocket.Conn) *conn {
	ctx, cancel := context.WithCancel(c.ctx)
	cn := &conn{
		c: c, ws: ws, ctx: ctx, cancel: cancel,
		writes:   make(chan []byte, 64),
		done:     make(chan struct{}),
		pending:  make(map[uint64]*pending),
		subsByID: make(map[string]*Subscription),
	}
	cn.wg.Add(3)
	go cn.readLoop()
	go cn.writeLoop()
	go cn.pingLoop()
	return cn
}

// fail marks the connection dead (first error wins), closes the socket and fails every
// pending request.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	cn.dead = true
	cn.err = err
	pend := cn.pending
	cn.pending = nil
	cn.subsByID = nil
	cn.mu.Unlock()
	cn.cancel()
	_ = cn.ws.CloseNow()
	for _, p := range pend {
		p.ch <- response{err: fmt.Errorf("%w (%v)", ErrDisconnected, err)}
	}
	close(cn.done)
	// Withdraw the connection at once, so new calls wait for the next one instead of
	// failing on this one.
	c := cn.c
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
		c.connected = make(chan struct{})
	}
	c.lastErr = err
	c.mu.Unlock()
}

func (cn *conn) isDead() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.dead
}

// errNotSent marks a request that never left this process because its connection was
// already dead: it is safe to send it again on the next connection.
var errNotSent = errors.New("not sent")

func notSent(err error) error { return fmt.Errorf("%w: %w", errNotSent, err) }

func (cn *conn) readLoop() {
	defer cn.wg.Done()
	for {
		_, data, err := cn.ws.Read(cn.ctx)
		if err != nil {
			cn.fail(fmt.Errorf("read from %s: %w", cn.c.url, err))
			return
		}
		cn.dispatch(data)
	}
}

func (cn *conn) writeLoop() {
	defer cn.wg.Done()
	for {
		select {
		case <-cn.ctx.Done():
			return
		case msg := <-cn.writes:
			ctx, cancel := context.WithTimeout(cn.ctx, cn.c.opts.WriteTimeout)
			err := cn.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				cn.fail(fmt.Errorf("write to %s: %w", cn.c.url, err))
				return
			}
		}
	}
}

func (cn *conn) pingLoop() {
	defer cn.wg.Done()
	t := time.NewTicker(cn.c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(cn.ctx, cn.c.opts.PingTimeout)
			err := cn.ws.Ping(ctx)
			cancel()
			if err != nil {
				cn.fail(fmt.Errorf("ping %s: %w", cn.c.url, err))
				return
			}
		}
	}
}

// message is any incoming JSON-RPC message: a response (id set) or a notification.
type message struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	Method string          `json:"method"`
	Params *struct {
		Subscription json.RawMessage `json:"subscription"`
		Result       json.RawMessage `json:"result"`
		Error        *Error          `json:"error"`
	} `json:"params"`
}

// subKey normalises a subscription id (string or number) to a map key.
func subKey(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

func (cn *conn) dispatch(data []byte) {
	var msg message
	if err := json.Unmarshal(data, &msg); err != nil {
		return // not JSON-RPC; ignore rather than drop the connection
	}
	if len(msg.ID) > 0 && string(msg.ID) != "null" {
		id, err := strconv.ParseUint(string(msg.ID), 10, 64)
		if err != nil {
			return
		}
		cn.mu.Lock()
		p := cn.pending[id]
		delete(cn.pending, id)
		var resp response
		switch {
		case msg.Error != nil:
			resp.err = msg.Error
		case p != nil && p.sub != nil:
			key, ok := subKey(msg.Result)
			if !ok {
				resp.err = fmt.Errorf("bad subscription id %s", msg.Result)
				break
			}
			// Registered before the next message is read, so no notification is lost.
			if p.sub.bind(cn, key) {
				cn.subsByID[key] = p.sub
			}
			resp.result = msg.Result
		default:
			resp.result = msg.Result
		}
		cn.mu.Unlock()
		if p != nil {
			p.ch <- resp
		}
		return
	}
	if msg.Params == nil {
		return
	}
	key, ok := subKey(msg.Params.Subscription)
	if !ok {
		return
	}
	cn.mu.Lock()
	s := cn.subsByID[key]
	cn.mu.Unlock()
	if s == nil {
		return
	}
	if msg.Params.Error != nil {
		s.end(fmt.Errorf("%s: %w", s.method, msg.Params.Error))
		return
	}
	s.push(msg.Params.Result)
}

func (cn *conn) request(ctx context.Context, method string, params []any, sub *Subscription) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	id := cn.c.nextID.Add(1)
	msg, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      uint64 `json:"id"`
		Method  string `json:"method"`
		Params  []any  `json:"params"`
	}{"2.0", id, method, params})
	if err != nil {
		return nil, fmt.Errorf("encode params: %w", err)
	}
	p := &pending{ch: make(chan response, 1), sub: sub}
	cn.mu.Lock()
	if cn.dead {
		err := cn.err
		cn.mu.Unlock()
		return nil, notSent(fmt.Errorf("%w (%v)", ErrDisconnected, err))
	}
	cn.pending[id] = p
	cn.mu.Unlock()
	forget := func() {
		cn.mu.Lock()
		if cn.pending != nil {
			delete(cn.pending, id)
		}
		cn.mu.Unlock()
	}
	select {
	case cn.writes <- msg:
	case r := <-p.ch: // the connection failed before the request was queued
		return nil, notSent(r.err)
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("%s: %w", cn.c.url, ctx.Err())
	}
	select {
	case r := <-p.ch:
		return r.result, r.err
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("%s: %w", cn.c.url, ctx.Err())
	}
}

// unbind removes a subscription id from the connection.
func (cn *conn) unbind(key string) {
	cn.mu.Lock()
	if cn.subsByID != nil {
		delete(cn.subsByID, key)
	}
	cn.mu.Unlock()
}
