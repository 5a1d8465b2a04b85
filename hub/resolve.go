package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Resolve turns a --btlm.model value into a local model directory. An existing
// directory is returned as is. A repository id ("org/name") is resolved to its
// snapshot directory in the cache, downloading what is missing: config.json, the
// tokenizer files, and the weights (sharded or single safetensors, else sharded or
// single pytorch_model.bin). With opts.Offline, or when the Hub cannot be reached, the
// cache alone must answer (as huggingface_hub falls back to its cache).
func Resolve(ctx context.Context, spec string, opts Options) (string, error) {
	if st, err := os.Stat(spec); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("model %s is a file, not a directory", spec)
		}
		return spec, nil
	}
	if !IsRepoID(spec) {
		return "", fmt.Errorf("model directory %s does not exist (and it is not a Hugging Face repository id org/name)", spec)
	}
	opts = opts.withDefaults()
	if err := checkRevision(opts.Revision); err != nil {
		return "", err
	}
	c := &client{opts: opts, repoID: spec, cache: newRepoCache(opts.CacheDir, spec)}
	if opts.Offline {
		dir, err := c.resolveCached()
		if err != nil {
			return "", fmt.Errorf("model %s (revision %s) is not complete in the cache %s and HF_HUB_OFFLINE is set: %w", spec, opts.Revision, opts.CacheDir, err)
		}
		return dir, nil
	}
	dir, err := c.resolveOnline(ctx)
	if errors.Is(err, errHubUnreachable) {
		if cached, cerr := c.resolveCached(); cerr == nil {
			opts.Logger.Warn("hub unreachable, using the cached snapshot", "model", spec, "dir", cached, "err", err)
			return cached, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", spec, err)
	}
	return dir, nil
}

// fetchFunc makes one repository file available in a snapshot; ok is false when the
// repository does not have it.
type fetchFunc func(file string) (ok bool, err error)

func (c *client) resolveOnline(ctx context.Context) (string, error) {
	meta, err := c.head(ctx, c.opts.Revision, "config.json")
	if err != nil {
		return "", err
	}
	commit := meta.commit
	if err := c.cache.writeRef(c.opts.Revision, commit); err != nil {
		return "", fmt.Errorf("write ref: %w", err)
	}
	fetch := func(file string) (bool, error) {
		if err := checkRepoFile(file); err != nil {
			return false, err
		}
		if hit, absent := c.cache.cached(commit, file); hit || absent {
			return hit, nil // a commit's files never change
		}
		m, err := c.head(ctx, commit, file)
		if errors.Is(err, ErrNotFound) {
			return false, c.cache.markAbsent(commit, file)
		}
		if err != nil {
			return false, err
		}
		if err := c.fetchBlob(ctx, file, m); err != nil {
			return false, err
		}
		return true, c.cache.link(commit, file, m.etag)
	}
	if err := c.collect(fetch, commit); err != nil {
		return "", err
	}
	return c.cache.snapshotDir(commit), nil
}

func (c *client) resolveCached() (string, error) {
	commit, err := c.cache.commitFor(c.opts.Revision)
	if err != nil {
		return "", err
	}
	fetch := func(file string) (bool, error) {
		if err := checkRepoFile(file); err != nil {
			return false, err
		}
		hit, absent := c.cache.cached(commit, file)
		if !hit && !absent {
			return false, fmt.Errorf("%s is not cached", file)
		}
		return hit, nil
	}
	if err := c.collect(fetch, commit); err != nil {
		return "", err
	}
	return c.cache.snapshotDir(commit), nil
}

// collect fetches the files a BTLM model directory needs, in preference order.
func (c *client) collect(fetch fetchFunc, commit string) error {
	if ok, err := fetch("config.json"); err != nil || !ok {
		return errors.Join(err, errors.New("the repository has no config.json"))
	}
	have := map[string]bool{}
	for _, f := range []string{"tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"} {
		ok, err := fetch(f)
		if err != nil {
			return err
		}
		have[f] = ok
	}
	if !have["tokenizer.json"] && !(have["vocab.json"] && have["merges.txt"]) {
		return errors.New("the repository has neither tokenizer.json nor vocab.json + merges.txt")
	}
	for _, w := range []struct{ index, single string }{
		{"model.safetensors.index.json", "model.safetensors"},
		{"pytorch_model.bin.index.json", "pytorch_model.bin"},
	} {
		ok, err := fetch(w.index)
		if err != nil {
			return err
		}
		if ok {
			shards, err := shardFiles(c.cache.snapshotPath(commit, w.index))
			if err != nil {
				return err
			}
			for _, s := range shards {
				if ok, err := fetch(s); err != nil || !ok {
					return errors.Join(err, fmt.Errorf("shard %s named by %s is missing", s, w.index))
				}
			}
			return nil
		}
		if ok, err := fetch(w.single); err != nil || ok {
			return err
		}
	}
	return errors.New("the repository has no weights (model.safetensors or pytorch_model.bin, single or sharded)")
}

// shardFiles lists the distinct shard files of a *.index.json weight map.
func shardFiles(indexPath string) ([]string, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	files, err := parseShardIndex(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(indexPath), err)
	}
	return files, nil
}

// parseShardIndex returns the sorted distinct file names of a weight-map index.
func parseShardIndex(b []byte) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var files []string
	for _, f := range idx.WeightMap {
		if err := checkRepoFile(f); err != nil {
			return nil, err
		}
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, errors.New("empty weight_map")
	}
	sort.Strings(files)
	return files, nil
}
