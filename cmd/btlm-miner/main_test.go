package main

import (
	"os"
	"testing"
)

// TestMain keeps the in-process CLI tests off the network: the Hugging Face cache is an
// empty temporary directory and HF_HUB_OFFLINE is set, so a repository id resolves
// from the cache only.
func TestMain(m *testing.M) {
	cache, err := os.MkdirTemp("", "btlm-hf-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("HF_HUB_CACHE", cache)
	os.Setenv("HF_HUB_OFFLINE", "1")
	code := m.Run()
	os.RemoveAll(cache)
	os.Exit(code)
}
