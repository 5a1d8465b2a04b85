package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

func runChainCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(append([]string{"chain"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// chainTestWallet writes a hotkey under a temporary wallet path and returns the path
// and the key.
func chainTestWallet(t *testing.T) (string, *wallet.Keypair) {
	t.Helper()
	kp, err := wallet.KeypairFromSeed(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := wallet.WriteHotkey(wallet.HotkeyPath(root, "miner", "hk"), kp, false); err != nil {
		t.Fatal(err)
	}
	return root, kp
}

const aliceSS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"

// writeMockMetagraph writes a netuid-3 metagraph: uid 0 = hotkey0, a validator
// serving 8.8.8.8:8091 (version 610); uid 1 = hotkey1, not serving.
func writeMockMetagraph(t *testing.T, hotkey0, hotkey1 string) string {
	t.Helper()
	js := fmt.Sprintf(`{"netuid": 3, "block": 500, "neurons": [
	  {"uid": 0, "hotkey": %q, "stake": 1500000000000,
	   "validator_permit": true, "rank": 65535, "axon": {"ip": "8.8.8.8", "port": 8091, "protocol": 4, "version": 610}},
	  {"uid": 1, "hotkey": %q}]}`, hotkey0, hotkey1)
	path := filepath.Join(t.TempDir(), "metagraph.json")
	if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChainMetagraphMock(t *testing.T) {
	file := writeMockMetagraph(t, aliceSS58, "0x0101010101010101010101010101010101010101010101010101010101010101")
	code, out, errOut := runChainCLI(t, "metagraph", "--subtensor.network", "mock", "--subtensor.mock_metagraph", file, "--netuid", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m, err := subtensor.ReadMetagraphJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("--json output is not a mock metagraph file: %v\n%s", err, out)
	}
	if m.N() != 2 || m.Netuid != 3 || !m.Neurons[0].ValidatorPermit || m.Neurons[0].StakeTAO() != 1500 {
		t.Fatalf("metagraph %+v", m)
	}
	code, out, errOut = runChainCLI(t, "metagraph", "--subtensor.network", "mock", "--subtensor.mock_metagraph", file, "--netuid", "3")
	if code != 0 || !strings.Contains(out, "8.8.8.8:8091") || !strings.Contains(out, "1500.00000") || !strings.Contains(out, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY") {
		t.Fatalf("table (exit %d, %s):\n%s", code, errOut, out)
	}
	code, _, errOut = runChainCLI(t, "metagraph", "--subtensor.network", "mock", "--subtensor.mock_metagraph", file, "--netuid", "4")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "subnet 4") {
		t.Fatalf("missing subnet: exit %d %q", code, errOut)
	}
}

func TestChainBlockMock(t *testing.T) {
	code, out, errOut := runChainCLI(t, "block", "--subtensor.network", "mock")
	if code != 0 || strings.TrimSpace(out) != "0" {
		t.Fatalf("exit %d out %q err %q", code, out, errOut)
	}
}

func TestChainServeAxonMock(t *testing.T) {
	root, kp := chainTestWallet(t)
	file := writeMockMetagraph(t, aliceSS58, kp.SS58())
	base := []string{"serve-axon", "--subtensor.network", "mock", "--subtensor.mock_metagraph", file,
		"--wallet.path", root, "--wallet.name", "miner", "--wallet.hotkey", "hk", "--netuid", "3"}
	code, out, errOut := runChainCLI(t, append(base, "--axon.external_ip", "1.2.3.4", "--axon.port", "8093")...)
	if code != 0 || !strings.Contains(out, "uid 1 on netuid 3 now serves 1.2.3.4:8093") {
		t.Fatalf("exit %d out %q err %q", code, out, errOut)
	}
	// As uid 0, the hotkey already serves 8.8.8.8:8091 with version 610.
	served := writeMockMetagraph(t, kp.SS58(), aliceSS58)
	same := []string{"serve-axon", "--subtensor.network", "mock", "--subtensor.mock_metagraph", served,
		"--wallet.path", root, "--wallet.name", "miner", "--wallet.hotkey", "hk", "--netuid", "3",
		"--axon.external_ip", "8.8.8.8", "--axon.port", "8091"}
	code, out, errOut = runChainCLI(t, same...)
	if code != 0 || !strings.Contains(out, "uid 0 on netuid 3 already serves 8.8.8.8:8091") {
		t.Fatalf("unchanged endpoint: exit %d out %q err %q", code, out, errOut)
	}
	code, out, errOut = runChainCLI(t, append(same, "--force")...)
	if code != 0 || !strings.Contains(out, "now serves 8.8.8.8:8091") {
		t.Fatalf("--force: exit %d out %q err %q", code, out, errOut)
	}
	code, _, errOut = runChainCLI(t, append(base, "--axon.external_ip", "127.0.0.1")...)
	if code != 1 || !strings.Contains(errOut, "InvalidIpAddress") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("loopback: exit %d %q", code, errOut)
	}
	code, _, errOut = runChainCLI(t, append(base, "--axon.ip", "[::]")...)
	if code != 1 || !strings.Contains(errOut, "--axon.external_ip") {
		t.Fatalf("bind-all address: exit %d %q", code, errOut)
	}
	code, _, errOut = runChainCLI(t, base...)
	if code != 2 || !strings.Contains(errOut, "--axon.external_ip") {
		t.Fatalf("no ip: exit %d %q", code, errOut)
	}
	code, _, errOut = runChainCLI(t, append(base[:len(base)-2], "--netuid", "3", "--wallet.hotkey", "missing", "--axon.ip", "1.2.3.4")...)
	if code != 1 || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("missing hotkey: exit %d %q", code, errOut)
	}
}

func TestChainDeadEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := time.Now()
	code, _, errOut := runChainCLI(t, "block", "--subtensor.chain_endpoint", fmt.Sprintf("ws://127.0.0.1:%d", port), "--subtensor.timeout", "1s")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "btlm-miner chain block:") {
		t.Fatalf("exit %d %q", code, errOut)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v with a 1 s timeout", time.Since(start))
	}
}

func TestChainUsage(t *testing.T) {
	if code, out, _ := runChainCLI(t); code != 0 || !strings.Contains(out, "serve-axon") {
		t.Fatalf("usage: %d %q", code, out)
	}
	if code, _, errOut := runChainCLI(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("unknown subcommand: %d %q", code, errOut)
	}
	if code, _, errOut := runChainCLI(t, "metagraph", "--subtensor.network", "nakamoto"); code != 1 || !strings.Contains(errOut, "nakamoto") {
		t.Fatalf("bad network: %d %q", code, errOut)
	}
	if code, _, _ := runChainCLI(t, "metagraph", "--bogus"); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
}

// TestChainCLIAgainstChopsticks runs serve-axon and metagraph against a real subtensor
// runtime (spec 218 under chopsticks): the hotkey is registered by the test with
// burned_register, the CLI publishes its axon, and the metagraph shows it.
func TestChainCLIAgainstChopsticks(t *testing.T) {
	if testing.Short() {
		t.Skip("chopsticks test skipped in -short mode")
	}
	n := chaintest.StartT(t, chaintest.Options{Runtime: chaintest.Raonet})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	root, kp := chainTestWallet(t)
	cold, err := wallet.KeypairFromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Fund(ctx, 1_000_000_000_000_000, scale.AccountID(cold.PublicKey())); err != nil {
		t.Fatal(err)
	}
	if err := n.RelaxRateLimits(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c, err := subtensor.Dial(ctx, n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.BurnedRegister(ctx, cold, 1, subtensor.AccountID(kp.PublicKey())); err != nil {
		t.Fatal(err)
	}
	endpoint := []string{"--subtensor.chain_endpoint", n.URL(), "--netuid", "1"}
	code, out, errOut := runChainCLI(t, append([]string{"serve-axon", "--wallet.path", root, "--wallet.name", "miner",
		"--wallet.hotkey", "hk", "--axon.external_ip", "1.2.3.4", "--axon.port", "8091"}, endpoint...)...)
	if code != 0 || !strings.Contains(out, "now serves 1.2.3.4:8091") {
		t.Fatalf("serve-axon: exit %d out %q err %q", code, out, errOut)
	}
	code, out, errOut = runChainCLI(t, append([]string{"metagraph", "--json"}, endpoint...)...)
	if code != 0 {
		t.Fatalf("metagraph: exit %d err %q", code, errOut)
	}
	m, err := subtensor.ReadMetagraphJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	nr := m.ByHotkey(subtensor.AccountID(kp.PublicKey()))
	if nr == nil || nr.Axon.String() != "1.2.3.4:8091" || nr.Axon.Version != 610 || nr.Coldkey != subtensor.AccountID(cold.PublicKey()) {
		t.Fatalf("neuron %+v", nr)
	}
	code, out, _ = runChainCLI(t, append([]string{"block"}, "--subtensor.chain_endpoint", n.URL())...)
	if code != 0 || strings.TrimSpace(out) == "0" {
		t.Fatalf("block: exit %d %q", code, out)
	}
}
