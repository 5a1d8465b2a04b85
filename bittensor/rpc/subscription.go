package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Subscription is a server-side subscription (chain_subscribeNewHeads,
// author_submitAndWatchExtrinsic, ...). Notifications are queued without blocking the
// connection; read them with Next. A resumable subscription is re-created on every new
// connection after a reconnect (notifications sent while disconnected are lost); any
// other subscription ends with ErrDisconnected when its connection drops.
type Subscription struct {
	c           *Client
	method      string
	unsubscribe string
	params      []any
	resume      bool

	mu     chan struct{} // 1-slot lock usable in select
	queue  []json.RawMessage
	notify chan struct{} // 1-buffered: something was queued or the subscription ended
	err    error         // terminal error; set once
	cn     *conn         // connection the current server-side id lives on
	key    string        // current server-side id
	renew  *conn         // connection a resubscribe is in flight on
}

func (s *Subscription) lock()   { s.mu <- struct{}{} }
func (s *Subscription) unlock() { <-s.mu }

func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Subscribe calls method with params, which must return a subscription id, and returns
// the subscription. unsubscribe is the method that cancels it (e.g.
// chain_unsubscribeNewHeads). With resume, the subscription is re-created after every
// reconnect; use resume = false for subscriptions that must not be repeated, such as
// author_submitAndWatchExtrinsic.
func (c *Client) Subscribe(ctx context.Context, method, unsubscribe string, resume bool, params ...any) (*Subscription, error) {
	s := &Subscription{
		c: c, method: method, unsubscribe: unsubscribe, params: params, resume: resume,
		mu: make(chan struct{}, 1), notify: make(chan struct{}, 1),
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if _, err := c.request(ctx, method, params, s); err != nil {
		s.end(err)
		return nil, fmt.Errorf("rpc %s: %w", method, err)
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		s.end(ErrClosed)
		return nil, fmt.Errorf("rpc %s: %w", method, ErrClosed)
	}
	c.subs[s] = struct{}{}
	cn := s.conn()
	c.mu.Unlock()
	// The connection may have died between the response and the registration above;
	// detach has then already run without this subscription.
	if cn != nil {
		select {
		case <-cn.done:
			if resume {
				c.mu.Lock()
				alive := c.conn
				c.mu.Unlock()
				if alive != nil && alive != cn {
					c.wg.Add(1)
					go func() { defer c.wg.Done(); s.resubscribe(alive) }()
				}
			} else {
				c.mu.Lock()
				delete(c.subs, s)
				c.mu.Unlock()
				s.end(fmt.Errorf("%s: %w", method, ErrDisconnected))
			}
		default:
		}
	}
	return s, nil
}

func (s *Subscription) conn() *conn {
	s.lock()
	defer s.unlock()
	return s.cn
}

// bind records the server-side id; called by the reader under the connection lock. It
// reports false when the subscription has already ended.
func (s *Subscription) bind(cn *conn, key string) bool {
	s.lock()
	defer s.unlock()
	if s.err != nil {
		return false
	}
	s.cn, s.key = cn, key
	return true
}

// push queues a notification.
func (s *Subscription) push(v json.RawMessage) {
	s.lock()
	if s.err != nil {
		s.unlock()
		return
	}
	if len(s.queue) >= s.c.opts.MaxQueued {
		s.unlock()
		s.end(fmt.Errorf("%s: %w (%d queued)", s.method, ErrSubscriptionOverflow, s.c.opts.MaxQueued))
		s.c.forget(s)
		return
	}
	s.queue = append(s.queue, v)
	s.unlock()
	s.wake()
}

// end sets the terminal error (first one wins) and unbinds the server-side id.
func (s *Subscription) end(err error) {
	s.lock()
	if s.err != nil {
		s.unlock()
		return
	}
	s.err = err
	cn, key := s.cn, s.key
	s.cn, s.key = nil, ""
	s.unlock()
	if cn != nil {
		cn.unbind(key)
	}
	s.wake()
}

// resubscribe re-creates the subscription on a new connection.
// At most one server-side subscription is made per connection.
func (s *Subscription) resubscribe(cn *conn) {
	s.lock()
	skip := s.err != nil || s.cn == cn || s.renew == cn
	if !skip {
		s.renew = cn
	}
	s.unlock()
	if skip {
		return
	}
	ctx, cancel := context.WithTimeout(cn.ctx, s.c.opts.CallTimeout)
	defer cancel()
	_, err := cn.request(ctx, s.method, s.params, s)
	s.lock()
	s.renew = nil
	s.unlock()
	var rpcErr *Error
	if errors.As(err, &rpcErr) {
		// The server refuses the subscription now: end it rather than loop.
		s.c.forget(s)
		s.end(fmt.Errorf("%s: resubscribe: %w", s.method, err))
	}
	// Other errors mean the connection died again; the next connection retries.
}

// forget removes s from the client's resumable set.
func (c *Client) forget(s *Subscription) {
	c.mu.Lock()
	delete(c.subs, s)
	c.mu.Unlock()
}

// Next returns the next notification's result, waiting until one arrives, the
// subscription ends (its terminal error is returned once the queue is drained), or ctx
// ends.
func (s *Subscription) Next(ctx context.Context) (json.RawMessage, error) {
	for {
		s.lock()
		if len(s.queue) > 0 {
			v := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			more := len(s.queue) > 0 || s.err != nil
			s.unlock()
			if more {
				s.wake()
			}
			return v, nil
		}
		err := s.err
		s.unlock()
		if err != nil {
			s.wake() // keep later Next calls from blocking
			return nil, err
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Err returns the terminal error, or nil while the subscription is live.
func (s *Subscription) Err() error {
	s.lock()
	defer s.unlock()
	return s.err
}

// Close ends the subscription (Next then returns ErrSubscriptionClosed after the queued
// notifications) and asks the server to cancel it, waiting at most a few seconds.
func (s *Subscription) Close() error {
	s.c.forget(s)
	s.lock()
	cn, key := s.cn, s.key
	s.unlock()
	s.end(ErrSubscriptionClosed)
	if cn == nil || s.unsubscribe == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(cn.ctx, 5*time.Second)
	defer cancel()
	_, err := cn.request(ctx, s.unsubscribe, []any{key}, nil)
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrDisconnected) {
		// With the connection gone, the server-side subscription is gone too.
		return fmt.Errorf("rpc %s: %w", s.unsubscribe, err)
	}
	return nil
}
