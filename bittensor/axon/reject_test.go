package axon

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// startCustom starts an axon whose /Prompting forward is fwd.
func startCustom(t *testing.T, cfg Config, fwd func(context.Context, *synapse.Prompting) error, opts ...Option) (*Axon, dendrite.Target) {
	t.Helper()
	return startHandlers(t, cfg, opts, Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, fwd))
}

// prepared returns a signed Prompting request (body, headers) from d to tgt.
func prepared(t *testing.T, d *dendrite.Dendrite, tgt dendrite.Target, timeout time.Duration, msgs ...string) ([]byte, []synapse.Header) {
	t.Helper()
	body, hs, err := d.Prepare(tgt, synapse.NewPrompting([]string{"user"}, msgs), timeout)
	if err != nil {
		t.Fatal(err)
	}
	return body, hs
}

func setHeader(hs []synapse.Header, name, value string) []synapse.Header {
	out := []synapse.Header{}
	for _, h := range hs {
		if h.Name != name {
			out = append(out, h)
		}
	}
	if value != "" {
		out = append(out, synapse.Header{Name: name, Value: value})
	}
	return out
}

func headerValue(hs []synapse.Header, name string) string {
	for _, h := range hs {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// TestRejections exercises every refusal with its documented status and message (§7).
func TestRejections(t *testing.T) {
	base := baseline()
	t.Run("all", func(t *testing.T) {
		blocked := seedKey(t, otherSeed).SS58()
		_, tgt := startCustom(t, Config{MaxBodyBytes: 2048}, echo, WithBlacklist(func(_ context.Context, r *RequestInfo) (bool, string) {
			return r.Hotkey == blocked, "not registered"
		}))
		d := testDendrite(t, dendrite.StyleV10)
		defer d.CloseIdleConnections()
		type tc struct {
			name   string
			path   string
			mutate func(body []byte, hs []synapse.Header) ([]byte, []synapse.Header)
			code   int
			prefix string
		}
		same := func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) { return b, h }
		cases := []tc{
			{"success control", "/Prompting", same, 200, ""},
			{"unknown route", "/Nope", same, 404, "Synapse name 'Nope' not found. Available synapses ['Synapse', 'Prompting']"},
			{"root path", "/", same, 404, "Synapse name '' not found."},
			{"malformed nonce", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "bt_header_dendrite_nonce", "12.5")
			}, 400, "Bad request: header bt_header_dendrite_nonce: invalid integer"},
			{"malformed timeout", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "timeout", "soon")
			}, 400, "Bad request: header timeout"},
			{"negative timeout", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "timeout", "-1")
			}, 400, "Bad request: header timeout"},
			{"huge timeout is capped, not overflowed", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "timeout", "1e300")
			}, 200, ""},
			{"bad input_obj", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "bt_header_input_obj_messages", "!!!")
			}, 400, "Bad request: header bt_header_input_obj_messages"},
			{"missing signature", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "bt_header_dendrite_signature", "")
			}, 401, "Not Verified with error: Missing Signature"},
			{"malformed signature", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "bt_header_dendrite_signature", "deadbeef")
			}, 401, "Not Verified with error: Signature must be 0x"},
			{"bad signature", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				sig := []byte(headerValue(h, "bt_header_dendrite_signature"))
				if sig[10] == 'a' {
					sig[10] = 'b'
				} else {
					sig[10] = 'a'
				}
				return b, setHeader(h, "bt_header_dendrite_signature", string(sig))
			}, 401, "Not Verified with error: Signature mismatch with "},
			{"missing nonce", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "bt_header_dendrite_nonce", "")
			}, 401, "Not Verified with error: Missing Nonce"},
			{"bad ss58 checksum", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				hk := headerValue(h, "bt_header_dendrite_hotkey")
				return b, setHeader(h, "bt_header_dendrite_hotkey", hk[:len(hk)-1]+"Y")
			}, 401, "Not Verified with error: Invalid SS58 address"},
			{"blacklisted hotkey", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return b, setHeader(h, "bt_header_dendrite_hotkey", blocked)
			}, 403, "Forbidden. Key is blacklisted: not registered."},
			{"body hash mismatch", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return []byte(strings.Replace(string(b), `"messages":["hi"]`, `"messages":["hj"]`, 1)), h
			}, 500, "Internal server error with error: Hash mismatch between header body hash"},
			{"client-chosen hash fields ignored", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				// The 6.1.0 quirk: required_hash_fields [] in the body would make a
				// Python axon hash nothing. The Go axon hashes its own list.
				b = []byte(strings.Replace(string(b), `"messages":["hi"]`, `"messages":["evil"],"required_hash_fields":[]`, 1))
				return b, h
			}, 500, "Internal server error with error: Hash mismatch"},
			{"body not JSON", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return []byte("{nope"), h
			}, 500, "Internal server error with error: invalid body"},
			{"required field missing", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return []byte(`{"messages":["hi"]}`), h
			}, 500, "Internal server error with error: invalid body: field required: roles"},
			{"oversized body", "/Prompting", func(b []byte, h []synapse.Header) ([]byte, []synapse.Header) {
				return []byte(`{"roles":["user"],"messages":["` + strings.Repeat("x", 4096) + `"]}`), h
			}, 413, "Payload too large: limit 2048 bytes"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				body, hs := prepared(t, d, tgt, 5*time.Second, "hi")
				body, hs = c.mutate(body, hs)
				r := send(t, tgt, c.path, hs, body)
				if c.code == 200 {
					if r.status != 200 || r.header.Get("bt_header_axon_status_code") != "200" {
						t.Fatalf("control request failed: %d %s", r.status, r.body)
					}
					return
				}
				checkError(t, r, c.code, c.prefix)
			})
		}
		t.Run("replayed nonce", func(t *testing.T) {
			body, hs := prepared(t, d, tgt, 5*time.Second, "hi")
			if r := send(t, tgt, "/Prompting", hs, body); r.status != 200 {
				t.Fatalf("first: %d %s", r.status, r.body)
			}
			checkError(t, send(t, tgt, "/Prompting", hs, body), 401, "Not Verified with error: Nonce is too old, a newer one was last processed")
		})
		t.Run("older nonce after newer", func(t *testing.T) {
			b1, h1 := prepared(t, d, tgt, 5*time.Second, "hi")
			b2, h2 := prepared(t, d, tgt, 5*time.Second, "hi")
			if r := send(t, tgt, "/Prompting", h2, b2); r.status != 200 {
				t.Fatalf("newer: %d %s", r.status, r.body)
			}
			checkError(t, send(t, tgt, "/Prompting", h1, b1), 401, "Not Verified with error: Nonce is too old, a newer one was last processed")
		})
		t.Run("stale nonce (v10 window)", func(t *testing.T) {
			kp, _ := wallet.KeypairFromMnemonic(testMnemonic)
			old := dendrite.New(kp, dendrite.WithClock(func() time.Time { return time.Now().Add(-30 * time.Second) }))
			body, hs := prepared(t, old, tgt, 5*time.Second, "hi")
			checkError(t, send(t, tgt, "/Prompting", hs, body), 401, "Not Verified with error: Nonce is too old: acceptable delta is 9.00 seconds but request was 30.")
			// The same clock with a 6.1.0 dendrite (version 610, monotonic nonces) is accepted.
			old610 := dendrite.New(kp, dendrite.WithStyle(dendrite.StyleV610), dendrite.WithClock(func() time.Time { return time.Unix(0, 88934567891234) }))
			body, hs = prepared(t, old610, tgt, 5*time.Second, "hi")
			if r := send(t, tgt, "/Prompting", hs, body); r.status != 200 {
				t.Fatalf("6.1.0 monotonic nonce refused: %d %s", r.status, r.body)
			}
		})
		t.Run("wrong axon hotkey signed", func(t *testing.T) {
			other := tgt
			other.Hotkey = seedKey(t, otherSeed).SS58()
			body, hs := prepared(t, d, other, 5*time.Second, "hi")
			checkError(t, send(t, tgt, "/Prompting", hs, body), 401, "Not Verified with error: Signature mismatch")
		})
		t.Run("oversized chunked body", func(t *testing.T) {
			_, hs := prepared(t, d, tgt, 5*time.Second, "hi")
			req, _ := http.NewRequest(http.MethodPost, tgt.URL("Prompting"), io.MultiReader(strings.NewReader(strings.Repeat(" ", 5000))))
			for _, h := range hs {
				synapse.SetHeader(req.Header, h.Name, h.Value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			checkError(t, rawResponse{resp.StatusCode, resp.Header, b}, 413, "Payload too large")
		})
		t.Run("method", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodDelete, tgt.URL("Prompting"), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			checkError(t, rawResponse{resp.StatusCode, resp.Header, b}, 405, "Method not allowed")
		})
	})
	http.DefaultClient.CloseIdleConnections()
	checkNoLeaks(t, base)
}

// TestForwardOutcomes: deadline exceeded, dropped in the queue, full queue, forward
// errors and panics.
func TestForwardOutcomes(t *testing.T) {
	base := baseline()
	t.Run("all", func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan string, 16)
		fwd := func(ctx context.Context, p *synapse.Prompting) error {
			msg := p.Messages[0]
			started <- msg
			switch msg {
			case "block":
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			case "slow":
				<-ctx.Done()
				return ctx.Err()
			case "fail":
				return errors.New("model exploded")
			case "busy":
				return &StatusError{Code: 503, Message: "Service unavailable: model loading"}
			case "panic":
				panic("boom")
			}
			p.Completion = "ok"
			return nil
		}
		a, tgt := startCustom(t, Config{MaxWorkers: 1, QueueSize: 1}, fwd)
		call := func(msg string, timeout time.Duration) *dendrite.Result {
			kp, _ := wallet.KeypairFromMnemonic(testMnemonic)
			// Own uuid per call: concurrent calls cannot reorder nonces. The slack lets
			// the axon's 408 arrive before the client gives up.
			d := dendrite.New(kp, dendrite.WithWaitSlack(time.Second))
			defer d.CloseIdleConnections()
			return d.Call(context.Background(), tgt, synapse.NewPrompting([]string{"user"}, []string{msg}), timeout)
		}
		expect := func(r *dendrite.Result, code int, prefix string) {
			t.Helper()
			if r.StatusCode != code || r.HTTPStatus != code || !strings.HasPrefix(r.StatusMessage, prefix) {
				t.Errorf("got %d/%d %q, want %d %q (err %v)", r.StatusCode, r.HTTPStatus, r.StatusMessage, code, prefix, r.Err)
			}
		}
		expect(call("slow", 300*time.Millisecond), 408, "Response timeout after: 0.3s")
		<-started
		expect(call("fail", 2*time.Second), 500, "Internal Server Error #")
		<-started
		expect(call("busy", 2*time.Second), 503, "Service unavailable: model loading")
		<-started
		expect(call("panic", 2*time.Second), 500, "Internal Server Error #")
		<-started

		// Occupy the only worker, fill the one queue slot, then overflow.
		var wg sync.WaitGroup
		results := make(chan *dendrite.Result, 2)
		wg.Add(1)
		go func() { defer wg.Done(); results <- call("block", 5*time.Second) }()
		if got := <-started; got != "block" {
			t.Fatalf("started %q", got)
		}
		wg.Add(1)
		go func() { defer wg.Done(); results <- call("queued-expires", 1500*time.Millisecond) }()
		waitFor(t, func() bool { return a.Stats().Queued == 1 })
		expect(call("overflow", 2*time.Second), 503, "Service unavailable: queue full")
		// The queued request cannot start before its deadline: 408, withdrawn from the queue.
		r := <-results
		expect(r, 408, "Response timeout after: 1.5s")
		waitFor(t, func() bool { return a.Stats().Queued == 0 })
		close(release)
		wg.Wait()
		r = <-results
		expect(r, 200, "Success")
		select {
		case m := <-started:
			t.Errorf("a request that was refused or withdrawn ran: %q", m)
		default:
		}
	})
	checkNoLeaks(t, base)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestPriorityOrder: with one worker busy, queued requests run highest priority first.
func TestPriorityOrder(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	a, err := New(Config{IP: "127.0.0.1", MaxWorkers: 1, QueueSize: 8}, seedKey(t, axonSeed), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	h := Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, func(ctx context.Context, p *synapse.Prompting) error {
		if p.Messages[0] == "block" {
			<-release
		}
		mu.Lock()
		order = append(order, p.Messages[0])
		mu.Unlock()
		return nil
	})
	prio := map[string]float64{}
	h.Priority = func(_ context.Context, r *RequestInfo) float64 { return prio[r.Hotkey] }
	a.Attach(h)
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Serve(ctx)
	tgt := dendrite.Target{IP: "127.0.0.1", Port: a.Addr().(*net.TCPAddr).Port, Hotkey: axonSS58}
	seeds := []string{"01", "02", "03", "04"}
	var wg sync.WaitGroup
	run := func(seed, msg string, p float64) {
		kp := seedKey(t, strings.Repeat(seed, 32))
		prio[kp.SS58()] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dendrite.New(kp)
			defer d.CloseIdleConnections()
			if r := d.Call(context.Background(), tgt, synapse.NewPrompting([]string{"user"}, []string{msg}), 5*time.Second); !r.OK() {
				t.Errorf("%s: %d %s", msg, r.StatusCode, r.StatusMessage)
			}
		}()
	}
	run(seeds[0], "block", 100)
	waitFor(t, func() bool { return a.Stats().Running == 1 })
	run(seeds[1], "low", 1)
	waitFor(t, func() bool { return a.Stats().Queued == 1 })
	run(seeds[2], "high", 50)
	waitFor(t, func() bool { return a.Stats().Queued == 2 })
	run(seeds[3], "mid", 10)
	waitFor(t, func() bool { return a.Stats().Queued == 3 })
	close(release)
	wg.Wait()
	if got := strings.Join(order, ","); got != "block,high,mid,low" {
		t.Errorf("run order %s, want block,high,mid,low", got)
	}
}
