package axon

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// The interop tests run the REAL bittensor 6.1.0 dendrite and axon from
// shared/tools/bt610 (see its README). They are opt-in: they skip unless setup.sh has
// been run (BT_PEER_DIR, default ~/.cache/bt610-peer, holds bittensor-6.1.0) and the
// Debian python3 can import fastapi.

const bt610Python = "/usr/bin/python3"

func bt610Kit(t *testing.T) (kit string, env []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("bt610 interop skipped in -short mode")
	}
	kit = filepath.Join(testenv.SharedDir(), "tools", "bt610")
	if _, err := os.Stat(filepath.Join(kit, "query.py")); err != nil {
		t.Skipf("bt610 kit not found: %v", err)
	}
	peer := os.Getenv("BT_PEER_DIR")
	if peer == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		peer = filepath.Join(cache, "bt610-peer")
	}
	if _, err := os.Stat(filepath.Join(peer, "bittensor-6.1.0", "bittensor", "__init__.py")); err != nil {
		t.Skipf("bittensor 6.1.0 peer not set up (run shared/tools/bt610/setup.sh; BT_PEER_DIR=%s): %v", peer, err)
	}
	if err := exec.Command(bt610Python, "-c", "import fastapi, aiohttp, pydantic").Run(); err != nil {
		t.Skipf("Debian python3 packages for bt610 missing: %v", err)
	}
	return kit, append(os.Environ(), "BT_PEER_DIR="+peer)
}

type bt610Result struct {
	StatusCode    *int     `json:"status_code"`
	StatusMessage *string  `json:"status_message"`
	Completion    string   `json:"completion"`
	ProcessTime   *float64 `json:"process_time"`
}

func runBT610Query(t *testing.T, kit string, env []string, port int, axonHotkey string, msgs ...string) bt610Result {
	t.Helper()
	args := []string{filepath.Join(kit, "query.py"), "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--axon-hotkey", axonHotkey, "--seed", otherSeed, "--dendrite-ip", "10.1.2.3", "--timeout", "20"}
	for _, m := range msgs {
		args = append(args, "--message", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bt610Python, args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("query.py: %v\n%s", err, out)
	}
	var r bt610Result
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("query.py output %q: %v", out, err)
	}
	return r
}

// TestBT610DendriteToGoAxon: the real bittensor 6.1.0 dendrite calls the Go axon.
func TestBT610DendriteToGoAxon(t *testing.T) {
	kit, env := bt610Kit(t)
	_, tgt := startAxon(t, Config{})
	r := runBT610Query(t, kit, env, tgt.Port, axonSS58, "hello it's \"me\" \u00e9\u00a0\U0001F642")
	if r.StatusCode == nil || *r.StatusCode != 200 || r.StatusMessage == nil || *r.StatusMessage != "Success" {
		t.Fatalf("6.1.0 dendrite recorded %+v", r)
	}
	if r.Completion != "echo: hello it's \"me\" \u00e9\u00a0\U0001F642" {
		t.Errorf("completion %q", r.Completion)
	}
	// Signed for another axon hotkey: refused, and the 6.1.0 client sees the 401.
	r = runBT610Query(t, kit, env, tgt.Port, seedKey(t, otherSeed).SS58(), "hi")
	if r.StatusCode == nil || *r.StatusCode != 401 || r.StatusMessage == nil || !strings.HasPrefix(*r.StatusMessage, "Not Verified with error: Signature mismatch") {
		t.Errorf("wrong hotkey: %+v", r)
	}
	// A blacklisted caller: the 6.1.0 client records 403 and the reason.
	caller := seedKey(t, otherSeed).SS58()
	_, tgt2 := startAxon(t, Config{}, WithBlacklist(func(_ context.Context, ri *RequestInfo) (bool, string) {
		return ri.Hotkey == caller, "not a validator"
	}))
	r = runBT610Query(t, kit, env, tgt2.Port, axonSS58, "hi")
	if r.StatusCode == nil || *r.StatusCode != 403 || r.StatusMessage == nil || *r.StatusMessage != "Forbidden. Key is blacklisted: not a validator." {
		t.Errorf("blacklisted: %+v", r)
	}
}

// TestGoDendriteToBT610Axon: the Go dendrite, in both styles, calls the real 6.1.0 axon.
func TestGoDendriteToBT610Axon(t *testing.T) {
	kit, env := bt610Kit(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // find a free port for uvicorn
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bt610Python, filepath.Join(kit, "serve.py"), "--port", strconv.Itoa(port), "--seed", axonSeed)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"ready"`) {
				ready <- sc.Text()
				return
			}
		}
		ready <- ""
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, `"ready": true`) {
			t.Fatalf("serve.py: %q", line)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("serve.py did not become ready")
	}
	tgt := dendrite.Target{IP: "127.0.0.1", Port: port, Hotkey: axonSS58}
	for _, style := range []dendrite.Style{dendrite.StyleV610, dendrite.StyleV10} {
		d := testDendrite(t, style)
		for i := 0; i < 2; i++ {
			p := synapse.NewPrompting([]string{"user"}, []string{"hi", "what's \"up\"\n\u00a0\U0001F642"})
			res := d.Call(context.Background(), tgt, p, 20*time.Second)
			if !res.OK() || p.Completion != "real axon says: what's \"up\"\n\u00a0\U0001F642" {
				t.Fatalf("%v call %d: %d %q completion %q (%v)", style, i, res.StatusCode, res.StatusMessage, p.Completion, res.Err)
			}
		}
		// A request signed for another axon hotkey: the 6.1.0 axon answers HTTP 500 {}
		// with the real code in the header, which the Go dendrite reports.
		wrong := tgt
		wrong.Hotkey = seedKey(t, otherSeed).SS58()
		res := d.Call(context.Background(), wrong, synapse.NewPrompting([]string{"user"}, []string{"x"}), 20*time.Second)
		if res.StatusCode != 401 || res.HTTPStatus != 500 || !strings.HasPrefix(res.StatusMessage, "Not Verified with error: Signature mismatch") {
			t.Errorf("%v wrong hotkey: %d (HTTP %d) %q", style, res.StatusCode, res.HTTPStatus, res.StatusMessage)
		}
		d.CloseIdleConnections()
	}
}
