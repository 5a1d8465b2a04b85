package miner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/generate"
	"github.com/btlm-miner/btlm-miner/miner/config"
	"github.com/btlm-miner/btlm-miner/miner/prompt"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func key(t testing.TB, uri string) *wallet.Keypair {
	t.Helper()
	k, err := wallet.KeypairFromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testMiner is a miner running in-process on the mock chain with btlm-tiny.
type testMiner struct {
	t      *testing.T
	f      *tinyFixture
	hotkey *wallet.Keypair
	chain  *subtensor.MockChain
	ready  Ready
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startMiner runs Run with args added to the defaults of a local test: mock chain with
// the miner at uid 0 and a validator (//Alice, 1000 TAO, permit) at uid 1, axon and
// metrics on 127.0.0.1 ports chosen by the kernel.
func startMiner(t *testing.T, args []string, opts Options, wrap func(*subtensor.MockChain) subtensor.Chain) *testMiner {
	t.Helper()
	f := tiny(t)
	tm := &testMiner{t: t, f: f, hotkey: key(t, "//btlm-miner-test"), logs: &syncBuffer{}, done: make(chan error, 1)}
	g, err := subtensor.NewMetagraph(1, 1000, []subtensor.Neuron{
		{UID: 0, Hotkey: subtensor.AccountID(tm.hotkey.PublicKey()), Active: true, Stake: 5e9, Axon: subtensor.AxonInfo{IP: "0.0.0.0"}},
		{UID: 1, Hotkey: subtensor.AccountID(key(t, "//Alice").PublicKey()), Active: true, Stake: 1000e9, ValidatorPermit: true,
			Axon: subtensor.AxonInfo{IP: "0.0.0.0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tm.chain = subtensor.NewMockChainFrom(g)
	tm.chain.BlockTime = 40 * time.Millisecond
	base := []string{"--subtensor.network", "mock", "--btlm.model", f.dir, "--axon.ip", "127.0.0.1", "--axon.port", "0",
		"--metrics.port", "0", "--btlm.max_length", "24", "--logging.trace", "--miner.blocks_per_epoch", "3",
		"--axon.external_ip", "1.2.3.4", "--btlm.threads", "1"}
	cfg, warns, err := config.Parse(append(base, args...), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	opts.Warnings = warns
	opts.Hotkey = tm.hotkey
	opts.Logger = slog.New(slog.NewTextHandler(tm.logs, &slog.HandlerOptions{Level: LevelTrace}))
	opts.OpenChain = func(context.Context, subtensor.Config, subtensor.AccountID) (subtensor.Chain, error) {
		if wrap != nil {
			return wrap(tm.chain), nil
		}
		return tm.chain, nil
	}
	readyc := make(chan Ready, 1)
	opts.OnReady = func(r Ready) { readyc <- r }
	ctx, cancel := context.WithCancel(context.Background())
	tm.cancel = cancel
	go func() { tm.done <- Run(ctx, cfg, opts) }()
	select {
	case tm.ready = <-readyc:
	case err := <-tm.done:
		t.Fatalf("Run ended before serving: %v\nlogs:\n%s", err, tm.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("miner not ready\nlogs:\n%s", tm.logs)
	}
	t.Cleanup(func() {
		tm.stop()
		if t.Failed() {
			t.Logf("miner logs:\n%s", tm.logs)
		}
	})
	return tm
}

// stop cancels Run and waits for it; it returns Run's error.
func (tm *testMiner) stop() error {
	tm.cancel()
	select {
	case err, ok := <-tm.done:
		if ok {
			close(tm.done)
			return err
		}
		return nil
	case <-time.After(30 * time.Second):
		tm.t.Fatal("Run did not return after cancel")
		return nil
	}
}

func (tm *testMiner) target() dendrite.Target {
	return dendrite.Target{IP: "127.0.0.1", Port: tm.ready.AxonAddr.(*net.TCPAddr).Port, Hotkey: tm.hotkey.SS58()}
}

func (tm *testMiner) get(path string) (int, string) {
	tm.t.Helper()
	resp, err := http.Get("http://" + tm.ready.MetricsAddr.String() + path)
	if err != nil {
		tm.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunServesMockNetwork(t *testing.T) {
	tm := startMiner(t, nil, Options{}, nil)
	f := tm.f
	validator := dendrite.New(key(t, "//Alice"))
	defer validator.CloseIdleConnections()

	// Expected: greedy generation + the seed's post-processing, computed here from
	// generate + tokenizer, and for this prompt also from golden.json's ids.
	text := prompt.Build(chat.roles, chat.messages, false, "")
	_, completion, want := predict(t, f, text, 24, 2, prompt.FormatSeed)
	g := f.cases[0]
	if g.Prompt != text || g.MaxNewTokens != 24 || g.NoRepeatNGramSize != 2 {
		t.Fatalf("golden case 0 is not this request: %q", g.Prompt)
	}
	golden := prompt.Seed(text, prompt.PipelineCompletion(
		f.tok.Decode(append(slices.Clone(g.PromptIDs), g.GeneratedIDs...)), f.tok.Decode(g.PromptIDs)))
	if golden != want {
		t.Fatalf("generate disagrees with golden.json: %q vs %q", want, golden)
	}

	m := synapse.NewPrompting(chat.roles, chat.messages)
	res := validator.Call(context.Background(), tm.target(), m, 10*time.Second)
	if !res.OK() {
		t.Fatalf("Prompting: status %d %q (%v)", res.StatusCode, res.StatusMessage, res.Err)
	}
	if m.Completion != golden {
		t.Errorf("Prompting completion %q, want %q", m.Completion, golden)
	}

	sm := synapse.NewStreamPrompting(chat.roles, chat.messages)
	var raw bytes.Buffer
	res = validator.CallStream(context.Background(), tm.target(), sm, 10*time.Second, func(c []byte) error {
		raw.Write(c)
		return nil
	})
	if !res.OK() {
		t.Fatalf("StreamPrompting: status %d %q (%v)", res.StatusCode, res.StatusMessage, res.Err)
	}
	if wantStream := prompt.SeedStreamPrefix(text) + completion; raw.String() != wantStream {
		t.Errorf("stream %q, want %q", raw.String(), wantStream)
	}
	if !strings.Contains(completion, ":") && raw.String() != golden {
		t.Errorf("stream %q differs from the unary answer %q", raw.String(), golden)
	}

	// An unregistered hotkey is refused before its signature is even checked.
	eve := dendrite.New(key(t, "//Eve"))
	defer eve.CloseIdleConnections()
	em := synapse.NewPrompting(chat.roles, chat.messages)
	res = eve.Call(context.Background(), tm.target(), em, 10*time.Second)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.StatusMessage, "not registered") || em.Completion != "" {
		t.Errorf("unregistered hotkey: status %d %q completion %q", res.StatusCode, res.StatusMessage, em.Completion)
	}

	// Metrics, readiness, the axon on chain, the resync status line, request logs.
	code, body := tm.get("/healthz")
	if code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	_, body = tm.get("/metrics")
	for _, want := range []string{
		`btlm_miner_requests_total{status="200",synapse="Prompting"} 1`,
		`btlm_miner_requests_total{status="200",synapse="StreamPrompting"} 1`,
		`btlm_miner_requests_total{status="403",synapse="Prompting"} 1`,
		`btlm_miner_rejected_total{reason="not_registered"} 1`,
		`btlm_miner_generated_tokens_total 48`,
		`btlm_miner_registered 1`,
		"btlm_miner_time_to_first_token_seconds_count 2",
		"btlm_miner_queue_depth 0",
		"btlm_miner_metagraph_age_seconds",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	waitFor(t, "the axon on chain", func() bool {
		info, ok, err := tm.chain.AxonInfo(context.Background(), 1, subtensor.AccountID(tm.hotkey.PublicKey()))
		return err == nil && ok && info.IP == "1.2.3.4" && int(info.Port) == tm.target().Port
	})
	waitFor(t, "a resync status line", func() bool { return strings.Contains(tm.logs.String(), "msg=status step=1") })
	logs := tm.logs.String()
	for _, want := range []string{
		"msg=request synapse=Prompting hotkey=" + key(t, "//Alice").SS58() + " status=200 tokens=24",
		"msg=request synapse=Prompting hotkey=" + key(t, "//Eve").SS58() + " status=403",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	waitFor(t, "a status line counting the requests", func() bool {
		return strings.Contains(tm.logs.String(), "served=2 blacklisted=1 refused=1")
	})
	if err := tm.stop(); err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

// TestRunShutdownDrains: a request in flight when the miner is told to stop still
// gets its full answer; Run then returns nil and the axon accepts nothing more.
func TestRunShutdownDrains(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	var steps atomic.Int32
	opts := Options{wrapSequence: func(s generate.Sequence) generate.Sequence {
		return hookSequence{Sequence: s, before: func() {
			once.Do(func() { close(started) })
			steps.Add(1)
			time.Sleep(15 * time.Millisecond)
		}}
	}}
	tm := startMiner(t, nil, opts, nil)
	validator := dendrite.New(key(t, "//Alice"))
	defer validator.CloseIdleConnections()

	_, _, want := predict(t, tm.f, prompt.Build(chat.roles, chat.messages, false, ""), 24, 2, prompt.FormatSeed)
	m := synapse.NewPrompting(chat.roles, chat.messages)
	resc := make(chan *dendrite.Result, 1)
	go func() { resc <- validator.Call(context.Background(), tm.target(), m, 10*time.Second) }()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- tm.stop() }()

	res := <-resc
	if !res.OK() || m.Completion != want {
		t.Errorf("in-flight request during shutdown: status %d %q, completion %q, want %q", res.StatusCode, res.StatusMessage, m.Completion, want)
	}
	if n := steps.Load(); n != 24 {
		t.Errorf("%d forward steps, want 24 (the whole generation)", n)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	after := validator.Call(context.Background(), tm.target(), synapse.NewPrompting(chat.roles, chat.messages), 2*time.Second)
	if after.OK() {
		t.Error("request after shutdown answered")
	}
}

type hookSequence struct {
	generate.Sequence
	before func()
}

func (h hookSequence) Forward(ctx context.Context, ids []int) ([]float32, error) {
	h.before()
	return h.Sequence.Forward(ctx, ids)
}

func TestRunNotRegistered(t *testing.T) {
	f := tiny(t)
	hk := key(t, "//unregistered")
	g, _ := subtensor.NewMetagraph(1, 0, []subtensor.Neuron{{UID: 0, Hotkey: subtensor.AccountID(key(t, "//Alice").PublicKey())}})
	cfg, _, err := config.Parse([]string{"--subtensor.network", "mock", "--btlm.model", f.dir, "--metrics.port", "-1"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	err = Run(context.Background(), cfg, Options{Hotkey: hk, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OpenChain: func(context.Context, subtensor.Config, subtensor.AccountID) (subtensor.Chain, error) {
			return subtensor.NewMockChainFrom(g), nil
		}})
	if err == nil || !strings.Contains(err.Error(), hk.SS58()) || !strings.Contains(err.Error(), "btcli") {
		t.Fatalf("Run: %v, want ErrNotRegistered naming the hotkey", err)
	}
	if !strings.Contains(fmt.Sprint(err), ErrNotRegistered.Error()) {
		t.Errorf("error does not wrap ErrNotRegistered: %v", err)
	}
}

// flakyChain fails its first calls, like a node that is restarting.
type flakyChain struct {
	*subtensor.MockChain
	subscribeFails atomic.Int32 // SubscribeBlocks fails while > 0
	graphFails     atomic.Int32 // Metagraph fails while > 0 (after the first success)
	graphCalls     atomic.Int32
}

func (c *flakyChain) SubscribeBlocks(ctx context.Context) (<-chan uint64, error) {
	if c.subscribeFails.Add(-1) >= 0 {
		return nil, fmt.Errorf("connection refused")
	}
	return c.MockChain.SubscribeBlocks(ctx)
}

func (c *flakyChain) Metagraph(ctx context.Context, netuid uint16) (*subtensor.Metagraph, error) {
	if c.graphCalls.Add(1) > 1 && c.graphFails.Add(-1) >= 0 {
		return nil, fmt.Errorf("broken pipe")
	}
	return c.MockChain.Metagraph(ctx, netuid)
}

// TestRunSurvivesChainErrors: subscription and resync failures are logged and retried;
// the miner keeps serving (here with the prompt cache on: a repeated prompt is
// refused, a new one answered) and resyncs once the chain answers again.
func TestRunSurvivesChainErrors(t *testing.T) {
	var flaky *flakyChain
	tm := startMiner(t, []string{"--miner.blacklist.use_prompt_cache", "--miner.blacklist.prompt_cache_block_span", "1000000"},
		Options{retryBase: 5 * time.Millisecond}, func(c *subtensor.MockChain) subtensor.Chain {
			flaky = &flakyChain{MockChain: c}
			flaky.subscribeFails.Store(2)
			flaky.graphFails.Store(3)
			return flaky
		})
	validator := dendrite.New(key(t, "//Alice"))
	defer validator.CloseIdleConnections()
	ask := func(msg string) *dendrite.Result {
		return validator.Call(context.Background(), tm.target(), synapse.NewPrompting([]string{"user"}, []string{msg}), 10*time.Second)
	}
	if res := ask("first"); !res.OK() {
		t.Fatalf("first request: %d %q", res.StatusCode, res.StatusMessage)
	}
	// B2 fixed: the cache refuses only a repeat.
	if res := ask("first"); res.StatusCode != http.StatusForbidden || !strings.Contains(res.StatusMessage, "Prompt sent recently") {
		t.Errorf("repeated prompt: %d %q, want 403", res.StatusCode, res.StatusMessage)
	}
	if res := ask("second"); !res.OK() {
		t.Errorf("new prompt: %d %q", res.StatusCode, res.StatusMessage)
	}
	waitFor(t, "a resync after the chain errors", func() bool {
		return strings.Contains(tm.logs.String(), "msg=status step=1")
	})
	logs := tm.logs.String()
	for _, want := range []string{"cannot follow blocks", "metagraph resync failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if flaky.graphFails.Load() >= 0 {
		t.Errorf("resync failures not all consumed: %d left", flaky.graphFails.Load())
	}
	_, body := tm.get("/metrics")
	if !strings.Contains(body, `btlm_miner_rejected_total{reason="prompt_cached"} 1`) {
		t.Error("/metrics does not count the cached prompt")
	}
}

// TestRunConcurrentRequests: concurrent callers each get their own correct answer.
func TestRunConcurrentRequests(t *testing.T) {
	tm := startMiner(t, []string{"--axon.max_workers", "3", "--btlm.completion_format", "clean"}, Options{}, nil)
	alice := key(t, "//Alice")
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One dendrite each: nonces must increase per dendrite, and concurrent
			// requests of one dendrite may arrive out of order.
			validator := dendrite.New(alice)
			defer validator.CloseIdleConnections()
			msgs := []string{fmt.Sprintf("Question number %d?", i)}
			_, _, want := predict(t, tm.f, prompt.Build([]string{"user"}, msgs, false, ""), 24, 2, prompt.FormatClean)
			m := synapse.NewPrompting([]string{"user"}, msgs)
			if res := validator.Call(context.Background(), tm.target(), m, 20*time.Second); !res.OK() || m.Completion != want {
				t.Errorf("request %d: status %d %q, completion %q, want %q", i, res.StatusCode, res.StatusMessage, m.Completion, want)
			}
		}()
	}
	wg.Wait()
}

func (tm *testMiner) lastUpdate() uint64 {
	g, err := tm.chain.Metagraph(context.Background(), 1)
	if err != nil {
		tm.t.Fatal(err)
	}
	return g.ByHotkey(subtensor.AccountID(tm.hotkey.PublicKey())).LastUpdate
}

// TestRunWeights: no weights by default; the seed's self-weight with --miner.set_weights.
func TestRunWeights(t *testing.T) {
	quiet := startMiner(t, nil, Options{}, nil)
	waitFor(t, "two resyncs", func() bool { return strings.Contains(quiet.logs.String(), "msg=status step=2") })
	if lu := quiet.lastUpdate(); lu != 0 {
		t.Errorf("weights set without --miner.set_weights (last_update %d)", lu)
	}
	quiet.stop()

	setter := startMiner(t, []string{"--miner.set_weights"}, Options{}, nil)
	waitFor(t, "a self-weight", func() bool { return setter.lastUpdate() > 0 })
	if !strings.Contains(setter.logs.String(), "self-weight set") {
		t.Error("no log line for the self-weight")
	}
}
