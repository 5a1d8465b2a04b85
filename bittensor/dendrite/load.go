package dendrite

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// LoadConfig describes a load run: Concurrency callers, each a Dendrite with its own
// uuid (so nonces stay ordered per hotkey:uuid), sending Requests signed Prompting
// calls in total.
type LoadConfig struct {
	Target      Target
	Hotkey      *wallet.Keypair
	Style       Style
	Concurrency int
	Requests    int
	Message     string
	Timeout     time.Duration
	// Presign signs every request before the clock starts, so the run measures the
	// axon (verify, queue, forward) rather than the client's signing.
	Presign bool
}

// LoadReport summarises a run.
type LoadReport struct {
	Requests, OK int
	Failures     map[int]int // status code → count
	Elapsed      time.Duration
	PerSecond    float64 // successful (verified) requests per second
	P50, P99     time.Duration
	Max          time.Duration
	// CPUPerRequest is the process CPU time (user+system) per request during the run,
	// when the platform reports it: client and server together when both run in
	// this process. Unlike PerSecond it hardly depends on what else the machine runs.
	CPUPerRequest time.Duration
}

// String formats the report as one line of key=value pairs.
func (r LoadReport) String() string {
	return fmt.Sprintf("requests=%d ok=%d failures=%v elapsed=%s verified_req/s=%.0f p50=%s p99=%s max=%s cpu/req=%s",
		r.Requests, r.OK, r.Failures, r.Elapsed.Round(time.Millisecond), r.PerSecond,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.CPUPerRequest.Round(time.Microsecond))
}

type prepared struct {
	m       *synapse.Prompting
	body    []byte
	headers []synapse.Header
}

// Load runs cfg and reports throughput and latency percentiles.
func Load(ctx context.Context, cfg LoadConfig, progress io.Writer) (LoadReport, error) {
	if cfg.Concurrency <= 0 || cfg.Requests <= 0 || cfg.Hotkey == nil {
		return LoadReport{}, fmt.Errorf("load: need concurrency, requests and a hotkey")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 12 * time.Second
	}
	if cfg.Message == "" {
		cfg.Message = "hello"
	}
	workers := make([]*Dendrite, cfg.Concurrency)
	queues := make([][]prepared, cfg.Concurrency)
	for i := range workers {
		workers[i] = New(cfg.Hotkey, WithStyle(cfg.Style))
		defer workers[i].CloseIdleConnections()
	}
	share := func(i int) int { // requests of worker i
		n := cfg.Requests / cfg.Concurrency
		if i < cfg.Requests%cfg.Concurrency {
			n++
		}
		return n
	}
	if cfg.Presign {
		for i, d := range workers {
			for range share(i) {
				m := synapse.NewPrompting([]string{"user"}, []string{cfg.Message})
				body, hs, err := d.Prepare(cfg.Target, m, cfg.Timeout)
				if err != nil {
					return LoadReport{}, err
				}
				queues[i] = append(queues[i], prepared{m, body, hs})
			}
		}
		if progress != nil {
			fmt.Fprintf(progress, "presigned %d requests\n", cfg.Requests)
		}
	}
	lat := make([][]time.Duration, cfg.Concurrency)
	fails := make([]map[int]int, cfg.Concurrency)
	var okCount atomic.Int64
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for i, d := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fails[i] = map[int]int{}
			for k := range share(i) {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				var r *Result
				if cfg.Presign {
					p := queues[i][k]
					r = d.Send(ctx, cfg.Target, p.m, p.body, p.headers, nil)
				} else {
					r = d.Call(ctx, cfg.Target, synapse.NewPrompting([]string{"user"}, []string{cfg.Message}), cfg.Timeout)
				}
				lat[i] = append(lat[i], time.Since(t0))
				if r.OK() {
					okCount.Add(1)
				} else {
					fails[i][r.StatusCode]++
				}
			}
		}()
	}
	wg.Wait()
	rep := LoadReport{Elapsed: time.Since(start), OK: int(okCount.Load()), Failures: map[int]int{}}
	cpu := processCPU() - cpu0
	var all []time.Duration
	for i := range lat {
		all = append(all, lat[i]...)
		for c, n := range fails[i] {
			rep.Failures[c] += n
		}
	}
	rep.Requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		rep.P50 = all[len(all)/2]
		rep.P99 = all[min(len(all)-1, len(all)*99/100)]
		rep.Max = all[len(all)-1]
	}
	rep.PerSecond = float64(rep.OK) / rep.Elapsed.Seconds()
	if cpu0 > 0 && rep.Requests > 0 {
		rep.CPUPerRequest = cpu / time.Duration(rep.Requests)
	}
	return rep, nil
}

// processCPU returns this process's user+system CPU time (0 if unavailable).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
