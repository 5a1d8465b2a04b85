package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// openIndex opens a sharded checkpoint from its Hugging Face index file
// (model.safetensors.index.json or pytorch_model.bin.index.json): {"weight_map":
// {tensor name: shard file name}}. Shards must be plain file names in the index's
// directory, and every tensor the index names must be in the shard it names.
func openIndex(path string) (*Checkpoint, error) {
	c, err := openIndexShards(path)
	if err != nil {
		return nil, fmt.Errorf("open sharded checkpoint %s: %w", path, err)
	}
	return c, nil
}

func openIndexShards(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxIndexSize {
		return nil, fmt.Errorf("index of %d bytes exceeds the limit of %d", st.Size(), maxIndexSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index JSON: %w", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("index has no weight_map entries")
	}
	shardSet := map[string]bool{}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("tensor %q: shard name %q must be a plain file name", name, shard)
		}
		shardSet[shard] = true
	}
	shards := make([]string, 0, len(shardSet))
	for s := range shardSet {
		shards = append(shards, s)
	}
	sort.Strings(shards)

	safetensors := strings.HasSuffix(filepath.Base(path), ".safetensors.index.json")
	c := &Checkpoint{tensors: map[string]*tensorEntry{}}
	c.format = "pytorch"
	if safetensors {
		c.format = "safetensors"
	}
	dir := filepath.Dir(path)
	owner := map[string]string{}
	for _, shard := range shards {
		f, err := openDataFile(filepath.Join(dir, shard))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("shard %s: %w", shard, err)
		}
		c.files = append(c.files, f)
		if safetensors {
			err = c.addSafetensors(f)
		} else {
			err = c.addTorch(f)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("shard %s: %w", shard, err)
		}
		for n := range c.tensors { // add refuses a name an earlier shard holds
			if _, ok := owner[n]; !ok {
				owner[n] = shard
			}
		}
	}
	names := make([]string, 0, len(idx.WeightMap))
	for n := range idx.WeightMap {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if got, ok := owner[n]; !ok || got != idx.WeightMap[n] {
			c.Close()
			if !ok {
				return nil, fmt.Errorf("tensor %q listed in the index is missing from shard %s", n, idx.WeightMap[n])
			}
			return nil, fmt.Errorf("tensor %q is in shard %s, the index says %s", n, got, idx.WeightMap[n])
		}
	}
	return c, nil
}
