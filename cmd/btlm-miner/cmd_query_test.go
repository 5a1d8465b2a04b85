package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/bittensor/axon"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// startQueryAxon serves echo Prompting and word-streaming StreamPrompting on loopback.
func startQueryAxon(t *testing.T) (addr, hotkey string) {
	t.Helper()
	key, err := randomKey()
	if err != nil {
		t.Fatal(err)
	}
	a, err := axon.New(axon.Config{IP: "127.0.0.1"}, key)
	if err != nil {
		t.Fatal(err)
	}
	a.Attach(axon.Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, func(_ context.Context, p *synapse.Prompting) error {
		p.Completion = "echo: " + strings.Join(p.Roles, ",") + ": " + p.Messages[len(p.Messages)-1]
		return nil
	}))
	a.Attach(axon.Streaming(func() *synapse.StreamPrompting { return &synapse.StreamPrompting{} },
		func(_ context.Context, p *synapse.StreamPrompting, w axon.StreamWriter) error {
			for _, word := range strings.Fields(p.Messages[0]) {
				if _, err := w.Write([]byte(word + " ")); err != nil {
					return err
				}
			}
			return nil
		}))
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return "127.0.0.1:" + strconv.Itoa(a.Addr().(*net.TCPAddr).Port), key.SS58()
}

func TestQueryCommand(t *testing.T) {
	addr, axonHotkey := startQueryAxon(t)
	root := t.TempDir()
	kp, err := randomKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := wallet.WriteHotkey(wallet.HotkeyPath(root, "w", "h"), kp, false); err != nil {
		t.Fatal(err)
	}
	walletArgs := []string{"--wallet.path", root, "--wallet.name", "w", "--wallet.hotkey", "h", "--axon", addr, "--axon.hotkey", axonHotkey}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{"unary v10", []string{"hello there"}, 0, "echo: user: hello there\n", "status: 200 Success"},
		{"unary v6 two messages", []string{"--style", "v6", "--role", "system,user", "be brief", "hi"}, 0, "echo: system,user: hi\n", "status: 200 Success"},
		{"stream", []string{"--stream", "one two"}, 0, "one two \n", "status: 200 Success"},
		{"stream of no chunks", []string{"--stream", "  "}, 0, "\n", "status: 200 Success"},
		{"wrong axon hotkey", []string{"--axon.hotkey", kp.SS58(), "hi"}, 1, "", "status: 401 Not Verified with error: Signature mismatch"},
		{"no message", nil, 2, "", "give at least one message"},
		{"bad style", []string{"--style", "v7", "x"}, 2, "", "unknown dendrite style"},
		{"missing wallet", []string{"--wallet.name", "nope", "x"}, 1, "", "load hotkey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append(append([]string{}, walletArgs...), tc.args...)
			code := runQuery(args, &out, &errb)
			if code != tc.code || out.String() != tc.stdout || !strings.Contains(errb.String(), tc.stderrPart) {
				t.Errorf("code %d stdout %q stderr %q; want %d %q containing %q", code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderrPart)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := runQuery([]string{"--wallet.path", filepath.Join(root, "x"), "hi"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--axon") {
		t.Errorf("missing --axon: %d %q", code, errb.String())
	}
}

func TestAxonLoadCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runAxonLoad([]string{"--requests", "40", "--concurrency", "4"}, &out, &errb); code != 0 {
		t.Fatalf("axon-load: %d %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "requests=40 ok=40") {
		t.Errorf("report %q", out.String())
	}
}
