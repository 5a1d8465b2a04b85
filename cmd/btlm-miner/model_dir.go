package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/btlm-miner/btlm-miner/hub"
)

// resolveModelDir turns a --btlm.model value into a local model directory: an existing
// directory as is, or a Hugging Face repository id ("org/name") resolved in the shared
// Hugging Face cache, downloading what is missing (see package hub; HF_HUB_OFFLINE=1
// uses the cache only). Download progress goes to stderr.
func resolveModelDir(ctx context.Context, spec, revision string, logger *slog.Logger) (string, error) {
	if spec == "" {
		return "", errors.New("no model given: pass --btlm.model DIR or a Hugging Face repository id such as cerebras/btlm-3b-8k-base")
	}
	return hub.ResolveFromEnv(ctx, spec, revision, logger, os.Stderr)
}
