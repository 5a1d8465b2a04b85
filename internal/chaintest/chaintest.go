// Package chaintest runs a real subtensor runtime locally for integration tests, using
// chopsticks (@acala-network/chopsticks, installed by the test command into
// test/node/node_modules) with a raw chain spec from the shared data directory
// (shared/subtensor, see its README for the recipe this package follows).
//
// Each node listens on 127.0.0.1 only, on a port chopsticks picks (--port 0) and
// reports on stdout. No database is used (no --db), so chopsticks needs neither the
// sqlite3 native module nor a writable working directory, and every start begins from
// genesis (Options.Persist keeps state across Restart in an sqlite database instead).
//
// Typical use, one instance per test package, started by the first test that needs it
// and stopped after all tests:
//
//	func TestMain(m *testing.M) { os.Exit(chaintest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		node := chaintest.Shared(t, chaintest.Raonet)
//		...
//	}
//
// Tests that kill or restart the node start their own with StartT.
//
// Chopsticks quirks tests must allow for (seen with chopsticks 1.5.1): the head is #0
// or #1 when a node reports ready (the start-up block is not always built first), so
// take block numbers relative to the current head; the port accepts connections a
// little before the ready line, so a reconnecting client may briefly see genesis state
// after Restart; block numbers are zero-padded hex and the genesis hash is 0x4545…45.
package chaintest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// Runtime selects the chain spec (and runtime) a node runs.
type Runtime string

// Runtimes available in shared/subtensor.
const (
	// Raonet is raonet.json: node-subtensor spec 218 (Feb 2025), SubtensorModule at
	// pallet 7, netuid 1 open for burned_register, CheckMetadataHash in the extensions.
	Raonet Runtime = "raonet"
	// Testfinney is raw_spec_testfinney.json: the 2023 test network genesis, spec 103,
	// SubtensorModule at pallet 8, netuid 3.
	Testfinney Runtime = "testfinney"
	// Spec143 is the testfinney genesis with runtime-spec143.wasm (finney, early 2024)
	// as a wasm override; its first block runs migrations that remove netuid 3.
	Spec143 Runtime = "spec143"
)

// ChopsticksModule is the chopsticks entry point inside test/node/node_modules.
const ChopsticksModule = "@acala-network/chopsticks/chopsticks.cjs"

// ErrMissing is wrapped by Start's error when node, chopsticks or a spec file is missing.
var ErrMissing = errors.New("chaintest: prerequisite missing")

// Options configure a node.
type Options struct {
	Runtime        Runtime       // default Raonet
	BuildBlockMode string        // "Instant" (default: one block per extrinsic), "Batch" or "Manual"
	Port           int           // 0: chopsticks picks a free port
	ReadyTimeout   time.Duration // launch → listening (default 90s)
	ExtraArgs      []string      // appended to the chopsticks command line
	// Persist keeps the chain in an sqlite database in the node's scratch directory, so
	// that Restart resumes from the last block instead of starting again from genesis.
	// chopsticks saves what blocks changed but not dev_setStorage overrides, so Restart
	// re-applies, in order, the overrides made through this Node (SetStorage, Fund,
	// ...). It needs the sqlite3 native module of test/node.
	Persist bool
}

// Node is a running chopsticks instance.
type Node struct {
	opts    Options
	chop    string // chopsticks.cjs
	args    []string
	dir     string // scratch working directory
	ReadyIn time.Duration
	mu      sync.Mutex
	cmd     *exec.Cmd
	port    int
	exited  chan struct{}
	exitErr error
	logs    *tailBuffer
	// overrides are the dev_setStorage parameters sent through this Node, replayed
	// after a persistent restart.
	overrides []any
}

// readyLine is chopsticks' readiness line: "… RPC listening on http://127.0.0.1:PORT and ws://…".
var readyLine = regexp.MustCompile(`RPC listening on http://127\.0\.0\.1:(\d+)`)

// PersistAvailable reports (as an error wrapping ErrMissing) whether Options.Persist can
// work: it needs the sqlite3 native module, which npm builds with node-gyp during
// npm ci and which is absent where that build did not run.
func PersistAvailable() error {
	native := filepath.Join(testenv.RepoRoot(), "test", "node", "node_modules", "sqlite3", "build", "Release", "node_sqlite3.node")
	if _, err := os.Stat(native); err != nil {
		return fmt.Errorf("%w: sqlite3 native module for Persist: %v", ErrMissing, err)
	}
	return nil
}

// paths returns the chopsticks entry point and the command-line arguments for opts,
// or an error wrapping ErrMissing.
func paths(opts Options) (chop string, args []string, err error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", nil, fmt.Errorf("%w: node not in PATH: %v", ErrMissing, err)
	}
	chop = filepath.Join(testenv.RepoRoot(), "test", "node", "node_modules", filepath.FromSlash(ChopsticksModule))
	if _, err := os.Stat(chop); err != nil {
		return "", nil, fmt.Errorf("%w: %s (run the test command, which runs npm ci in test/node): %v", ErrMissing, chop, err)
	}
	spec := func(name string) (string, error) {
		p := filepath.Join(testenv.SharedDir(), "subtensor", name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: chain spec %s (set BTLM_SHARED): %v", ErrMissing, p, err)
		}
		return p, nil
	}
	var genesis, wasm string
	switch opts.Runtime {
	case Raonet, "":
		genesis, err = spec("raonet.json")
	case Testfinney:
		genesis, err = spec("raw_spec_testfinney.json")
	case Spec143:
		if genesis, err = spec("raw_spec_testfinney.json"); err == nil {
			wasm, err = spec("runtime-spec143.wasm")
		}
	default:
		return "", nil, fmt.Errorf("chaintest: unknown runtime %q", opts.Runtime)
	}
	if err != nil {
		return "", nil, err
	}
	mode := opts.BuildBlockMode
	if mode == "" {
		mode = "Instant"
	}
	args = []string{chop, "--genesis", genesis, "--host", "127.0.0.1", "--build-block-mode", mode}
	if wasm != "" {
		args = append(args, "--wasm-override", wasm)
	}
	if opts.Runtime == Testfinney || opts.Runtime == Spec143 {
		// These runtimes import the benchmarking host function; without the flag every
		// block build fails.
		args = append(args, "--allow-unresolved-imports")
	}
	if opts.Persist {
		if err := PersistAvailable(); err != nil {
			return "", nil, err
		}
	}
	args = append(args, opts.ExtraArgs...)
	return chop, args, nil
}

// Start launches chopsticks and waits until it listens. Missing prerequisites give an
// error wrapping ErrMissing. The caller must Stop the node.
func Start(opts Options) (*Node, error) {
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	chop, args, err := paths(opts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "chaintest-")
	if err != nil {
		return nil, fmt.Errorf("chaintest: %w", err)
	}
	n := &Node{opts: opts, chop: chop, args: args, dir: dir, logs: newTailBuffer(64 << 10)}
	if opts.Persist {
		n.args = append(n.args, "--db", filepath.Join(dir, "chain.sqlite"))
	}
	if err := n.launch(opts.Port, false); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return n, nil
}

func (n *Node) launch(port int, resume bool) error {
	args := append(append([]string(nil), n.args...), "--port", strconv.Itoa(port))
	if resume {
		// chopsticks 1.5.1 rejects "--resume true" on the command line (its schema wants
		// a number there) but accepts resume: true from a config file.
		cfg := filepath.Join(n.dir, "resume.yml")
		if err := os.WriteFile(cfg, []byte("resume: true\n"), 0o600); err != nil {
			return fmt.Errorf("chaintest: %w", err)
		}
		args = append(args, "--config", cfg)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = n.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	setProcAttr(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chaintest: start chopsticks: %w", err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.exitErr = cmd, exited, nil
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		pw.Close()
		close(exited)
	}()
	ready := make(chan int, 1)
	go func() { // drain output for the node's whole life, so chopsticks never blocks on it
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			n.logs.WriteLine(line)
			if !found {
				if m := readyLine.FindStringSubmatch(line); m != nil {
					p, _ := strconv.Atoi(m[1])
					ready <- p
					found = true
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case p := <-ready:
		n.mu.Lock()
		n.port = p
		n.mu.Unlock()
		n.ReadyIn = time.Since(start)
		return nil
	case <-exited:
		return fmt.Errorf("chaintest: chopsticks exited before listening (%v); output:\n%s", n.exitErr, n.logs.String())
	case <-time.After(n.opts.ReadyTimeout):
		n.terminate()
		return fmt.Errorf("chaintest: chopsticks not listening after %v; output:\n%s", n.opts.ReadyTimeout, n.logs.String())
	}
}

// Port returns the port the node listens on.
func (n *Node) Port() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.port
}

// URL returns the websocket endpoint, ws://127.0.0.1:PORT.
func (n *Node) URL() string { return fmt.Sprintf("ws://127.0.0.1:%d", n.Port()) }

// HTTPURL returns the HTTP JSON-RPC endpoint, http://127.0.0.1:PORT.
func (n *Node) HTTPURL() string { return fmt.Sprintf("http://127.0.0.1:%d", n.Port()) }

// Runtime returns the runtime the node runs.
func (n *Node) Runtime() Runtime {
	if n.opts.Runtime == "" {
		return Raonet
	}
	return n.opts.Runtime
}

// PID returns the chopsticks process id (0 when stopped).
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Logs returns the last 64 KiB of chopsticks' output.
func (n *Node) Logs() string { return n.logs.String() }

// terminate sends SIGTERM to the node's own process, then SIGKILL after 5 s, and waits.
func (n *Node) terminate() { n.end(syscall.SIGTERM, 5*time.Second) }

// Kill sends SIGKILL (a crash, for fault tests) and waits for the process to exit.
func (n *Node) Kill() { n.end(syscall.SIGKILL, 0) }

// end sends sig to the node's process and waits for it to exit, killing it after grace.
func (n *Node) end(sig syscall.Signal, grace time.Duration) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill() // harmless if sig was SIGKILL already
		<-exited
	}
	n.mu.Lock()
	if n.cmd == cmd {
		n.cmd = nil
	}
	n.mu.Unlock()
}

// Stop terminates the node and removes its scratch directory. It is safe to call twice.
func (n *Node) Stop() {
	n.terminate()
	n.mu.Lock()
	dir := n.dir
	n.dir = ""
	n.mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// Restart stops the node (if running) and starts it again on the same port. Without
// Options.Persist it starts from genesis and all chain state is lost; with Persist it
// resumes from the last block. It retries briefly while the port is still held by the
// old process.
func (n *Node) Restart() error {
	port := n.Port()
	n.terminate()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = n.launch(port, n.opts.Persist); err == nil {
			return n.replayOverrides()
		}
		if !strings.Contains(err.Error(), "EADDRINUSE") {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// tailBuffer keeps the last max bytes of line output.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(append(b.buf, s...), '\n')
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max/2:]...)
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
