package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchSyntheticTiny runs the benchmark end to end on the tiny synthetic shape
// (no timing assertions: only that every figure is produced and consistent).
func TestBenchSyntheticTiny(t *testing.T) {
	code, stdout, stderr := runModelCLI(t, "bench", "--synthetic", "tiny", "--btlm.quant", "q8_0", "--btlm.threads", "2",
		"--prompt-tokens", "9", "--gen-tokens", "5", "--concurrency", "3", "--compare-fp32", "--membw-mib", "8", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out benchOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	if out.Quant != "q8_0" || out.Threads != 2 || out.PromptTokens != 9 || out.GenTokens != 5 || out.Concurrency != 3 {
		t.Errorf("settings not reported back: %+v", out)
	}
	for name, v := range map[string]float64{
		"prefill": out.PrefillTokPerS, "decode": out.DecodeTokPerS, "ttft": out.TTFTSeconds,
		"aggregate": out.AggregateDecodeTPS, "bandwidth": out.ReadGBPerS, "ceiling": out.DecodeCeiling, "speedup": out.AggregateSpeedup, "rss ratio": out.RSSRatio,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if out.WeightBytes <= 0 || out.KVCacheBytes <= 0 || out.PeakRSSBytes < out.WeightBytes {
		t.Errorf("memory figures: weights %d, kv %d, peak %d", out.WeightBytes, out.KVCacheBytes, out.PeakRSSBytes)
	}
	if out.CosineVsFP32 < 0.99 || out.CosineVsFP32 > 1+1e-9 {
		t.Errorf("cosine to fp32 %v", out.CosineVsFP32)
	}
	// 3 streams × (prompt in one step + 5 decode steps) can never take more than
	// 3 × 6 separate steps.
	if out.BatchSteps < 6 || out.BatchSteps > 18 {
		t.Errorf("%d batch steps", out.BatchSteps)
	}

	code, stdout, stderr = runModelCLI(t, "bench", "--synthetic", "tiny", "--gen-tokens", "2", "--prompt-tokens", "3")
	if code != 0 || !strings.Contains(stdout, "decode:") || !strings.Contains(stdout, "peak RSS") {
		t.Errorf("text output: exit %d, %q, %q", code, stdout, stderr)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "exactly one of"},
		{[]string{"bench", "--synthetic", "tiny", "--btlm.model", "x"}, "exactly one of"},
		{[]string{"bench", "--synthetic", "huge"}, "unknown --synthetic"},
		{[]string{"bench", "--synthetic", "tiny", "--btlm.quant", "q4"}, "unknown weight format"},
		{[]string{"bench", "--synthetic", "tiny", "--concurrency", "0"}, "--concurrency"},
		{[]string{"bench", "--synthetic", "tiny", "--gen-tokens", "0"}, "--gen-tokens"},
		{[]string{"bench", "--synthetic", "tiny", "--prompt-tokens", "1000", "--gen-tokens", "100"}, "n_positions"},
		{[]string{"bench", "--synthetic", "tiny", "extra"}, "unexpected argument"},
	} {
		code, _, stderr := runModelCLI(t, tc.args...)
		wantOneLineError(t, code, stderr, 2, tc.want)
	}
}
