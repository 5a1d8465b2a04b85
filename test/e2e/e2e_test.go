package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

const (
	netuid = 1
	// externalIP is the address the miner announces: public-looking (the chain refuses
	// loopback), from TEST-NET-3 (RFC 5737), so it can never reach a real host.
	externalIP = "203.0.113.7"
	// minStakeTAO is --miner.blacklist.minimum_stake_requirement in the test.
	minStakeTAO   = 100
	walletName    = "e2e"
	minerHotkeyID = "miner"

	// The deadlines are generous because the test command runs many packages at once
	// on a small machine: chopsticks then takes seconds per block, and a request that
	// reached its timeout would be answered truncated instead of failing clearly.
	// Unloaded, the whole test takes 10 to 20 s.
	requestTimeout = 60 * time.Second // each synapse's timeout (the axon's default cap)
	// blocksPerEpoch is --miner.blocks_per_epoch: more than the blocks the test builds
	// (one per extrinsic) before it asks for a resync.
	blocksPerEpoch  = 5
	shutdownTimeout = 60 * time.Second // --miner.shutdown_timeout
)

// TestMinerEndToEnd is issue 5's end-to-end acceptance test (see the package doc).
func TestMinerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	modelDir := testenv.Shared(t, "testdata/btlm-tiny")
	gold := loadGolden(t, modelDir)
	node := chaintest.StartT(t, chaintest.Options{Runtime: chaintest.Raonet})
	t.Cleanup(func() {
		if t.Failed() {
			logs := node.Logs()
			t.Logf("chopsticks output (tail):\n%s", logs[max(0, len(logs)-4096):])
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chain, err := subtensor.Dial(ctx, node.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	k := newKeys(t)
	prepareChain(t, ctx, node, chain, k)

	// The miner's wallet: only its hotkey file, 0600.
	home := t.TempDir()
	walletDir := filepath.Join(home, "wallets")
	hotkeyPath := wallet.HotkeyPath(walletDir, walletName, minerHotkeyID)
	if err := wallet.WriteHotkey(hotkeyPath, k.miner, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(hotkeyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("hotkey file %s: %v, %v", hotkeyPath, fi.Mode(), err)
	}

	// Expected answers, computed before the miner competes for the CPU. The first case
	// is golden.json's first prompt: the seed's prompt for its messages.
	ref := loadReference(t, modelDir)
	cases := []struct {
		name     string
		roles    []string
		messages []string
		prompt   string // the seed's prompt text, written out by hand
	}{
		{"golden", []string{"system", "user"}, []string{"You are a helpful assistant.", "What is the capital of France?"},
			"system: You are a helpful assistant.\nuser: What is the capital of France?\nassistant: "},
		{"multi_turn", []string{"system", "user", "assistant", "user", "critic"},
			[]string{"Answer briefly.", "Name a colour.", "Blue.", "Another one?", "dropped: not a seed role"},
			"system: Answer briefly.\nuser: Name a colour.\nassistant: Blue.\nuser: Another one?\nassistant: "},
	}
	expect := make([]expectation, len(cases))
	for i, c := range cases {
		expect[i] = ref.expect(t, c.prompt)
		t.Logf("%s: %d tokens, expected completion %.60q…", c.name, len(expect[i].generatedIDs), expect[i].unary)
	}
	// The reference continuation of the golden prompt is golden.json's, token for token
	// (golden.json stops at 24 tokens; the miner's default is 100, and greedy decoding
	// of the longer run starts with the shorter one).
	g := gold.Cases[0]
	if e := expect[0]; g.Prompt != cases[0].prompt || g.NoRepeatNGramSize != config.Default().BTLM.NoRepeatNGramSize ||
		!slices.Equal(e.promptIDs, g.PromptIDs) || len(e.generatedIDs) < len(g.GeneratedIDs) ||
		!slices.Equal(e.generatedIDs[:len(g.GeneratedIDs)], g.GeneratedIDs) {
		t.Fatalf("reference differs from golden.json case 0 (prompt %q, no_repeat_ngram_size %d):\nprompt ids %v\nwant       %v\ngenerated %v\nwant      %v (prefix)",
			g.Prompt, g.NoRepeatNGramSize, e.promptIDs, g.PromptIDs, e.generatedIDs, g.GeneratedIDs)
	}

	t.Run("unregistered_hotkey_exits", func(t *testing.T) {
		phrase, err := wallet.NewMnemonic(12)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := wallet.KeypairFromMnemonic(phrase)
		if err != nil {
			t.Fatal(err)
		}
		if err := wallet.WriteHotkey(wallet.HotkeyPath(walletDir, walletName, "unregistered"), kp, false); err != nil {
			t.Fatal(err)
		}
		q := startMiner(t, home, "run", "--netuid", fmt.Sprint(netuid),
			"--wallet.path", walletDir, "--wallet.name", walletName, "--wallet.hotkey", "unregistered",
			"--subtensor.network", "local", "--subtensor.chain_endpoint", node.URL(),
			"--axon.ip", "127.0.0.1", "--axon.port", portArg(freePort(t)), "--metrics.port", "-1",
			"--btlm.model", modelDir)
		if code := q.wait(t, time.Minute); code != 1 {
			t.Fatalf("exit code %d, want 1", code)
		}
		out := q.out.String()
		if !strings.Contains(out, "not registered") || !strings.Contains(out, kp.SS58()) ||
			strings.Contains(out, "goroutine ") || strings.Contains(out, phrase) {
			t.Fatalf("output of a miner with an unregistered hotkey:\n%s", out)
		}
	})

	axonPort, metricsPort := freePort(t), freePort(t)
	minerArgs := []string{"run", "--strict",
		"--netuid", fmt.Sprint(netuid),
		"--wallet.path", walletDir, "--wallet.name", walletName, "--wallet.hotkey", minerHotkeyID,
		"--subtensor.network", "local", "--subtensor.chain_endpoint", node.URL(),
		"--axon.ip", "127.0.0.1", "--axon.port", portArg(axonPort), "--axon.external_ip", externalIP,
		"--axon.max_workers", "1",
		"--btlm.model", modelDir, "--btlm.completion_format", "seed",
		"--miner.blacklist.force_validator_permit",
		"--miner.blacklist.minimum_stake_requirement", fmt.Sprint(minStakeTAO),
		"--miner.shutdown_timeout", shutdownTimeout.String(),
		"--miner.blocks_per_epoch", fmt.Sprint(blocksPerEpoch),
		"--metrics.port", portArg(metricsPort),
		"--logging.debug", "--logging.format", "json"}
	p := startMiner(t, home, minerArgs...)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
	p.waitHealthy(t, metricsURL+"/healthz", time.Minute)

	// The miner announced its axon on chain: storage and metagraph agree.
	var onChain subtensor.AxonInfo
	poll(t, ctx, time.Minute, "miner axon on chain", func(ctx context.Context) error {
		a, ok, err := chain.AxonInfo(ctx, netuid, account(k.miner))
		if err != nil {
			return err
		}
		if !ok || a.IP != externalIP || int(a.Port) != axonPort {
			return fmt.Errorf("axon info %+v (present %v), want %s:%d", a, ok, externalIP, axonPort)
		}
		onChain = a
		return nil
	})
	if onChain.IPType != 4 || onChain.Protocol != 4 || onChain.Version != synapse.Version610 || onChain.Block == 0 {
		t.Fatalf("axon info on chain %+v", onChain)
	}
	m, err := chain.Metagraph(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	if n := m.ByHotkey(account(k.miner)); n == nil || !n.Axon.SameEndpoint(onChain) || !n.Axon.Serving() {
		t.Fatalf("metagraph neuron of the miner %+v, storage axon %+v", n, onChain)
	}

	// Validators reach the axon at the port announced on chain (the announced IP is a
	// documentation address; the test connects to loopback).
	target := dendrite.Target{IP: "127.0.0.1", Port: int(onChain.Port), Hotkey: k.miner.SS58()}
	validator := dendrite.New(k.validator)
	defer validator.CloseIdleConnections()

	for i, c := range cases {
		want := expect[i]
		t.Run("prompting/"+c.name, func(t *testing.T) {
			msg := synapse.NewPrompting(c.roles, c.messages)
			res := validator.Call(ctx, target, msg, requestTimeout)
			if !res.OK() {
				t.Fatalf("Prompting: status %d %q (%v)", res.StatusCode, res.StatusMessage, res.Err)
			}
			if msg.Completion != want.unary {
				t.Fatalf("Prompting completion\n got %q\nwant %q (generated text %q)", msg.Completion, want.unary, want.completion)
			}
		})
		t.Run("stream_prompting/"+c.name, func(t *testing.T) {
			body, res := stream(ctx, validator, target, c.roles, c.messages, nil)
			if !res.OK() {
				t.Fatalf("StreamPrompting: status %d %q (%v)", res.StatusCode, res.StatusMessage, res.Err)
			}
			if body != want.stream {
				t.Fatalf("StreamPrompting body\n got %q\nwant %q", body, want.stream)
			}
			if !strings.Contains(want.completion, ":") && body != want.unary {
				t.Fatalf("stream %q differs from the unary completion %q", body, want.unary)
			}
		})
	}

	t.Run("blacklist", func(t *testing.T) {
		for _, b := range []struct {
			name   string
			kp     *wallet.Keypair
			reason string
		}{
			{"unregistered", k.stranger, "not registered"},
			{"no_permit", k.noPermit, "permit"},
			{"low_stake", k.lowStake, "stake"},
		} {
			d := dendrite.New(b.kp)
			res := d.Call(ctx, target, synapse.NewPrompting([]string{"user"}, []string{"hi"}), requestTimeout)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.StatusMessage, "blacklisted") ||
				!strings.Contains(res.StatusMessage, b.reason) {
				t.Errorf("%s: Prompting status %d %q, want 403 blacklisted (%s)", b.name, res.StatusCode, res.StatusMessage, b.reason)
			}
			_, res = stream(ctx, d, target, []string{"user"}, []string{"hi"}, nil)
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s: StreamPrompting status %d %q, want 403", b.name, res.StatusCode, res.StatusMessage)
			}
			d.CloseIdleConnections()
		}
	})

	// A hotkey registered after the miner started is refused until the miner's
	// metagraph resync (every blocks_per_epoch blocks) brings it into the snapshot.
	t.Run("metagraph_resync", func(t *testing.T) {
		before, err := scrapeGauge(http.DefaultClient, metricsURL+"/metrics", "btlm_miner_metagraph_block")
		if err != nil {
			t.Fatal(err)
		}
		register(t, ctx, chain, k.cold, k.newcomer)
		setStakeAndPermits(t, ctx, node, chain, k.cold, map[*wallet.Keypair]uint64{k.newcomer: validatorRao},
			[]*wallet.Keypair{k.validator, k.newcomer})
		d := dendrite.New(k.newcomer)
		defer d.CloseIdleConnections()
		msg := synapse.NewPrompting(cases[0].roles, cases[0].messages)
		if res := d.Call(ctx, target, msg, requestTimeout); res.StatusCode != http.StatusForbidden ||
			!strings.Contains(res.StatusMessage, "not registered") {
			t.Fatalf("newcomer before the resync: status %d %q, want 403 not registered", res.StatusCode, res.StatusMessage)
		}
		built := 0
		poll(t, ctx, time.Minute, "metagraph resync", func(ctx context.Context) error {
			g, err := scrapeGauge(http.DefaultClient, metricsURL+"/metrics", "btlm_miner_metagraph_block")
			if err != nil || g > before {
				return err
			}
			if built == 2*blocksPerEpoch {
				return fmt.Errorf("metagraph block still %v after %d more blocks (blocks_per_epoch %d)", g, built, blocksPerEpoch)
			}
			built++
			_, err = node.NewBlock(ctx, 1)
			return fmt.Errorf("metagraph block %v: %v", g, err)
		})
		msg = synapse.NewPrompting(cases[0].roles, cases[0].messages)
		if res := d.Call(ctx, target, msg, requestTimeout); !res.OK() || msg.Completion != expect[0].unary {
			t.Fatalf("newcomer after the resync: status %d %q, completion %q", res.StatusCode, res.StatusMessage, msg.Completion)
		}
	})

	t.Run("sigterm_drains_in_flight", func(t *testing.T) {
		sigtermDrain(t, ctx, p, metricsURL+"/metrics", k.validator, target, cases[0].roles, cases[0].messages, expect[0])
	})

	// Restarted with the same endpoint, the miner finds its axon on chain current and
	// sends no serve_axon; it keeps serving when the chain goes away, and still stops
	// cleanly then.
	var p2 *minerProcess
	top := t // p2 outlives the subtest that starts it
	t.Run("restart", func(t *testing.T) {
		if !p.exited() {
			t.Skip("the first miner is still running")
		}
		p2 = startMiner(top, home, minerArgs...)
		p2.waitHealthy(t, metricsURL+"/healthz", time.Minute)
		msg := p2.waitLog(t, time.Minute, "axon endpoint on chain is current", "axon endpoint published")
		after, ok, err := chain.AxonInfo(ctx, netuid, account(k.miner))
		if err != nil || !ok {
			t.Fatalf("axon info: %v %v", ok, err)
		}
		if msg != "axon endpoint on chain is current" || after != onChain {
			t.Fatalf("restart logged %q; axon on chain %+v, before the restart %+v", msg, after, onChain)
		}
		req := synapse.NewPrompting(cases[1].roles, cases[1].messages)
		if res := validator.Call(ctx, target, req, requestTimeout); !res.OK() || req.Completion != expect[1].unary {
			t.Fatalf("after the restart: status %d %q, completion %q", res.StatusCode, res.StatusMessage, req.Completion)
		}
	})
	t.Run("chain_down", func(t *testing.T) {
		if p2 == nil {
			t.Skip("no restarted miner")
		}
		node.Kill()
		msg := synapse.NewPrompting(cases[0].roles, cases[0].messages)
		if res := validator.Call(ctx, target, msg, requestTimeout); !res.OK() || msg.Completion != expect[0].unary {
			t.Fatalf("with the chain down: status %d %q, completion %q", res.StatusCode, res.StatusMessage, msg.Completion)
		}
		if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p2.wait(t, shutdownTimeout+15*time.Second); code != 0 {
			t.Fatalf("exit code %d after SIGTERM with the chain down, want 0", code)
		}
	})

	t.Run("no_secrets_in_logs", func(t *testing.T) {
		out := p.out.String()
		if p2 != nil {
			out += p2.out.String()
		}
		if out == "" {
			t.Fatal("no output captured")
		}
		seed, err := minerSeedHex(hotkeyPath)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"mnemonic": k.mnemonic, "seed": seed,
			"first mnemonic words": strings.Join(strings.Fields(k.mnemonic)[:4], " ")} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
				t.Errorf("the miner's output contains its %s", name)
			}
		}
		if !strings.Contains(out, k.miner.SS58()) {
			t.Errorf("the output never names the miner's hotkey %s (is anything logged?)", k.miner.SS58())
		}
	})
}

// minerSeedHex reads the secret seed (hex, no 0x) from the miner's hotkey file.
func minerSeedHex(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var f struct {
		SecretSeed string `json:"secretSeed"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", err
	}
	s := strings.TrimPrefix(f.SecretSeed, "0x")
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", fmt.Errorf("hotkey file secretSeed %d chars: %v", len(s), err)
	}
	return s, nil
}
