package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/btlm"
	"github.com/btlm-miner/btlm-miner/kernels"
)

func init() {
	register(command{name: "bench", summary: "measure prefill, decode and concurrent throughput, time to first token and peak memory", run: runBench})
}

// benchOutput is the --json result of `btlm-miner bench`.
type benchOutput struct {
	Model          string  `json:"model"` // "synthetic btlm-3b", "synthetic tiny" or the directory
	Quant          string  `json:"quant"`
	Threads        int     `json:"threads"`
	KernelLevel    string  `json:"kernel_level"`
	WeightBytes    int64   `json:"weight_bytes"`
	LoadSeconds    float64 `json:"load_seconds"`
	PromptTokens   int     `json:"prompt_tokens"`
	GenTokens      int     `json:"gen_tokens"`
	TTFTSeconds    float64 `json:"ttft_seconds"` // prefill of the prompt + the first greedy choice
	PrefillTokPerS float64 `json:"prefill_tokens_per_second"`
	DecodeTokPerS  float64 `json:"decode_tokens_per_second"` // one stream, after the first token

	Concurrency           int     `json:"concurrency"`
	ConcurrentTTFTSeconds float64 `json:"concurrent_ttft_seconds,omitempty"` // mean over streams
	ConcurrentPrefillTPS  float64 `json:"concurrent_prefill_tokens_per_second,omitempty"`
	AggregateDecodeTPS    float64 `json:"aggregate_decode_tokens_per_second,omitempty"`
	AggregateSpeedup      float64 `json:"aggregate_speedup,omitempty"` // aggregate decode / one stream's decode
	BatchSteps            int64   `json:"batch_steps,omitempty"`

	KVCacheBytes int64   `json:"kv_cache_bytes"` // largest total held at once
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // VmHWM
	RSSRatio     float64 `json:"rss_ratio"`      // peak RSS / (weights + KV cache)

	// Memory read bandwidth measured right after the runs (--membw-mib), and the decode
	// ceiling it implies: every weight byte read once per token.
	ReadGBPerS      float64 `json:"read_gb_per_second,omitempty"`
	DecodeCeiling   float64 `json:"decode_ceiling_tokens_per_second,omitempty"`
	DecodeOfCeiling float64 `json:"decode_fraction_of_ceiling,omitempty"`

	// With --compare-fp32: cosine similarity of the logits to fp32's, worst over the
	// prompt's last position and the teacher-forced decode steps.
	CosineVsFP32 float64 `json:"cosine_vs_fp32,omitempty"`
}

// runBench implements `btlm-miner bench`: it builds (--synthetic) or loads (--btlm.model)
// a model and measures one stream's prefill and decode speed, then C concurrent streams
// through a btlm.Batcher, and reports peak memory.
func runBench(args []string, stdout, stderr io.Writer) (code int) {
	const name = "bench"
	defer recoverCommandPanic(name, stderr, &code)
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	synthetic := fs.String("synthetic", "", "random weights of a model shape built in memory: btlm-3b or tiny")
	model := fs.String("btlm.model", "", "measure a real checkpoint (directory or Hugging Face repository id) instead")
	revision := fs.String("btlm.revision", "main", "model revision when --btlm.model is a repository id")
	quant := fs.String("btlm.quant", "none", "weight format: none (fp32), bf16 or q8_0")
	threads := fs.Int("btlm.threads", 0, "compute threads (0: all cores)")
	promptTokens := fs.Int("prompt-tokens", 128, "prompt length")
	genTokens := fs.Int("gen-tokens", 64, "tokens to generate per stream")
	concurrency := fs.Int("concurrency", 1, "also run this many streams at once through the batcher (1: single stream only)")
	seed := fs.Uint64("seed", 1, "seed of the synthetic weights and prompts")
	compare := fs.Bool("compare-fp32", false, "first run fp32 weights to record reference logits, then report the chosen format's cosine similarity to them")
	membw := fs.Int("membw-mib", 512, "after the runs, measure memory read bandwidth over a buffer of this many MiB (0: skip; keep it above the L3 size)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if done, code := parseCommandFlags(fs, args, stdout, stderr, name, "(--synthetic btlm-3b|tiny | --btlm.model DIR) [flags]"); done {
		return code
	}
	switch {
	case fs.NArg() != 0:
		return usageError(stderr, name, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case (*synthetic == "") == (*model == ""):
		return usageError(stderr, name, "give exactly one of --synthetic btlm-3b|tiny and --btlm.model DIR")
	case *threads < 0:
		return usageError(stderr, name, fmt.Sprintf("--btlm.threads must be >= 0, got %d", *threads))
	case *promptTokens < 1 || *genTokens < 1:
		return usageError(stderr, name, "--prompt-tokens and --gen-tokens must be >= 1")
	case *membw < 0 || *membw > 1<<16:
		return usageError(stderr, name, fmt.Sprintf("--membw-mib must be in 0..65536, got %d", *membw))
	case *concurrency < 1 || *concurrency > 256:
		return usageError(stderr, name, fmt.Sprintf("--concurrency must be in 1..256, got %d", *concurrency))
	}
	if _, err := kernels.ParseFormat(*quant); err != nil {
		return usageError(stderr, name, err.Error())
	}

	var load func(quant string) (*btlm.Model, error)
	out := benchOutput{Quant: *quant, PromptTokens: *promptTokens, GenTokens: *genTokens, Concurrency: *concurrency}
	if *synthetic != "" {
		var cfg btlm.Config
		switch *synthetic {
		case "btlm-3b":
			cfg = btlm.BTLM3BConfig()
		case "tiny":
			cfg = tinyBenchConfig()
		default:
			return usageError(stderr, name, fmt.Sprintf("unknown --synthetic shape %q (want btlm-3b or tiny)", *synthetic))
		}
		out.Model = "synthetic " + *synthetic
		load = func(q string) (*btlm.Model, error) {
			return btlm.FromTensors(cfg, btlm.SyntheticTensors(cfg, *seed), btlm.Options{Threads: *threads, Quant: q})
		}
	} else {
		dir, err := resolveModelDir(context.Background(), *model, *revision, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return printCommandError(stderr, name, err)
		}
		out.Model = dir
		load = func(q string) (*btlm.Model, error) { return btlm.Load(dir, btlm.Options{Threads: *threads, Quant: q}) }
	}

	var ref [][]float32
	if *compare {
		m, err := load("none")
		if err != nil {
			return printCommandError(stderr, name, fmt.Errorf("load fp32 model: %w", err))
		}
		if err := checkLengths(m, *promptTokens, *genTokens); err != nil {
			return usageError(stderr, name, err.Error())
		}
		if ref, err = teacherForcedLogits(m, benchPrompt(*seed, 0, *promptTokens, m.Config().VocabSize), *genTokens, nil); err != nil {
			return printCommandError(stderr, name, err)
		}
		m.Close()
		debug.FreeOSMemory()
		resetPeakRSS()
	}

	start := time.Now()
	m, err := load(*quant)
	if err != nil {
		return printCommandError(stderr, name, fmt.Errorf("load model: %w", err))
	}
	defer m.Close()
	out.LoadSeconds = time.Since(start).Seconds()
	if err := checkLengths(m, *promptTokens, *genTokens); err != nil {
		return usageError(stderr, name, err.Error())
	}
	out.Threads, out.KernelLevel, out.WeightBytes = m.Threads(), kernels.ActiveLevel().String(), m.WeightBytes()
	vocab := m.Config().VocabSize

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return printCommandError(stderr, name, fmt.Errorf("cpu profile: %w", err))
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return printCommandError(stderr, name, fmt.Errorf("cpu profile: %w", err))
		}
		defer pprof.StopCPUProfile()
	}

	// One stream.
	ctx := context.Background()
	seq := m.NewSequence()
	seq.Reserve(*promptTokens + *genTokens + 1) // as a server that knows max_new_tokens does
	prompt := benchPrompt(*seed, 0, *promptTokens, vocab)
	t0 := time.Now()
	logits, err := seq.Forward(ctx, prompt)
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	next := argmax(logits)
	ttft := time.Since(t0)
	out.TTFTSeconds = ttft.Seconds()
	out.PrefillTokPerS = float64(*promptTokens) / ttft.Seconds()
	t1 := time.Now()
	for i := 0; i < *genTokens; i++ {
		if logits, err = seq.Forward(ctx, []int{next}); err != nil {
			return printCommandError(stderr, name, err)
		}
		next = argmax(logits)
	}
	out.DecodeTokPerS = float64(*genTokens) / time.Since(t1).Seconds()
	out.KVCacheBytes = seq.CacheBytes()

	if ref != nil {
		got, err := teacherForcedLogits(m, prompt, *genTokens, ref)
		if err != nil {
			return printCommandError(stderr, name, err)
		}
		out.CosineVsFP32 = 1
		for i := range ref {
			out.CosineVsFP32 = math.Min(out.CosineVsFP32, cosine(got[i], ref[i]))
		}
	}
	seq = nil

	if *concurrency > 1 {
		kv, err := runConcurrent(m, &out, *seed, *concurrency)
		if err != nil {
			return printCommandError(stderr, name, err)
		}
		out.KVCacheBytes = max(out.KVCacheBytes, kv)
	}

	out.PeakRSSBytes = peakRSS()
	if d := out.WeightBytes + out.KVCacheBytes; d > 0 && out.PeakRSSBytes > 0 {
		out.RSSRatio = float64(out.PeakRSSBytes) / float64(d)
	}
	if *membw > 0 {
		out.ReadGBPerS = readBandwidth(*membw<<20, m.Threads())
		out.DecodeCeiling = out.ReadGBPerS * 1e9 / float64(out.WeightBytes)
		out.DecodeOfCeiling = out.DecodeTokPerS / out.DecodeCeiling
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, out)
	}
	printBench(stdout, &out)
	return 0
}

// tinyBenchConfig is the shape of the tiny test model (fast smoke tests).
func tinyBenchConfig() btlm.Config {
	c := btlm.BTLM3BConfig()
	c.NEmbd, c.NLayer, c.NHead, c.NInner, c.NPositions = 64, 2, 4, 171, 1024
	return c
}

func checkLengths(m *btlm.Model, prompt, gen int) error {
	if n := m.Config().NPositions; prompt+gen > n {
		return fmt.Errorf("--prompt-tokens + --gen-tokens = %d exceed the model's n_positions %d", prompt+gen, n)
	}
	return nil
}

// runConcurrent runs c streams through one Batcher: all prefill at once (each its own
// prompt), then, after all have their first token, all decode together. It fills the
// concurrent fields of out and returns the KV cache bytes held.
func runConcurrent(m *btlm.Model, out *benchOutput, seed uint64, c int) (int64, error) {
	b := btlm.NewBatcher(m, c)
	defer b.Close()
	vocab := m.Config().VocabSize
	var prefilled, startDecode sync.WaitGroup
	prefilled.Add(c)
	startDecode.Add(1)
	ttft := make([]time.Duration, c)
	errs := make([]error, c)
	seqs := make([]*btlm.BatchSequence, c)
	var done sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < c; i++ {
		seqs[i] = b.NewSequence()
		seqs[i].Reserve(out.PromptTokens + out.GenTokens + 1)
		done.Add(1)
		go func() {
			defer done.Done()
			ctx := context.Background()
			logits, err := seqs[i].Forward(ctx, benchPrompt(seed, i+1, out.PromptTokens, vocab))
			ttft[i] = time.Since(t0)
			prefilled.Done()
			startDecode.Wait()
			if err != nil {
				errs[i] = err
				return
			}
			next := argmax(logits)
			for k := 0; k < out.GenTokens; k++ {
				if logits, err = seqs[i].Forward(ctx, []int{next}); err != nil {
					errs[i] = err
					return
				}
				next = argmax(logits)
			}
		}()
	}
	prefilled.Wait()
	prefill := time.Since(t0)
	t1 := time.Now()
	startDecode.Done()
	done.Wait()
	decode := time.Since(t1)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	var sum time.Duration
	var kv int64
	for i := range ttft {
		sum += ttft[i]
		kv += seqs[i].CacheBytes()
	}
	out.ConcurrentTTFTSeconds = sum.Seconds() / float64(c)
	out.ConcurrentPrefillTPS = float64(c*out.PromptTokens) / prefill.Seconds()
	out.AggregateDecodeTPS = float64(c*out.GenTokens) / decode.Seconds()
	out.AggregateSpeedup = out.AggregateDecodeTPS / out.DecodeTokPerS
	out.BatchSteps = b.Steps()
	return kv, nil
}

// teacherForcedLogits runs prompt and then gen steps, feeding the greedy choice of ref
// (or its own when ref is nil), and returns a copy of the logits of every step.
func teacherForcedLogits(m *btlm.Model, prompt []int, gen int, ref [][]float32) ([][]float32, error) {
	seq := m.NewSequence()
	var all [][]float32
	logits, err := seq.Forward(context.Background(), prompt)
	for step := 0; err == nil; step++ {
		all = append(all, append([]float32(nil), logits...))
		if step == gen {
			break
		}
		src := logits
		if ref != nil {
			src = ref[step]
		}
		logits, err = seq.Forward(context.Background(), []int{argmax(src)})
	}
	return all, err
}

// benchPrompt returns n pseudo-random token ids for stream i.
func benchPrompt(seed uint64, stream, n, vocab int) []int {
	s := seed*0x9e3779b97f4a7c15 + uint64(stream)*0xbf58476d1ce4e5b9 + 1
	ids := make([]int, n)
	for k := range ids {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		ids[k] = int(s % uint64(vocab))
	}
	return ids
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// peakRSS reads VmHWM from /proc/self/status (0 where unavailable).
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// readBandwidth measures memory read bandwidth in GB/s: threads goroutines stream
// disjoint parts of a float32 buffer of size bytes through kernels.Dot (the SIMD dot
// product, as the weight kernels read memory); best of 5 passes.
func readBandwidth(size, threads int) float64 {
	buf := make([]float32, size/4)
	for i := range buf {
		buf[i] = 1
	}
	best := 0.0
	sink := make([]float32, threads)
	for pass := 0; pass < 5; pass++ {
		var wg sync.WaitGroup
		start := time.Now()
		for t := 0; t < threads; t++ {
			part := buf[t*len(buf)/threads : (t+1)*len(buf)/threads]
			wg.Add(1)
			go func() {
				defer wg.Done()
				sink[t] = kernels.Dot(part, part)
			}()
		}
		wg.Wait()
		best = max(best, float64(len(buf)*4)/time.Since(start).Seconds()/1e9)
	}
	return best
}

// resetPeakRSS resets VmHWM to the current RSS (Linux: clear_refs 5), best effort.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func printBench(w io.Writer, o *benchOutput) {
	gb := func(n int64) string { return fmt.Sprintf("%.2f GB", float64(n)/1e9) }
	fmt.Fprintf(w, "model:    %s, weights %s (%s), %d threads, kernels %s, loaded in %.1f s\n",
		o.Model, o.Quant, gb(o.WeightBytes), o.Threads, o.KernelLevel, o.LoadSeconds)
	fmt.Fprintf(w, "prefill:  %d tokens at %.2f tok/s (time to first token %.2f s)\n", o.PromptTokens, o.PrefillTokPerS, o.TTFTSeconds)
	fmt.Fprintf(w, "decode:   %d tokens at %.2f tok/s (one stream)\n", o.GenTokens, o.DecodeTokPerS)
	if o.Concurrency > 1 {
		fmt.Fprintf(w, "batched:  %d streams: prefill %.2f tok/s, mean time to first token %.2f s, aggregate decode %.2f tok/s = %.2fx one stream (%d steps)\n",
			o.Concurrency, o.ConcurrentPrefillTPS, o.ConcurrentTTFTSeconds, o.AggregateDecodeTPS, o.AggregateSpeedup, o.BatchSteps)
	}
	if o.CosineVsFP32 != 0 {
		fmt.Fprintf(w, "accuracy: logits cosine to fp32 >= %.6f (prompt and %d teacher-forced steps)\n", o.CosineVsFP32, o.GenTokens)
	}
	if o.ReadGBPerS > 0 {
		fmt.Fprintf(w, "ceiling:  memory read %.1f GB/s (now, %d threads) -> %.2f tok/s if decode only read the weights; decode reached %.0f%% of it\n",
			o.ReadGBPerS, o.Threads, o.DecodeCeiling, 100*o.DecodeOfCeiling)
	}
	fmt.Fprintf(w, "memory:   peak RSS %s = %.3fx (weights %s + KV cache %s)\n", gb(o.PeakRSSBytes), o.RSSRatio, gb(o.WeightBytes), gb(o.KVCacheBytes))
}
