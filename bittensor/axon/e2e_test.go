package axon

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// TestEndToEnd: Go dendrite → Go axon on loopback, both header styles, unary and
// streaming, plus the signed /Synapse ping.
func TestEndToEnd(t *testing.T) {
	base := baseline()
	t.Run("serve", func(t *testing.T) {
		_, tgt := startAxon(t, Config{})
		for _, style := range []dendrite.Style{dendrite.StyleV10, dendrite.StyleV610} {
			d := testDendrite(t, style)
			defer d.CloseIdleConnections()
			for i := 0; i < 3; i++ { // repeated calls: nonces strictly increase
				p := synapse.NewPrompting([]string{"system", "user"}, []string{"be brief", "hello it's \"me\" 🙂"})
				res := d.Call(context.Background(), tgt, p, 5*time.Second)
				if !res.OK() || res.HTTPStatus != 200 || res.StatusMessage != "Success" {
					t.Fatalf("%v: %d %q (%v)", style, res.StatusCode, res.StatusMessage, res.Err)
				}
				if p.Completion != "echo: hello it's \"me\" 🙂" || p.Axon.StatusCode == nil || *p.Axon.StatusCode != 200 {
					t.Fatalf("%v: completion %q axon %+v", style, p.Completion, p.Axon)
				}
				if res.Headers == nil || res.Headers.Axon.Signature == nil || res.Headers.Dendrite.Port == nil {
					t.Errorf("%v: response header set incomplete: %+v", style, res.Headers)
				}
			}
			sp := synapse.NewStreamPrompting([]string{"user"}, []string{"one two three"})
			var got []string
			res := d.CallStream(context.Background(), tgt, sp, 5*time.Second, func(c []byte) error {
				got = append(got, string(c))
				return nil
			})
			if !res.OK() || strings.Join(got, "") != "one\ntwo\nthree\n" {
				t.Fatalf("%v stream: %d %q chunks %q", style, res.StatusCode, res.StatusMessage, got)
			}
			var completion string
			sp = synapse.NewStreamPrompting([]string{"user"}, []string{"a b"})
			if res := d.CallStream(context.Background(), tgt, sp, 5*time.Second, dendrite.StreamCompletion(&completion)); !res.OK() || completion != "ab" {
				t.Fatalf("%v stream completion %q (%d)", style, completion, res.StatusCode)
			}
			ping := &synapse.Synapse{}
			if res := d.Call(context.Background(), tgt, ping, 5*time.Second); !res.OK() {
				t.Fatalf("%v ping: %d %q", style, res.StatusCode, res.StatusMessage)
			}
		}
	})
	checkNoLeaks(t, base)
}

// TestResponseHeadersLowercaseOnWire reads the raw HTTP response: the bt headers must
// be lowercase (Python dendrites match them case-sensitively).
func TestResponseHeadersLowercaseOnWire(t *testing.T) {
	_, tgt := startAxon(t, Config{})
	d := testDendrite(t, dendrite.StyleV610)
	body, hs, err := d.Prepare(tgt, synapse.NewPrompting([]string{"user"}, []string{"hi"}), 0)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(tgt.IP, itoa(tgt.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req strings.Builder
	req.WriteString("POST /Prompting HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n")
	for _, h := range hs {
		req.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	req.WriteString("Content-Length: " + itoa(len(body)) + "\r\n\r\n")
	req.Write(body)
	if _, err := conn.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	seen := map[string]string{}
	status, _ := br.ReadString('\n')
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ": ")
		seen[k] = v
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q", status)
	}
	for _, k := range []string{"bt_header_axon_status_code", "bt_header_axon_status_message", "bt_header_axon_process_time",
		"bt_header_axon_nonce", "bt_header_axon_uuid", "bt_header_axon_version", "bt_header_axon_hotkey", "bt_header_axon_signature",
		"bt_header_dendrite_ip", "bt_header_dendrite_port", "bt_header_dendrite_nonce", "bt_header_dendrite_uuid",
		"bt_header_dendrite_hotkey", "bt_header_dendrite_signature", "bt_header_dendrite_version", "name", "timeout",
		"header_size", "total_size", "computed_body_hash"} {
		if _, ok := seen[k]; !ok {
			t.Errorf("header %q not sent in lowercase (got %v)", k, seen)
		}
	}
	if seen["bt_header_axon_status_code"] != "200" || seen["bt_header_axon_status_message"] != "Success" {
		t.Errorf("status headers %q %q", seen["bt_header_axon_status_code"], seen["bt_header_axon_status_message"])
	}
}

// TestStreamCancelledWhenClientLeaves: the forward's context ends when the client
// disconnects mid-stream, so generation stops.
func TestStreamCancelledWhenClientLeaves(t *testing.T) {
	base := baseline()
	stopped := make(chan error, 1)
	func() {
		cfg := Config{IP: "127.0.0.1"}
		a, err := New(cfg, seedKey(t, axonSeed), WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		a.Attach(Streaming(func() *synapse.StreamPrompting { return &synapse.StreamPrompting{} },
			func(ctx context.Context, p *synapse.StreamPrompting, w StreamWriter) error {
				for {
					if _, err := w.Write([]byte("tok ")); err != nil {
						stopped <- err
						return err
					}
					time.Sleep(time.Millisecond)
				}
			}))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := a.Listen(); err != nil {
			t.Fatal(err)
		}
		go a.Serve(ctx)
		tgt := dendrite.Target{IP: "127.0.0.1", Port: a.Addr().(*net.TCPAddr).Port, Hotkey: axonSS58}
		d := testDendrite(t, dendrite.StyleV10)
		n := 0
		errStop := errors.New("enough")
		res := d.CallStream(context.Background(), tgt, synapse.NewStreamPrompting([]string{"user"}, []string{"go"}), 10*time.Second,
			func(c []byte) error {
				if n++; n >= 3 {
					return errStop
				}
				return nil
			})
		if !errors.Is(res.Err, errStop) {
			t.Fatalf("stream result %+v", res)
		}
		select {
		case err := <-stopped:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("forward stopped with %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("forward kept generating after the client left")
		}
		d.CloseIdleConnections()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := a.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
	}()
	checkNoLeaks(t, base)
}

// TestShutdownDrainsInFlight: a request running when Shutdown starts completes with
// 200, and afterwards nothing is left running.
func TestShutdownDrainsInFlight(t *testing.T) {
	base := baseline()
	a, err := New(Config{IP: "127.0.0.1"}, seedKey(t, axonSeed), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	a.Attach(Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, func(ctx context.Context, p *synapse.Prompting) error {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		p.Completion = "done"
		return nil
	}))
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx) }()
	tgt := dendrite.Target{IP: "127.0.0.1", Port: a.Addr().(*net.TCPAddr).Port, Hotkey: axonSS58}
	d := testDendrite(t, dendrite.StyleV10)
	var wg sync.WaitGroup
	var res *dendrite.Result
	p := synapse.NewPrompting([]string{"user"}, []string{"x"})
	wg.Add(1)
	go func() { defer wg.Done(); res = d.Call(context.Background(), tgt, p, 5*time.Second) }()
	<-entered
	cancel() // Serve begins a graceful shutdown while the forward runs
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	wg.Wait()
	if !res.OK() || p.Completion != "done" {
		t.Fatalf("in-flight request: %d %q %q", res.StatusCode, res.StatusMessage, p.Completion)
	}
	// New connections are refused after shutdown.
	if r := d.Call(context.Background(), tgt, synapse.NewPrompting([]string{"user"}, []string{"x"}), time.Second); r.StatusCode != dendrite.StatusConnectFailed {
		t.Errorf("after shutdown: %d %v", r.StatusCode, r.Err)
	}
	d.CloseIdleConnections()
	checkNoLeaks(t, base)
}
