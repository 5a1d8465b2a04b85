// Package dendrite is a Bittensor dendrite: a client that calls axons the way the
// Python dendrite does (../shared/reference/axon-protocol.md §2, §4.1, §5, §8, §9).
// It sends either bittensor 6.1.0 or 10.x header and body style, signs every request
// with the hotkey, uses strictly increasing wall-clock nanosecond nonces and one uuid
// per Dendrite, and reads plain and streaming (text/event-stream) responses.
package dendrite

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// Style selects the Python dendrite generation to imitate.
type Style int

const (
	// StyleV10 is bittensor 10.x: bt_header_dendrite_version 10002000 (the axon
	// applies its wall-clock nonce window) and no required_hash_fields in the body.
	StyleV10 Style = iota
	// StyleV610 is bittensor 6.1.0: version 610 (monotonic nonce rule only) and
	// required_hash_fields in the body.
	StyleV610
)

// ParseStyle accepts "v10"/"10" and "v6"/"v610"/"6.1.0".
func ParseStyle(s string) (Style, error) {
	switch s {
	case "v10", "10", "10.x", "v10.2.0":
		return StyleV10, nil
	case "v6", "v610", "610", "6.1.0", "v6.1.0":
		return StyleV610, nil
	}
	return 0, fmt.Errorf("unknown dendrite style %q (want v10 or v6)", s)
}

// String returns "v6.1.0" or "v10".
func (s Style) String() string {
	if s == StyleV610 {
		return "v6.1.0"
	}
	return "v10"
}

// Version is the bt_header_dendrite_version integer of the style.
func (s Style) Version() int {
	if s == StyleV610 {
		return synapse.Version610
	}
	return synapse.Version10_2_0
}

// Client-side status codes, as the Python dendrite reports them.
const (
	StatusConnectFailed = 503
	StatusTimeout       = 408
	StatusClientError   = 422
)

// MaxResponseBytes bounds a response body, plain or streamed: a longer one is cut
// off with a client-side error.
const MaxResponseBytes = 16 << 20

// Dendrite sends synapses. It is safe for concurrent use, but concurrent calls to
// one axon may arrive out of nonce order and be refused (401); use one Dendrite per
// concurrent caller, as each has its own uuid.
type Dendrite struct {
	hotkey     *wallet.Keypair
	uuid       string
	style      Style
	externalIP string
	client     *http.Client
	lastNonce  atomic.Int64
	now        func() time.Time
	slack      time.Duration
}

// Option customises a Dendrite.
type Option func(*Dendrite)

// WithStyle picks the header/body style (default StyleV10).
func WithStyle(s Style) Option { return func(d *Dendrite) { d.style = s } }

// WithExternalIP sets bt_header_dendrite_ip (default 127.0.0.1; axons replace it with the peer).
func WithExternalIP(ip string) Option { return func(d *Dendrite) { d.externalIP = ip } }

// WithHTTPClient replaces the HTTP client (default: a keep-alive client with no global timeout).
func WithHTTPClient(c *http.Client) Option { return func(d *Dendrite) { d.client = c } }

// WithClock replaces the clock used for nonces.
func WithClock(now func() time.Time) Option { return func(d *Dendrite) { d.now = now } }

// WithWaitSlack makes the client wait this much longer than the synapse timeout
// before giving up, so that the axon's own answer (e.g. its 408) arrives. Default 0,
// like the Python dendrite.
func WithWaitSlack(d time.Duration) Option { return func(x *Dendrite) { x.slack = d } }

// New returns a dendrite signing with hotkey.
func New(hotkey *wallet.Keypair, opts ...Option) *Dendrite {
	d := &Dendrite{hotkey: hotkey, uuid: synapse.NewUUID(), externalIP: "127.0.0.1", now: time.Now}
	for _, o := range opts {
		o(d)
	}
	if d.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		d.client = &http.Client{Transport: tr}
	}
	return d
}

// UUID returns the dendrite's uuid (bt_header_dendrite_uuid).
func (d *Dendrite) UUID() string { return d.uuid }

// Style returns the dendrite's style.
func (d *Dendrite) Style() Style { return d.style }

// CloseIdleConnections closes the client's idle keep-alive connections.
func (d *Dendrite) CloseIdleConnections() { d.client.CloseIdleConnections() }

// Target is the axon to call (the AxonInfo fields the dendrite uses).
type Target struct {
	IP     string
	Port   int
	Hotkey string // the axon's hotkey ss58: it is signed into the request
}

// ParseTarget builds a Target from "host:port" and a hotkey.
func ParseTarget(hostport, hotkey string) (Target, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return Target{}, fmt.Errorf("axon address %q: %w", hostport, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return Target{}, fmt.Errorf("axon address %q: bad port", hostport)
	}
	if _, _, err := wallet.SS58Decode(hotkey); err != nil {
		return Target{}, fmt.Errorf("axon hotkey %q: %w", hotkey, err)
	}
	return Target{IP: host, Port: p, Hotkey: hotkey}, nil
}

// Result is the outcome of a call: StatusCode is bt_header_axon_status_code when the
// axon sent it, else the HTTP status, else a client-side code (503 connect, 408
// timeout, 422 other), as the Python dendrite reports them.
type Result struct {
	StatusCode    int
	StatusMessage string
	HTTPStatus    int     // 0 when no response arrived
	ProcessTime   float64 // bt_header_axon_process_time, seconds
	Elapsed       time.Duration
	Headers       *synapse.HeaderView // response headers (nil when none parsed)
	Err           error               // transport or decoding error behind a client-side code
	// Response is the synapse the axon answered on a 200 JSON response (nil
	// otherwise): a fresh value of the request's type, which shares no memory with it.
	Response synapse.Message
}

// OK reports StatusCode == 200.
func (r *Result) OK() bool { return r.StatusCode == http.StatusOK }

// nextNonce returns time.Now in ns, forced strictly above the previous nonce.
func (d *Dendrite) nextNonce() int64 {
	for {
		last := d.lastNonce.Load()
		n := d.now().UnixNano()
		if n <= last {
			n = last + 1
		}
		if d.lastNonce.CompareAndSwap(last, n) {
			return n
		}
	}
}

// Prepare fills m's dendrite and axon terminal info, timeout and body hash, signs it,
// and returns the JSON body and headers that Call sends. Exposed for tests and tools
// that replay requests.
func (d *Dendrite) Prepare(t Target, m synapse.Message, timeout time.Duration) (body []byte, headers []synapse.Header, err error) {
	b := m.Base()
	b.Name = m.ClassName()
	if timeout > 0 {
		b.Timeout = synapse.Float(timeout.Seconds())
	} else if b.Timeout <= 0 {
		b.Timeout = synapse.DefaultTimeout
	}
	nonce := d.nextNonce()
	hash := synapse.BodyHash(m, synapse.DefaultProfile)
	b.Dendrite = synapse.TerminalInfo{IP: synapse.Ptr(d.externalIP), Version: synapse.Ptr(d.style.Version()),
		Nonce: &nonce, UUID: synapse.Ptr(d.uuid), Hotkey: synapse.Ptr(d.hotkey.SS58())}
	b.Axon = synapse.TerminalInfo{IP: synapse.Ptr(t.IP), Port: synapse.Ptr(t.Port), Hotkey: synapse.Ptr(t.Hotkey)}
	msg := strconv.FormatInt(nonce, 10) + "." + d.hotkey.SS58() + "." + t.Hotkey + "." + d.uuid + "." + hash
	sig, err := d.hotkey.Sign([]byte(msg))
	if err != nil {
		return nil, nil, fmt.Errorf("sign request: %w", err)
	}
	b.Dendrite.Signature = synapse.Ptr("0x" + hex.EncodeToString(sig))
	if d.style == StyleV610 {
		b.RequiredHashFields = append([]string{}, m.HashFieldNames()...)
	} else {
		b.RequiredHashFields = nil
	}
	// The Python dendrite leaves computed_body_hash empty in the body; only the header carries it.
	b.ComputedBodyHash = ""
	body, err = json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", m.ClassName(), err)
	}
	b.ComputedBodyHash = hash
	return body, synapse.EncodeHeaders(m), nil
}

// URL returns http://ip:port/Name (IPv6 bracketed, unlike the Python SDK).
func (t Target) URL(name string) string {
	return "http://" + net.JoinHostPort(t.IP, strconv.Itoa(t.Port)) + "/" + name
}

// Call sends m to the axon and waits up to timeout (0: m's timeout, default 12 s).
// On 200 the response body is decoded into a fresh synapse (Result.Response) and its
// mutable fields are copied into m, as the Python dendrite does: completion and the
// dendrite and axon terminal info. The request fields (roles, messages) and their
// backing arrays are never written, so calls may share them. On any status the
// response headers are returned in the Result.
func (d *Dendrite) Call(ctx context.Context, t Target, m synapse.Message, timeout time.Duration) *Result {
	return d.call(ctx, t, m, timeout, nil)
}

// CallStream sends a streaming synapse and calls onChunk with each raw chunk of a
// text/event-stream response as it arrives (stop early by returning an error). A
// JSON response (an error, or an axon that does not stream) is handled as in Call.
func (d *Dendrite) CallStream(ctx context.Context, t Target, m synapse.Message, timeout time.Duration, onChunk func([]byte) error) *Result {
	if onChunk == nil {
		onChunk = func([]byte) error { return nil }
	}
	return d.call(ctx, t, m, timeout, onChunk)
}

func (d *Dendrite) call(ctx context.Context, t Target, m synapse.Message, timeout time.Duration, onChunk func([]byte) error) *Result {
	body, headers, err := d.Prepare(t, m, timeout)
	if err != nil {
		return &Result{StatusCode: StatusClientError, StatusMessage: err.Error(), Err: err}
	}
	return d.Send(ctx, t, m, body, headers, onChunk)
}

// Send posts a request made by Prepare (m is the synapse Prepare filled; on 200 its
// mutable fields are filled from the response, as in Call). onChunk, when not nil, receives a streaming body.
// Load tools use it to sign requests ahead of time.
func (d *Dendrite) Send(ctx context.Context, t Target, m synapse.Message, body []byte, headers []synapse.Header, onChunk func([]byte) error) *Result {
	start := time.Now()
	res := &Result{}
	fail := func(code int, err error) *Result {
		res.StatusCode, res.Err, res.Elapsed = code, err, time.Since(start)
		if res.StatusMessage == "" {
			res.StatusMessage = err.Error()
		}
		return res
	}
	wait := time.Duration(float64(m.Base().Timeout)*float64(time.Second)) + d.slack
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL(m.ClassName()), bytes.NewReader(body))
	if err != nil {
		return fail(StatusClientError, err)
	}
	for _, h := range headers {
		synapse.SetHeader(req.Header, h.Name, h.Value)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return fail(transportCode(ctx, err), err)
	}
	defer resp.Body.Close()
	res.HTTPStatus = resp.StatusCode
	if hv, err := synapse.ParseHeaders(resp.Header); err == nil {
		res.Headers = hv
		if hv.Axon.StatusCode != nil {
			res.StatusCode = *hv.Axon.StatusCode
		}
		if hv.Axon.StatusMessage != nil {
			res.StatusMessage = *hv.Axon.StatusMessage
		}
		if hv.Axon.ProcessTime != nil {
			res.ProcessTime = float64(*hv.Axon.ProcessTime)
		}
	}
	if res.StatusCode == 0 {
		res.StatusCode = resp.StatusCode
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if onChunk != nil && ct == "text/event-stream" {
		buf := make([]byte, 32<<10)
		total := 0
		for {
			n, rerr := resp.Body.Read(buf)
			if total += n; total > MaxResponseBytes {
				return fail(StatusClientError, fmt.Errorf("stream longer than %d bytes", MaxResponseBytes))
			}
			if n > 0 {
				if err := onChunk(buf[:n]); err != nil {
					return fail(StatusClientError, fmt.Errorf("stream consumer: %w", err))
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fail(transportCode(ctx, rerr), fmt.Errorf("read stream: %w", rerr))
			}
		}
		res.Elapsed = time.Since(start)
		return res
	}
	if ct != "application/json" {
		return fail(StatusClientError, fmt.Errorf("failed to parse response: content type %q", resp.Header.Get("Content-Type")))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fail(transportCode(ctx, err), fmt.Errorf("read response: %w", err))
	}
	if len(raw) > MaxResponseBytes {
		return fail(StatusClientError, errors.New("response too large"))
	}
	if resp.StatusCode == http.StatusOK {
		got, err := decodeResponse(raw, m)
		if err != nil {
			return fail(StatusClientError, fmt.Errorf("failed to parse response object: %w", err))
		}
		res.Response = got
		copyResponse(m, got)
	} else if res.StatusMessage == "" {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			res.StatusMessage = e.Message
		} else {
			res.StatusMessage = http.StatusText(resp.StatusCode)
		}
	}
	res.Elapsed = time.Since(start)
	return res
}

// decodeResponse decodes a 200 body into a new synapse of m's type, so that a reply
// can neither reuse m's slices nor touch them (an axon may answer anything).
func decodeResponse(raw []byte, m synapse.Message) (synapse.Message, error) {
	t := reflect.TypeOf(m)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("synapse type %T is not a pointer to a struct", m)
	}
	got, ok := reflect.New(t.Elem()).Interface().(synapse.Message)
	if !ok {
		return nil, fmt.Errorf("synapse type %T: new value is not a synapse", m)
	}
	if err := json.Unmarshal(raw, got); err != nil {
		return nil, err
	}
	got.Base().Name = got.ClassName()
	return got, nil
}

// copyResponse copies the fields a response may change from got into m: the
// dendrite and axon terminal info and, for the text-prompting synapses, completion
// (bittensor 6.1.0 dendrite.process_server_response sets every mutable field; roles
// and messages are immutable there). Other synapse types get the terminal info only;
// their callers read Result.Response.
func copyResponse(m, got synapse.Message) {
	mb, gb := m.Base(), got.Base()
	mb.Dendrite, mb.Axon = gb.Dendrite, gb.Axon
	switch dst := m.(type) {
	case *synapse.Prompting:
		dst.Completion = got.(*synapse.Prompting).Completion
	case *synapse.StreamPrompting:
		dst.Completion = got.(*synapse.StreamPrompting).Completion
	}
}

func transportCode(ctx context.Context, err error) int {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return StatusTimeout
	case errors.As(err, &oe) && oe.Op == "dial":
		return StatusConnectFailed
	}
	return StatusClientError
}

// StreamCompletion accumulates a text-prompting stream the way StreamPrompting's
// process_streaming_response does: each chunk is split on "\n" and every non-empty
// piece is appended (so newlines are lost; chunk boundaries are arbitrary).
func StreamCompletion(dst *string) func([]byte) error {
	return func(chunk []byte) error {
		*dst += string(bytes.ReplaceAll(chunk, []byte("\n"), nil))
		return nil
	}
}
