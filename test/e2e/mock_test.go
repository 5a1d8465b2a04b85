package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

// TestMinerMockNetwork runs the README's offline command, btlm-miner run
// --subtensor.network mock, with a mock metagraph file, the "clean" completion format,
// prompt injection and the prompt cache: no chain, no internet, real answers, repeated
// prompts refused.
func TestMinerMockNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	modelDir := testenv.Shared(t, "testdata/btlm-tiny")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	home := t.TempDir()
	walletDir := filepath.Join(home, "wallets")
	phrase, err := wallet.NewMnemonic(12)
	if err != nil {
		t.Fatal(err)
	}
	minerKey, err := wallet.KeypairFromMnemonic(phrase)
	if err != nil {
		t.Fatal(err)
	}
	if err := wallet.WriteHotkey(wallet.HotkeyPath(walletDir, walletName, minerHotkeyID), minerKey, false); err != nil {
		t.Fatal(err)
	}
	validatorKey, err := wallet.KeypairFromURI("//BtlmE2EMockValidator")
	if err != nil {
		t.Fatal(err)
	}
	strangerKey, err := wallet.KeypairFromURI("//BtlmE2EMockStranger")
	if err != nil {
		t.Fatal(err)
	}
	// The mock metagraph format of package subtensor (the JSON of `chain metagraph --json`).
	graph := map[string]any{"netuid": netuid, "block": 1000, "neurons": []any{
		map[string]any{"uid": 0, "hotkey": minerKey.SS58(), "coldkey": minerKey.SS58(), "active": true},
		map[string]any{"uid": 1, "hotkey": validatorKey.SS58(), "coldkey": validatorKey.SS58(),
			"stake": validatorRao, "validator_permit": true, "active": true},
	}}
	graphFile := filepath.Join(home, "metagraph.json")
	data, err := json.Marshal(graph)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(graphFile, data, 0o600); err != nil {
		t.Fatal(err)
	}

	ref := loadReference(t, modelDir)
	// With --btlm.do_prompt_injection the seed writes its system prompt first and drops
	// the system message equal to messages[0].
	roles, messages := []string{"system", "user"}, []string{"You are a pirate.", "Write a haiku about the sea."}
	want := ref.expect(t, config.DefaultSystemPrompt+"user: Write a haiku about the sea.\nassistant: ")
	wantClean := cleanFormat(want.completion)
	if wantClean == want.unary {
		t.Fatalf("the clean and seed formats agree (%q); the case cannot tell them apart", wantClean)
	}
	streamMessages := []string{"You are a pirate.", "Write a limerick about the sea."}
	wantStream := cleanFormat(ref.expect(t, config.DefaultSystemPrompt+"user: Write a limerick about the sea.\nassistant: ").completion)

	axonPort, metricsPort := freePort(t), freePort(t)
	p := startMiner(t, home, "run", "--strict", "--netuid", fmt.Sprint(netuid),
		"--wallet.path", walletDir, "--wallet.name", walletName, "--wallet.hotkey", minerHotkeyID,
		"--subtensor.network", "mock", "--subtensor.mock_metagraph", graphFile,
		"--axon.ip", "127.0.0.1", "--axon.port", portArg(axonPort), "--axon.external_ip", externalIP,
		"--btlm.model", modelDir, "--btlm.completion_format", "clean", "--btlm.do_prompt_injection",
		"--miner.blacklist.force_validator_permit", "--miner.blacklist.use_prompt_cache",
		"--metrics.port", portArg(metricsPort))
	p.waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", metricsPort), time.Minute)

	target := dendrite.Target{IP: "127.0.0.1", Port: axonPort, Hotkey: minerKey.SS58()}
	d := dendrite.New(validatorKey)
	defer d.CloseIdleConnections()
	msg := synapse.NewPrompting(roles, messages)
	if res := d.Call(ctx, target, msg, requestTimeout); !res.OK() || msg.Completion != wantClean {
		t.Fatalf("Prompting: status %d %q\n got %q\nwant %q", res.StatusCode, res.StatusMessage, msg.Completion, wantClean)
	}
	if body, res := stream(ctx, d, target, roles, streamMessages, nil); !res.OK() || body != wantStream {
		t.Fatalf("StreamPrompting: status %d %q\n got %q\nwant %q", res.StatusCode, res.StatusMessage, body, wantStream)
	}
	// The prompt cache refuses a prompt answered within prompt_cache_block_span blocks
	// with the seed's 403.
	t.Run("prompt_cache/Prompting", func(t *testing.T) {
		res := d.Call(ctx, target, synapse.NewPrompting(roles, messages), requestTimeout)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.StatusMessage, "Prompt sent recently") {
			t.Errorf("repeated prompt: status %d %q, want 403 (prompt cache)", res.StatusCode, res.StatusMessage)
		}
	})
	// A streaming forward refused before its first chunk answers the same 403 (JSON,
	// not an empty 200 stream).
	t.Run("prompt_cache/StreamPrompting", func(t *testing.T) {
		body, res := stream(ctx, d, target, roles, streamMessages, nil)
		if res.StatusCode != http.StatusForbidden || res.HTTPStatus != http.StatusForbidden ||
			!strings.Contains(res.StatusMessage, "Prompt sent recently") || body != "" {
			t.Errorf("repeated stream prompt: status %d (HTTP %d) %q body %q, want 403 (prompt cache)",
				res.StatusCode, res.HTTPStatus, res.StatusMessage, body)
		}
	})
	stranger := dendrite.New(strangerKey)
	defer stranger.CloseIdleConnections()
	if res := stranger.Call(ctx, target, synapse.NewPrompting(roles, messages), requestTimeout); res.StatusCode != http.StatusForbidden {
		t.Fatalf("unregistered caller: status %d %q, want 403", res.StatusCode, res.StatusMessage)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, shutdownTimeout); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if out := p.out.String(); strings.Contains(out, phrase) {
		t.Fatal("the miner's output contains its mnemonic")
	}
}

// cleanFormat is --btlm.completion_format clean, from its definition in issue 5: the
// generated text only, stopped at a new "\nuser:" or "\nsystem:" turn, with Python
// str.strip()'s whitespace trimmed.
func cleanFormat(completion string) string {
	for _, marker := range []string{"\nuser:", "\nsystem:"} {
		if i := strings.Index(completion, marker); i >= 0 {
			completion = completion[:i]
		}
	}
	return strings.TrimFunc(completion, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}
