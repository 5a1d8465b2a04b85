package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
	"github.com/btlm-miner/btlm-miner/miner/prompt"
	"github.com/btlm-miner/btlm-miner/tokenizer"
)

func TestRunHelpListsGroups(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"run", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("run --help: exit %d, stderr %q", code, errb.String())
	}
	for _, want := range []string{"model and decoding (--btlm.*)", "--btlm.max_length", "--miner.blacklist.whitelist",
		"--wallet.hotkey", "--axon.port", "--subtensor.network", "--logging.debug", "--metrics.port", "--wandb.on", "BT_AXON_PORT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}

func TestRunConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--btlm.device", "cuda"}, "CPU only"},
		{[]string{"run", "--strict", "--no.such"}, "unknown flag --no.such"},
		{[]string{"--axon.port", "x"}, "axon.port"}, // run is the default command
		{[]string{"run", "--config", "/nonexistent.yaml"}, "config file"},
	} {
		var out, errb bytes.Buffer
		code := dispatch(tc.args, &out, &errb)
		msg := errb.String()
		if code != 1 || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 || strings.Contains(msg, "goroutine") {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and one line containing %q", tc.args, code, msg, tc.want)
		}
	}
}

// TestRunChild is the miner process of TestRunProcess (it runs only when
// BTLM_RUN_CHILD_ARGS is set).
func TestRunChild(t *testing.T) {
	raw := os.Getenv("BTLM_RUN_CHILD_ARGS")
	if raw == "" {
		t.Skip("helper process for TestRunProcess")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(dispatch(args, os.Stdout, os.Stderr))
}

// TestRunProcess runs `btlm-miner run` as a process on the offline mock network with a
// wallet and a mock metagraph file, calls it with a registered validator's Go
// dendrite, then stops it with SIGTERM: exit code 0.
func TestRunProcess(t *testing.T) {
	model := testenv.Shared(t, "testdata/btlm-tiny")
	dir := t.TempDir()
	minerKey, err := wallet.KeypairFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := wallet.WriteHotkey(wallet.HotkeyPath(dir, "w", "h"), minerKey, false); err != nil {
		t.Fatal(err)
	}
	alice, err := wallet.KeypairFromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	g, err := subtensor.NewMetagraph(1, 500, []subtensor.Neuron{
		{UID: 0, Hotkey: subtensor.AccountID(minerKey.PublicKey()), Active: true},
		{UID: 1, Hotkey: subtensor.AccountID(alice.PublicKey()), Active: true, Stake: 1000e9, ValidatorPermit: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	graphJSON, _ := json.Marshal(g)
	graphFile := filepath.Join(dir, "metagraph.json")
	if err := os.WriteFile(graphFile, graphJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal([]string{"run", "--subtensor.network", "mock", "--subtensor.mock_metagraph", graphFile,
		"--btlm.model", model, "--wallet.path", dir, "--wallet.name", "w", "--wallet.hotkey", "h",
		"--axon.ip", "127.0.0.1", "--axon.port", "0", "--axon.external_ip", "203.0.113.5", "--metrics.port", "-1",
		"--btlm.max_length", "24", "--btlm.threads", "1", "--logging.debug"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunChild$")
	cmd.Env = append(os.Environ(), "BTLM_RUN_CHILD_ARGS="+string(args))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	var logs strings.Builder
	var mu sync.Mutex
	addrc := make(chan string, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		re := regexp.MustCompile(`msg="axon serving" addr=127\.0\.0\.1:(\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		close(addrc)
	}()
	var port string
	select {
	case p, ok := <-addrc:
		if !ok {
			t.Fatalf("miner exited before serving:\n%s", logs.String())
		}
		port = p
	case <-time.After(60 * time.Second):
		t.Fatal("miner not serving after 60 s")
	}

	// The expected answer: golden.json case 0 is this chat's prompt; apply the seed's
	// post-processing to its greedy ids.
	tok, err := tokenizer.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Prompt       string `json:"prompt"`
			PromptIDs    []int  `json:"prompt_ids"`
			GeneratedIDs []int  `json:"generated_ids"`
		}
	}
	data, _ := os.ReadFile(filepath.Join(model, "golden.json"))
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	c0 := golden.Cases[0]
	roles, messages := []string{"system", "user"}, []string{"You are a helpful assistant.", "What is the capital of France?"}
	if prompt.Build(roles, messages, false, "") != c0.Prompt {
		t.Fatal("golden case 0 is not the seed prompt of this chat")
	}
	want := prompt.Seed(c0.Prompt, prompt.PipelineCompletion(
		tok.Decode(append(slices.Clone(c0.PromptIDs), c0.GeneratedIDs...)), tok.Decode(c0.PromptIDs)))

	target, err := dendrite.ParseTarget("127.0.0.1:"+port, minerKey.SS58())
	if err != nil {
		t.Fatal(err)
	}
	d := dendrite.New(alice)
	defer d.CloseIdleConnections()
	m := synapse.NewPrompting(roles, messages)
	if res := d.Call(context.Background(), target, m, 10*time.Second); !res.OK() || m.Completion != want {
		t.Errorf("Prompting: status %d %q, completion %q, want %q", res.StatusCode, res.StatusMessage, m.Completion, want)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() {
		<-readerDone // all output read (the process closed stderr) before Wait
		waitErr <- cmd.Wait()
	}()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("miner exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("miner still running 30 s after SIGTERM")
	}
	mu.Lock()
	defer mu.Unlock()
	out := logs.String()
	for _, w := range []string{`msg="axon endpoint published" axon=203.0.113.5:` + port, "msg=request synapse=Prompting", "msg=stopped served=1"} {
		if !strings.Contains(out, w) {
			t.Errorf("logs lack %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "secretSeed") || strings.Contains(out, "0707070707") {
		t.Error("logs contain key material")
	}
}
