package subtensor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// node is a chopsticks process running a real subtensor runtime on 127.0.0.1.
type node struct {
	args []string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var listenRE = regexp.MustCompile(`RPC listening on http://127\.0\.0\.1:(\d+)`)

// chopsticksArgs returns the chopsticks command line for a runtime ("218", "103"), or
// skips (fails under BTLM_STRICT=1) when node, chopsticks or the spec is missing.
func chopsticksArgs(t testing.TB, runtime string) []string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node (Node.js) for chopsticks: %v", err)
	}
	chop := testenv.NodeModule(t, "@acala-network/chopsticks/chopsticks.cjs")
	switch runtime {
	case "218":
		return []string{chop, "--genesis", testenv.Shared(t, "subtensor/raonet.json")}
	case "103":
		return []string{chop, "--genesis", testenv.Shared(t, "subtensor/raw_spec_testfinney.json"), "--allow-unresolved-imports"}
	case "143":
		return []string{chop, "--genesis", testenv.Shared(t, "subtensor/raw_spec_testfinney.json"),
			"--wasm-override", testenv.Shared(t, "subtensor/runtime-spec143.wasm"), "--allow-unresolved-imports"}
	}
	t.Fatalf("unknown runtime %s", runtime)
	return nil
}

// startNode launches chopsticks with args on an ephemeral port and waits until it
// listens.
func startNode(ctx context.Context, args []string) (*node, error) {
	n := &node{args: args}
	if err := n.start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *node) start(ctx context.Context) error {
	port := strconv.Itoa(n.port) // 0 the first time: chopsticks picks a free port
	args := append(append([]string{}, n.args...), "--host", "127.0.0.1", "--port", port, "--build-block-mode", "Instant")
	cmd := exec.Command("node", args...)
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start chopsticks: %w", err)
	}
	done := make(chan struct{})
	found := make(chan int, 1)
	var tail []string
	var tailMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				p, _ := strconv.Atoi(m[1])
				select {
				case found <- p:
				default:
				}
			}
			tailMu.Lock()
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			tailMu.Unlock()
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(done)
	}()
	select {
	case p := <-found:
		n.mu.Lock()
		n.cmd, n.done, n.port = cmd, done, p
		n.mu.Unlock()
		return nil
	case <-done:
		tailMu.Lock()
		defer tailMu.Unlock()
		return fmt.Errorf("chopsticks exited before listening: %v", tail)
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("chopsticks did not listen in time: %w", ctx.Err())
	}
}

func (n *node) url() string { return fmt.Sprintf("ws://127.0.0.1:%d", n.port) }

// stop sends SIGTERM to the process group and waits (SIGKILL after 5 s).
func (n *node) stop() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// restart stops the node and starts a fresh one on the same port, with new
// arguments when args is not nil.
func (n *node) restart(ctx context.Context, args []string) error {
	n.stop()
	if args != nil {
		n.args = args
	}
	return n.start(ctx)
}

// freePort returns a port nothing listens on (just released by the kernel).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
