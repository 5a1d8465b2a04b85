package axon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// RequestInfo is the header-only view of a request that blacklist and priority
// functions see (the body has not been read yet).
type RequestInfo struct {
	Synapse         string // route (class name)
	Hotkey          string // dendrite hotkey; claimed for blacklist, verified for priority
	Verified        bool
	DendriteVersion int
	Nonce           int64
	UUID            string
	Timeout         time.Duration // effective timeout (capped by Config.MaxTimeout)
	Remote          netip.AddrPort
	Headers         *synapse.HeaderView
}

// BlacklistFunc decides, before the signature is checked, whether to refuse a caller.
// It must be cheap: it runs for every request, including forged ones. A true result
// is answered 403 "Forbidden. Key is blacklisted: {reason}.".
type BlacklistFunc func(ctx context.Context, r *RequestInfo) (blocked bool, reason string)

// PriorityFunc orders verified requests in the queue: higher runs first (the Python
// miners use the caller's stake).
type PriorityFunc func(ctx context.Context, r *RequestInfo) float64

// StreamWriter receives a streaming response's chunks. Each Write is sent to the
// client as one flushed chunk (raw bytes, no SSE framing). Write fails once the
// client has gone or the deadline has passed; stop generating then.
type StreamWriter = io.Writer

// Handler serves one synapse route. Build one with Unary or Streaming.
type Handler struct {
	// New returns an empty synapse of the route's type; its ClassName is the route.
	New func() synapse.Message
	// Forward fills the synapse (non-streaming routes). ctx carries the deadline.
	Forward func(ctx context.Context, m synapse.Message) error
	// Stream writes the response body (streaming routes).
	Stream func(ctx context.Context, m synapse.Message, w StreamWriter) error
	// Blacklist and Priority are optional (nil: allow everybody, priority 0).
	Blacklist BlacklistFunc
	Priority  PriorityFunc
}

// Unary builds a Handler for a request/response synapse of type M.
func Unary[M synapse.Message](newFn func() M, forward func(ctx context.Context, m M) error) Handler {
	return Handler{
		New:     func() synapse.Message { return newFn() },
		Forward: func(ctx context.Context, m synapse.Message) error { return forward(ctx, m.(M)) },
	}
}

// Streaming builds a Handler for a streaming synapse of type M (text/event-stream).
func Streaming[M synapse.Message](newFn func() M, stream func(ctx context.Context, m M, w StreamWriter) error) Handler {
	return Handler{
		New:    func() synapse.Message { return newFn() },
		Stream: func(ctx context.Context, m synapse.Message, w StreamWriter) error { return stream(ctx, m.(M), w) },
	}
}

// StatusError lets a forward function answer with a specific status, e.g.
// &StatusError{503, "Service unavailable: model loading"}. Other errors become 500
// "Internal Server Error #<id>" with the details logged, not sent.
type StatusError struct {
	Code    int
	Message string
}

// Error returns "CODE message".
func (e *StatusError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// AsStatusError finds a *StatusError in err's chain.
func AsStatusError(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}

// chanWriter is the StreamWriter given to a streaming forward: it hands chunks to
// the request goroutine, which owns the http.ResponseWriter.
type chanWriter struct {
	ctx context.Context
	ch  chan []byte
}

func (c *chanWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	chunk := append([]byte(nil), p...)
	select {
	case c.ch <- chunk:
		return len(p), nil
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
