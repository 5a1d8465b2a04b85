package chaintest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// StartT starts a node for one test and stops it when the test ends. Missing
// prerequisites skip the test (fail it when BTLM_STRICT=1); a failed start fails it.
func StartT(t testing.TB, opts Options) *Node {
	t.Helper()
	n, err := Start(opts)
	if errors.Is(err, ErrMissing) {
		testenv.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chopsticks %s listening on %s after %v", n.Runtime(), n.URL(), n.ReadyIn)
	t.Cleanup(n.Stop)
	return n
}

type sharedNode struct {
	once sync.Once
	node *Node
	err  error
}

var (
	sharedMu    sync.Mutex
	sharedNodes = map[Runtime]*sharedNode{}
)

// Shared returns the package's shared node for runtime r, starting it on first use.
// Main stops it after all tests. Tests must not stop, kill or restart it; use StartT
// for that. Missing prerequisites skip the test (fail it when BTLM_STRICT=1).
func Shared(t testing.TB, r Runtime) *Node {
	t.Helper()
	if r == "" {
		r = Raonet
	}
	sharedMu.Lock()
	s := sharedNodes[r]
	if s == nil {
		s = &sharedNode{}
		sharedNodes[r] = s
	}
	sharedMu.Unlock()
	s.once.Do(func() {
		s.node, s.err = Start(Options{Runtime: r})
		if s.err == nil {
			fmt.Fprintf(os.Stderr, "chaintest: shared chopsticks %s on %s, ready in %v\n", r, s.node.URL(), s.node.ReadyIn)
		}
	})
	if errors.Is(s.err, ErrMissing) {
		testenv.Missing(t, "%v", s.err)
	}
	if s.err != nil {
		t.Fatalf("shared chopsticks %s: %v", r, s.err)
	}
	return s.node
}

// StopShared stops every shared node (Main calls it).
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for r, s := range sharedNodes {
		if s.node != nil {
			s.node.Stop()
		}
		delete(sharedNodes, r)
	}
}

// Main runs the package's tests and then stops the shared nodes; use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(chaintest.Main(m)) }
func Main(m *testing.M) int {
	defer StopShared()
	return m.Run()
}
