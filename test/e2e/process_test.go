package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// minerProcess is a running `btlm-miner run` with its combined output captured.
type minerProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's error, valid after done
}

// startMiner runs the binary with args in a clean environment (HOME in a temporary
// directory, no BT_* variables, no network proxies) and kills it when the test ends if
// it is still running.
func startMiner(t *testing.T, home string, args ...string) *minerProcess {
	t.Helper()
	cmd := exec.Command(minerBinary, args...)
	cmd.Env = cleanEnv(home)
	p := &minerProcess{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", minerBinary, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() || os.Getenv("BTLM_E2E_LOGS") == "1" {
			t.Logf("btlm-miner output:\n%s", p.out.String())
		}
	})
	return p
}

func cleanEnv(home string) []string {
	env := []string{"HOME=" + home, "HF_HUB_OFFLINE=1", "NO_COLOR=1"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "HOME", strings.HasPrefix(name, "BT_"), strings.HasPrefix(name, "HF_"),
			strings.HasSuffix(strings.ToLower(name), "_proxy"):
			continue
		case name == "PATH", name == "TMPDIR", name == "GOMAXPROCS", strings.HasPrefix(name, "BTLM_"):
			env = append(env, kv)
		}
	}
	return env
}

// exited reports whether the process has ended.
func (p *minerProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *minerProcess) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("btlm-miner still running %v after it was asked to stop", d)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("btlm-miner killed by signal %v", ws.Signal())
		}
		return ee.ExitCode()
	default:
		t.Fatalf("wait: %v", p.err)
		return -1
	}
}

// waitHealthy polls url until it answers 200, failing the test when the process exits
// first or d passes.
func (p *minerProcess) waitHealthy(t *testing.T, url string, d time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	last := "no answer"
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("btlm-miner exited before it was ready (%v)", p.err)
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not healthy after %v: %s", url, d, last)
}

// waitLog waits up to d for a JSON log line whose msg is one of msgs and returns that
// msg, failing the test when the process exits first or d passes.
func (p *minerProcess) waitLog(t *testing.T, d time.Duration, msgs ...string) string {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(p.out.String(), "\n") {
			var rec struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && slices.Contains(msgs, rec.Msg) {
				return rec.Msg
			}
		}
		if p.exited() {
			t.Fatalf("btlm-miner exited (%v) before logging any of %q", p.err, msgs)
		}
	}
	t.Fatalf("btlm-miner logged none of %q within %v", msgs, d)
	return ""
}

// poll calls f every 200 ms until it returns nil, failing with its last error after d.
func poll(t *testing.T, ctx context.Context, d time.Duration, what string, f func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func portArg(p int) string { return fmt.Sprint(p) }
