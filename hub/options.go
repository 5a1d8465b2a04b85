package hub

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub used when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Options configures where files come from and where they are cached. OptionsFromEnv
// fills it the way huggingface_hub reads its environment.
type Options struct {
	Endpoint string // Hub base URL (HF_ENDPOINT)
	CacheDir string // the hub cache (HF_HUB_CACHE, else $HF_HOME/hub)
	Token    string // bearer token for gated or private repositories; never logged
	Offline  bool   // HF_HUB_OFFLINE: use the cache only, no network at all
	Revision string // branch, tag, "refs/pr/N" or commit sha; default "main"

	HTTPClient *http.Client  // default: a client without an overall timeout
	Logger     *slog.Logger  // progress and fallbacks; default slog.Default()
	Progress   io.Writer     // when a terminal, a progress bar is drawn here; else periodic log lines
	Timeout    time.Duration // per metadata request and per stalled body read; default 10 s
	Retries    int           // resumed attempts per blob after a broken transfer; default 5
}

// OptionsFromEnv returns Options from HF_ENDPOINT, HF_HUB_CACHE (or the legacy
// HUGGINGFACE_HUB_CACHE, or $HF_HOME/hub), HF_TOKEN (or the file at HF_TOKEN_PATH, or
// $HF_HOME/token), HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE and HF_HUB_ETAG_TIMEOUT.
func OptionsFromEnv() Options {
	home := os.Getenv("HF_HOME")
	if home == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			if h, err := os.UserHomeDir(); err == nil {
				base = filepath.Join(h, ".cache")
			}
		}
		home = filepath.Join(base, "huggingface")
	}
	cache := firstNonEmpty(os.Getenv("HF_HUB_CACHE"), os.Getenv("HUGGINGFACE_HUB_CACHE"), filepath.Join(home, "hub"))
	token := os.Getenv("HF_TOKEN")
	if token == "" {
		tokenPath := firstNonEmpty(os.Getenv("HF_TOKEN_PATH"), filepath.Join(home, "token"))
		if b, err := os.ReadFile(tokenPath); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	opts := Options{
		Endpoint: strings.TrimRight(firstNonEmpty(os.Getenv("HF_ENDPOINT"), DefaultEndpoint), "/"),
		CacheDir: cache,
		Token:    token,
		Offline:  envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
	}
	if d, err := time.ParseDuration(os.Getenv("HF_HUB_ETAG_TIMEOUT") + "s"); err == nil && d > 0 {
		opts.Timeout = d
	}
	return opts
}

// ResolveFromEnv is Resolve with OptionsFromEnv for the given revision, logging to logger
// and drawing a progress bar on progress when it is a terminal. It is how the commands
// and the miner turn --btlm.model and --btlm.revision into a model directory.
func ResolveFromEnv(ctx context.Context, spec, revision string, logger *slog.Logger, progress io.Writer) (string, error) {
	opts := OptionsFromEnv()
	opts.Revision, opts.Logger, opts.Progress = revision, logger, progress
	return Resolve(ctx, spec, opts)
}

func (o Options) withDefaults() Options {
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.Revision == "" {
		o.Revision = "main"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	return o
}

func envTrue(name string) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
