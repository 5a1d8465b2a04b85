package axon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// Test keys of axon-vectors.json (public test keys).
const (
	axonSeed     = "5cb9063bc28a07f7444dbb29b6fc15b802b141a4e7dd5c932f2981be69e127e7"
	axonSS58     = "5Fbao5svHqLUXapsBpsjLtGQ4FW2xy3AavUkdyJAkWEwuqKn"
	otherSeed    = "7caadbb21966e5e268945005488a3c9be64a37b949d4691a367e477ed9e57995"
	testMnemonic = "old leopard transfer rib spatial phone calm indicate online fire caution review"
)

func seedKey(t testing.TB, seedHex string) *wallet.Keypair {
	t.Helper()
	seed, err := hex.DecodeString(strings.TrimPrefix(seedHex, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := wallet.KeypairFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// echo fills completion with "echo: " + the last message.
func echo(_ context.Context, p *synapse.Prompting) error {
	if len(p.Messages) > 0 {
		p.Completion = "echo: " + p.Messages[len(p.Messages)-1]
	}
	return nil
}

// streamEcho writes the last message word by word, one chunk each, ending chunks with "\n".
func streamEcho(ctx context.Context, p *synapse.StreamPrompting, w StreamWriter) error {
	if len(p.Messages) == 0 {
		return nil
	}
	for _, word := range strings.Fields(p.Messages[len(p.Messages)-1]) {
		if _, err := w.Write([]byte(word + "\n")); err != nil {
			return err
		}
	}
	return nil
}

// startAxon starts an axon on 127.0.0.1:0 with the echo routes and returns it with its
// target; the test's cleanup shuts it down.
func startAxon(t testing.TB, cfg Config, opts ...Option) (*Axon, dendrite.Target) {
	t.Helper()
	return startHandlers(t, cfg, opts,
		Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, echo),
		Streaming(func() *synapse.StreamPrompting { return &synapse.StreamPrompting{} }, streamEcho))
}

// startHandlers starts an axon on 127.0.0.1:0 serving hs (with a quiet logger before
// opts) and returns it with its target; the test's cleanup shuts it down and checks
// that Serve returned no error.
func startHandlers(t testing.TB, cfg Config, opts []Option, hs ...Handler) (*Axon, dendrite.Target) {
	t.Helper()
	cfg.IP, cfg.Port = "127.0.0.1", 0
	a, err := New(cfg, seedKey(t, axonSeed), append([]Option{WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if err := a.Attach(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := a.Addr().(*net.TCPAddr)
	return a, dendrite.Target{IP: "127.0.0.1", Port: addr.Port, Hotkey: a.Hotkey().SS58()}
}

func testDendrite(t testing.TB, style dendrite.Style) *dendrite.Dendrite {
	t.Helper()
	kp, err := wallet.KeypairFromMnemonic(testMnemonic)
	if err != nil {
		t.Fatal(err)
	}
	return dendrite.New(kp, dendrite.WithStyle(style))
}

// rawResponse is a response read without Go's header canonicalisation assumptions.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// send posts body with lowercase headers to the axon.
func send(t testing.TB, tgt dendrite.Target, path string, headers []synapse.Header, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+net.JoinHostPort(tgt.IP, itoa(tgt.Port))+path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		synapse.SetHeader(req.Header, h.Name, h.Value)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

func itoa(n int) string { return strconv.Itoa(n) }

// checkError asserts an error response per §7: HTTP status = header status, JSON
// {"message"} equal to the header status message, which starts with wantPrefix.
func checkError(t *testing.T, r rawResponse, wantCode int, wantPrefix string) {
	t.Helper()
	if r.status != wantCode {
		t.Errorf("HTTP status %d, want %d (body %s)", r.status, wantCode, r.body)
	}
	if got := r.header.Get("bt_header_axon_status_code"); got != itoa(wantCode) {
		t.Errorf("bt_header_axon_status_code %q, want %d", got, wantCode)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var body struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if msg := r.header.Get("bt_header_axon_status_message"); msg != body.Message {
		t.Errorf("header message %q != body message %q", msg, body.Message)
	}
	if !strings.HasPrefix(body.Message, wantPrefix) {
		t.Errorf("message %q, want prefix %q", body.Message, wantPrefix)
	}
	for _, h := range []string{"bt_header_axon_process_time", "bt_header_axon_uuid", "bt_header_axon_version", "name", "timeout"} {
		if r.header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
}

// leakBase is the goroutine and open-file count before a test.
type leakBase struct{ goroutines, fds int }

func baseline() leakBase { return leakBase{runtime.NumGoroutine(), openFDs()} }

// openFDs counts this process's open file descriptors (sockets included); -1 when
// /proc is unavailable.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// checkNoLeaks waits for the goroutine and file-descriptor counts to return near base:
// no handler, worker, stream or connection may outlive a shut-down axon.
func checkNoLeaks(t *testing.T, base leakBase) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n, fds := runtime.NumGoroutine(), openFDs()
		if n <= base.goroutines+2 && fds <= base.fds+1 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("leak: %d goroutines (before %d), %d fds (before %d)\n%s", n, base.goroutines, fds, base.fds, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loadVectorsFile(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(testenv.Shared(t, "testdata/axon-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func targetAt(port int) dendrite.Target {
	return dendrite.Target{IP: "127.0.0.1", Port: port, Hotkey: axonSS58}
}
