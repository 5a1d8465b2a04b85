package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// hubRepoID matches a Hugging Face repository id ("org/name"), the other thing a
// --btlm.model value can be besides a local directory.
var hubRepoID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// resolveModelDir turns a --btlm.model value into a local model directory.
//
// HUB PLUG-IN POINT: this is the single place where a Hugging Face repository id is
// mapped to files on disk. Today an existing directory is used as is, and an "org/name"
// that is not a local directory is refused with a pointer to `btlm-miner download`;
// the hub package will replace that branch with a lookup in its local cache.
func resolveModelDir(spec string) (string, error) {
	if spec == "" {
		return "", errors.New("no model given: pass --btlm.model DIR (a directory with config.json, weights and tokenizer files)")
	}
	info, err := os.Stat(spec)
	switch {
	case err == nil && info.IsDir():
		return spec, nil
	case err == nil:
		return "", fmt.Errorf("model %s is a file, not a directory", spec)
	case errors.Is(err, os.ErrNotExist) && hubRepoID.MatchString(spec) && !strings.Contains(spec, ".."):
		return "", fmt.Errorf("model %s is not a local directory; Hugging Face repositories must be downloaded first with `btlm-miner download %s`", spec, spec)
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("model directory %s does not exist", spec)
	default:
		return "", fmt.Errorf("model directory %s: %w", spec, err)
	}
}
