package miner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

// LevelTrace is bittensor's TRACE level (--logging.trace), below slog's Debug.
const LevelTrace = slog.Level(-8)

// NewLogger returns the logger the flags ask for: Info by default, Debug with
// --logging.debug, LevelTrace with --logging.trace; text or JSON on stderr, and with
// --logging.record_log also appended to
// <logging_dir>/<wallet>/<hotkey>/netuid<N>/miner/btlm-miner.log (bittensor's
// directory layout). The returned closer closes the file (no-op without one).
func NewLogger(cfg *config.Config, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	level := slog.LevelInfo
	switch {
	case cfg.Logging.Trace:
		level = LevelTrace
	case cfg.Logging.Debug:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}
	newHandler := func(w io.Writer) slog.Handler {
		if cfg.Logging.Format == "json" {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}
	if !cfg.Logging.RecordLog {
		return slog.New(newHandler(stderr)), nopCloser{}, nil
	}
	dir := filepath.Join(wallet.ExpandHome(cfg.Logging.LoggingDir), cfg.Wallet.Name, cfg.Wallet.Hotkey,
		"netuid"+strconv.Itoa(int(cfg.Netuid)), "miner")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("logging.record_log: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "btlm-miner.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("logging.record_log: %w", err)
	}
	return slog.New(slog.NewMultiHandler(newHandler(stderr), newHandler(f))), f, nil
}

// replaceAttr names LevelTrace "TRACE" and writes durations as Go duration strings
// ("1m0s", "250ms") in both formats: slog's JSON handler would write nanoseconds.
func replaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch {
	case a.Key == slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok && l <= LevelTrace {
			a.Value = slog.StringValue("TRACE")
		}
	case a.Value.Kind() == slog.KindDuration:
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// trace logs at LevelTrace.
func trace(l *slog.Logger, msg string, args ...any) {
	l.Log(context.Background(), LevelTrace, msg, args...)
}
