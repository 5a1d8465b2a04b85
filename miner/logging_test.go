package miner

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/miner/config"
)

func TestNewLoggerLevelsAndFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args             []string
		info, debug, trc bool
	}{
		{nil, true, false, false},
		{[]string{"--logging.debug"}, true, true, false},
		{[]string{"--logging.trace"}, true, true, true},
	} {
		cfg, _, err := config.Parse(append(tc.args, "--logging.record_log", "--logging.logging_dir", dir, "--wallet.name", "w", "--netuid", "9"),
			func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		log, closer, err := NewLogger(cfg, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("i-line")
		log.Debug("d-line")
		trace(log, "t-line")
		closer.Close()
		out := stderr.String()
		for line, want := range map[string]bool{"i-line": tc.info, "d-line": tc.debug, "t-line": tc.trc} {
			if strings.Contains(out, line) != want {
				t.Errorf("%q: %s logged = %v, want %v", tc.args, line, !want, want)
			}
		}
		if tc.trc && !strings.Contains(out, "level=TRACE") {
			t.Errorf("trace level not named TRACE: %s", out)
		}
		file, err := os.ReadFile(filepath.Join(dir, "w", "default", "netuid9", "miner", "btlm-miner.log"))
		if err != nil || !strings.Contains(string(file), "i-line") {
			t.Errorf("record_log file: %v %q", err, file)
		}
	}
	cfg, _, _ := config.Parse([]string{"--logging.format", "json"}, func(string) string { return "" })
	var stderr bytes.Buffer
	log, _, _ := NewLogger(cfg, &stderr)
	log.Info("x")
	if !strings.HasPrefix(stderr.String(), "{") {
		t.Errorf("json format: %q", stderr.String())
	}
}

// TestLogDurations: durations are written as duration strings in both formats, also
// inside groups and when passed as any.
func TestLogDurations(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"json", []string{`"timeout":"1m0s"`, `"latency":"250ms"`, `"req":{"wait":"1.5s"}`, `"n":7`}},
		{"text", []string{"timeout=1m0s", "latency=250ms", "req.wait=1.5s", "n=7"}},
	} {
		cfg, _, err := config.Parse([]string{"--logging.format", tc.format}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		log, _, err := NewLogger(cfg, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("x", "timeout", 60*time.Second, slog.Any("latency", 250*time.Millisecond),
			slog.Group("req", "wait", 1500*time.Millisecond), "n", 7)
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%s: %q lacks %s", tc.format, stderr.String(), w)
			}
		}
	}
}
