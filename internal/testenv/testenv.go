// Package testenv locates test data that lives outside the repository.
//
// Shared fixtures (the btlm-tiny model, axon vectors, subtensor chain specs) are read
// from the directory named by BTLM_SHARED, by default "../shared" beside the
// repository root. Node test peers (chopsticks, js-tiktoken) are installed by the test
// command into test/node/node_modules.
//
// When a fixture is missing, a test is skipped with a message saying what is missing,
// unless BTLM_STRICT=1 (set by the test command under CI), in which case it fails.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Strict reports whether missing test data must fail rather than skip.
func Strict() bool { return os.Getenv("BTLM_STRICT") == "1" }

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir returns the shared data directory: $BTLM_SHARED, or ../shared beside the repository.
func SharedDir() string {
	if d := os.Getenv("BTLM_SHARED"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	return filepath.Join(RepoRoot(), "..", "shared")
}

// Shared returns the path of rel inside the shared data directory, skipping the test
// (or failing it in strict mode) when it does not exist.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(SharedDir(), rel)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared test data %s (set BTLM_SHARED): %v", rel, err)
	}
	return p
}

// NodeModule returns the path of rel inside test/node/node_modules, skipping the test
// (or failing it in strict mode) when the test command has not installed it.
func NodeModule(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(), "test", "node", "node_modules", rel)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "node test tool %s (run the test command, which runs npm ci in test/node): %v", rel, err)
	}
	return p
}

// Missing skips the test, or fails it in strict mode.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("missing: "+format, args...)
	}
	t.Skipf("missing: "+format, args...)
}
