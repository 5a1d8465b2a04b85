package axon

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// BenchmarkVerifiedRequest measures the axon's full verified request path in process
// (ServeHTTP: header parse, sr25519 verify, nonce store, priority queue and worker
// hand-off, body read and hash, no-op forward, response JSON and signed headers) on
// requests signed before the timer starts.
func BenchmarkVerifiedRequest(b *testing.B) {
	a, err := New(Config{IP: "127.0.0.1"}, seedKey(b, axonSeed), WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	a.Attach(Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, func(context.Context, *synapse.Prompting) error { return nil }))
	if err := a.Listen(); err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	d := testDendrite(b, dendrite.StyleV10)
	tgt := targetAt(8091)
	type req struct {
		body []byte
		hs   []synapse.Header
	}
	reqs := make([]req, b.N)
	for i := range reqs {
		body, hs, err := d.Prepare(tgt, synapse.NewPrompting([]string{"user"}, []string{"What is the meaning of life?"}), 12*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = req{body, hs}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := httptest.NewRequest(http.MethodPost, "/Prompting", bytes.NewReader(reqs[i].body))
		for _, h := range reqs[i].hs {
			synapse.SetHeader(r.Header, h.Name, h.Value)
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkLoopbackLoad sends b.N signed requests from 16 concurrent Go dendrites
// over loopback HTTP to an axon with a no-op forward (the client signs inline; both
// share the machine) and reports verified requests/s and p50/p99 latency.
func BenchmarkLoopbackLoad(b *testing.B) {
	for _, presign := range []bool{false, true} {
		name := "sign-inline"
		if presign {
			name = "presigned"
		}
		b.Run(name, func(b *testing.B) {
			_, tgt := startAxon(b, Config{MaxWorkers: 10, QueueSize: 64})
			client := seedKey(b, otherSeed)
			b.ResetTimer()
			rep, err := dendrite.Load(context.Background(), dendrite.LoadConfig{Target: tgt, Hotkey: client, Concurrency: 16,
				Requests: b.N, Message: "What is the meaning of life?", Timeout: 30 * time.Second, Presign: presign}, nil)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if rep.OK != rep.Requests {
				b.Fatalf("failures: %v", rep.Failures)
			}
			b.ReportMetric(rep.PerSecond, "verified_req/s")
			b.ReportMetric(float64(rep.P50.Microseconds()), "p50_µs")
			b.ReportMetric(float64(rep.P99.Microseconds()), "p99_µs")
			b.ReportMetric(float64(rep.CPUPerRequest.Microseconds()), "cpu_µs/req")
		})
	}
}
