package axon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// Status messages (the Python texts where Python has one, §7).
const (
	msgSuccess = "Success"
)

// deadlineGrace lets a forward that stops at its deadline still deliver a partial
// result before the request is answered 408.
const deadlineGrace = 25 * time.Millisecond

// exchange is the state of one request needed to answer it.
type exchange struct {
	a       *Axon
	w       http.ResponseWriter
	start   time.Time
	route   string
	hv      *synapse.HeaderView
	peer    netip.AddrPort
	verify  bool // signature verified: responses may be signed afresh
	timeout float64
}

// ServeHTTP runs the request pipeline (package doc).
func (a *Axon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{a: a, w: w, start: time.Now(), hv: &synapse.HeaderView{Timeout: synapse.DefaultTimeout}}
	x.peer, _ = netip.ParseAddrPort(r.RemoteAddr)
	x.route = strings.TrimPrefix(r.URL.Path, "/")
	x.timeout = x.hv.Timeout

	if a.sched == nil {
		x.fail(http.StatusServiceUnavailable, "Service unavailable: axon not started")
		return
	}
	h := a.routes[x.route]
	if h == nil {
		x.fail(http.StatusNotFound, fmt.Sprintf("Synapse name '%s' not found. Available synapses %s", truncate(x.route, 64), a.notFound))
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		x.fail(http.StatusMethodNotAllowed, "Method not allowed: "+truncate(r.Method, 16))
		return
	}
	hv, err := synapse.ParseHeaders(r.Header)
	if err != nil {
		x.fail(http.StatusBadRequest, "Bad request: "+err.Error())
		return
	}
	x.hv, x.timeout = hv, hv.Timeout
	if math.IsNaN(hv.Timeout) || math.IsInf(hv.Timeout, 0) || hv.Timeout <= 0 {
		x.fail(http.StatusBadRequest, "Bad request: header timeout: must be a positive number of seconds")
		return
	}
	timeout := a.cfg.MaxTimeout
	if hv.Timeout < timeout.Seconds() {
		timeout = time.Duration(hv.Timeout * float64(time.Second))
	}
	deadline := x.start.Add(timeout)
	d := &hv.Dendrite
	info := &RequestInfo{Synapse: x.route, Timeout: timeout, Remote: x.peer, Headers: hv,
		Hotkey: deref(d.Hotkey), UUID: deref(d.UUID)}
	if d.Version != nil {
		info.DendriteVersion = *d.Version
	}
	if d.Nonce != nil {
		info.Nonce = *d.Nonce
	}
	ctx := r.Context()

	// Blacklist: headers only, before any expensive work.
	for _, bl := range []BlacklistFunc{a.blacklist, h.Blacklist} {
		if bl == nil {
			continue
		}
		if blocked, reason := bl(ctx, info); blocked {
			x.fail(http.StatusForbidden, "Forbidden. Key is blacklisted: "+reason+".")
			return
		}
	}
	if err := a.verifyRequest(hv, timeout); err != nil {
		x.fail(http.StatusUnauthorized, "Not Verified with error: "+err.Error())
		return
	}
	x.verify, info.Verified = true, true
	priority := 0.0
	if h.Priority != nil {
		priority = h.Priority(ctx, info)
		if math.IsNaN(priority) {
			priority = math.Inf(-1)
		}
	}
	if time.Until(deadline) < a.cfg.MinForwardTime {
		x.fail(http.StatusRequestTimeout, x.timeoutMessage())
		return
	}
	if err := a.sched.reserve(); err != nil {
		x.fail(http.StatusServiceUnavailable, "Service unavailable: "+err.Error())
		return
	}
	submitted := false
	defer func() {
		if !submitted {
			a.sched.release()
		}
	}()

	m, status, msg := a.readBody(w, r, h, hv, deadline)
	if status != 0 {
		x.fail(status, msg)
		return
	}
	if h.Stream != nil {
		submitted = true
		x.stream(ctx, h, m, priority, deadline)
		return
	}
	submitted = true
	x.unary(ctx, h, m, priority, deadline)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// readBody reads the body within the size limit and the deadline, decodes it and
// checks computed_body_hash with the route's own hash-field list.
func (a *Axon) readBody(w http.ResponseWriter, r *http.Request, h *Handler, hv *synapse.HeaderView, deadline time.Time) (synapse.Message, int, string) {
	limit := a.cfg.MaxBodyBytes
	tooLarge := fmt.Sprintf("Payload too large: limit %d bytes", limit)
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(deadline)
	defer rc.SetReadDeadline(time.Time{})
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return nil, http.StatusRequestEntityTooLarge, tooLarge
		case errors.As(err, &ne) && ne.Timeout():
			return nil, http.StatusRequestTimeout, fmt.Sprintf("Response timeout after: %ss", synapse.PyFloatRepr(hv.Timeout))
		}
		return nil, http.StatusBadRequest, "Bad request: reading body failed"
	}
	m := h.New()
	if err := synapse.Decode(body, m); err != nil {
		return nil, http.StatusInternalServerError, "Internal server error with error: invalid body: " + truncate(err.Error(), 160)
	}
	if _, ok := synapse.MatchBodyHash(m, hv.ComputedBodyHash); !ok {
		return nil, http.StatusInternalServerError, fmt.Sprintf(
			"Internal server error with error: Hash mismatch between header body hash %s and parsed body hash %s",
			truncate(hv.ComputedBodyHash, 64), synapse.BodyHash(m, synapse.DefaultProfile))
	}
	return m, 0, ""
}

func (x *exchange) timeoutMessage() string {
	return "Response timeout after: " + synapse.PyFloatRepr(x.timeout) + "s"
}

// unary queues a non-streaming forward and answers with its result.
func (x *exchange) unary(ctx context.Context, h *Handler, m synapse.Message, priority float64, deadline time.Time) {
	fctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	done := make(chan struct{})
	var ferr error
	var dropped bool
	j := &job{priority: priority, deadline: deadline, index: -1,
		run:  func() { defer close(done); ferr = x.a.callForward(fctx, func() error { return h.Forward(fctx, m) }) },
		drop: func() { dropped = true; close(done) },
	}
	x.a.sched.submit(j)
	timer := time.NewTimer(time.Until(deadline) + deadlineGrace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		// Withdrawn from the queue, or still running past its deadline: either way
		// the caller gets 408 now; a running forward sees its context expire.
		x.a.sched.withdraw(j)
		x.fail(http.StatusRequestTimeout, x.timeoutMessage())
		return
	case <-ctx.Done():
		x.a.sched.withdraw(j)
		return // client gone: nobody to answer
	}
	switch {
	case dropped:
		x.fail(http.StatusRequestTimeout, x.timeoutMessage())
	case ferr != nil:
		x.forwardFailed(ferr)
	default:
		x.succeed(m)
	}
}

// callForward runs f, turning a panic into an error.
func (a *Axon) callForward(ctx context.Context, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("forward panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

func (x *exchange) forwardFailed(err error) {
	if se, ok := AsStatusError(err); ok {
		x.fail(se.Code, se.Message)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		x.fail(http.StatusRequestTimeout, x.timeoutMessage())
		return
	}
	id := newErrorID()
	x.a.log.Error("axon: forward failed", "id", id, "synapse", x.route, "err", err)
	x.fail(http.StatusInternalServerError, "Internal Server Error #"+id)
}

// stream queues a streaming forward. The 200 headers (status computed then, §9) are
// sent with the first chunk, or when the forward returns nil without writing; every
// chunk is then written and flushed as it arrives. A forward that fails before its
// first chunk is answered like a unary one (forwardFailed: its StatusError code, 408 or
// 500, with {"message"} and the bt header set); after the first chunk the status is
// committed and a failure can only end the stream early.
func (x *exchange) stream(ctx context.Context, h *Handler, m synapse.Message, priority float64, deadline time.Time) {
	fctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	started, done := make(chan struct{}), make(chan struct{})
	chunks := make(chan []byte, 16)
	var ferr error
	var dropped bool
	cw := &chanWriter{ctx: fctx, ch: chunks}
	j := &job{priority: priority, deadline: deadline, index: -1,
		run: func() {
			defer close(done)
			close(started)
			ferr = x.a.callForward(fctx, func() error { return h.Stream(fctx, m, cw) })
		},
		drop: func() { dropped = true; close(done) },
	}
	x.a.sched.submit(j)
	timer := time.NewTimer(time.Until(deadline) + deadlineGrace)
	defer timer.Stop()
	select {
	case <-started:
	case <-done:
		if dropped { // the worker dropped it before starting (deadline)
			x.fail(http.StatusRequestTimeout, x.timeoutMessage())
			return
		}
	case <-timer.C:
		x.a.sched.withdraw(j)
		x.fail(http.StatusRequestTimeout, x.timeoutMessage())
		return
	case <-ctx.Done():
		x.a.sched.withdraw(j)
		return
	}

	// Hold the status until the forward has produced something or ended.
	var first []byte
	select {
	case first = <-chunks:
	case <-done:
		select {
		case first = <-chunks: // written just before returning
		default:
		}
		if first == nil && ferr != nil {
			if ctx.Err() != nil {
				return // client gone: nobody to answer
			}
			x.forwardFailed(ferr)
			return
		}
	case <-timer.C:
		x.fail(http.StatusRequestTimeout, x.timeoutMessage()) // cancel() stops the forward
		return
	case <-ctx.Done():
		return
	}

	x.writeHeaders(http.StatusOK, msgSuccess)
	x.w.Header().Set("Content-Type", "text/event-stream")
	x.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(x.w)
	defer x.observed(http.StatusOK, msgSuccess, true)
	write := func(c []byte) bool {
		if _, err := x.w.Write(c); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if first == nil {
		_ = rc.Flush() // success without a chunk: headers and an empty body
		return
	}
	if !write(first) {
		return // cancel() stops the forward
	}
	for {
		select {
		case c := <-chunks:
			if !write(c) {
				return
			}
		case <-done:
			for {
				select {
				case c := <-chunks:
					if !write(c) {
						return
					}
				default:
					if ferr != nil && !errors.Is(ferr, context.DeadlineExceeded) && !errors.Is(ferr, context.Canceled) {
						x.a.log.Warn("axon: stream ended with error", "synapse", x.route, "err", ferr)
					}
					return
				}
			}
		case <-timer.C:
			return // deadline: end the stream early; cancel() stops the forward
		case <-ctx.Done():
			return
		}
	}
}

// observed reports the answered request to the observer, if any.
func (x *exchange) observed(code int, msg string, stream bool) {
	if x.a.observe == nil {
		return
	}
	x.a.observe(Event{Synapse: x.route, Hotkey: deref(x.hv.Dendrite.Hotkey), Verified: x.verify, Status: code,
		Message: msg, Duration: time.Since(x.start), Stream: stream})
}

// succeed answers 200 with the synapse JSON.
func (x *exchange) succeed(m synapse.Message) {
	b := m.Base()
	pt := synapse.Float(time.Since(x.start).Seconds())
	b.Axon.StatusCode, b.Axon.StatusMessage, b.Axon.ProcessTime = synapse.Ptr(200), synapse.Ptr(msgSuccess), &pt
	body, err := json.Marshal(m)
	if err != nil {
		x.forwardFailed(fmt.Errorf("encode response: %w", err))
		return
	}
	x.writeHeaders(http.StatusOK, msgSuccess)
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(http.StatusOK)
	x.w.Write(body)
	x.observed(http.StatusOK, msgSuccess, false)
}

// fail answers code with {"message": msg} and the full header set.
func (x *exchange) fail(code int, msg string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	x.writeHeaders(code, msg)
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(code)
	x.w.Write(body)
	x.observed(code, msg, false)
}

// writeHeaders sets the bt header set of §7 by direct (lowercase) map assignment.
func (x *exchange) writeHeaders(code int, msg string) {
	hdr := x.w.Header()
	set := func(k, v string) { hdr[k] = []string{v} }
	hv, a := x.hv, x.a
	name := x.route
	if _, ok := a.routes[name]; !ok {
		name = "Synapse"
	}
	set("name", name)
	set("timeout", synapse.PyFloatRepr(x.timeout))
	set("header_size", strconv.FormatInt(hv.HeaderSize, 10))
	set("total_size", strconv.FormatInt(hv.TotalSize, 10))
	set("computed_body_hash", hv.ComputedBodyHash)

	set(synapse.PrefixAxon+"status_code", strconv.Itoa(code))
	set(synapse.PrefixAxon+"status_message", msg)
	set(synapse.PrefixAxon+"process_time", synapse.PyFloatRepr(time.Since(x.start).Seconds()))
	set(synapse.PrefixAxon+"version", strconv.Itoa(a.cfg.Version))
	set(synapse.PrefixAxon+"uuid", a.uuid)
	claimedAxon := a.hotkey.SS58()
	if hv.Axon.Hotkey != nil {
		claimedAxon = *hv.Axon.Hotkey
	}
	set(synapse.PrefixAxon+"hotkey", claimedAxon)
	if hv.Axon.IP != nil {
		set(synapse.PrefixAxon+"ip", *hv.Axon.IP)
	}
	if hv.Axon.Port != nil {
		set(synapse.PrefixAxon+"port", strconv.Itoa(*hv.Axon.Port))
	}
	dh := "None"
	if hv.Dendrite.Hotkey != nil {
		dh = *hv.Dendrite.Hotkey
	}
	if !a.cfg.UnsignedResponses {
		if nonce, sig, ok := a.responseSignature(dh, claimedAxon, !x.verify); ok {
			set(synapse.PrefixAxon+"nonce", strconv.FormatInt(nonce, 10))
			set(synapse.PrefixAxon+"signature", sig)
		}
	}
	if x.peer.IsValid() {
		set(synapse.PrefixDendrite+"ip", x.peer.Addr().Unmap().String())
		set(synapse.PrefixDendrite+"port", strconv.Itoa(int(x.peer.Port())))
	}
	d := &hv.Dendrite
	if d.Version != nil {
		set(synapse.PrefixDendrite+"version", strconv.Itoa(*d.Version))
	}
	if d.Nonce != nil {
		set(synapse.PrefixDendrite+"nonce", strconv.FormatInt(*d.Nonce, 10))
	}
	if d.UUID != nil {
		set(synapse.PrefixDendrite+"uuid", *d.UUID)
	}
	if d.Hotkey != nil {
		set(synapse.PrefixDendrite+"hotkey", *d.Hotkey)
	}
	if d.Signature != nil {
		set(synapse.PrefixDendrite+"signature", *d.Signature)
	}
}
