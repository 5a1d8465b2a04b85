package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

// stream sends a StreamPrompting and returns the exact concatenated body; onChunk,
// when not nil, sees each chunk as it arrives.
func stream(ctx context.Context, d *dendrite.Dendrite, target dendrite.Target, roles, messages []string, onChunk func()) (string, *dendrite.Result) {
	var body strings.Builder
	res := d.CallStream(ctx, target, synapse.NewStreamPrompting(roles, messages), requestTimeout, func(chunk []byte) error {
		body.Write(chunk)
		if onChunk != nil {
			onChunk()
		}
		return nil
	})
	return body.String(), res
}

// sigtermDrain checks the shutdown of a one-worker axon with requests in flight. It
// sends concurrent requests (one dendrite each: the axon requires increasing nonces
// per dendrite, which concurrent requests of one dendrite cannot guarantee) and sends
// SIGTERM once the axon holds all of them (the miner's btlm_miner_queue_depth gauge
// plus the answers already received account for every request but the one running)
// with at least one still queued. Then the axon must stop accepting connections while
// it still answers, every request must get its full answer, some must be logged as
// answered after the miner logged its shutdown, and the process must exit 0.
func sigtermDrain(t *testing.T, ctx context.Context, p *minerProcess, metricsURL string, hotkey *wallet.Keypair,
	target dendrite.Target, roles, messages []string, want expectation) {
	const streams, unaries = 4, 4
	const total = streams + unaries
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int // requests that got any answer
		failures []string
	)
	record := func(kind string, res *dendrite.Result, got, want string) {
		mu.Lock()
		defer mu.Unlock()
		done++
		switch {
		case !res.OK():
			failures = append(failures, fmt.Sprintf("%s: status %d %q (%v)", kind, res.StatusCode, res.StatusMessage, res.Err))
		case got != want:
			failures = append(failures, fmt.Sprintf("%s: got %q, want %q", kind, got, want))
		}
	}
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dendrite.New(hotkey)
			defer d.CloseIdleConnections()
			// Fresh slices per request: a dendrite decodes the answer into the synapse,
			// reusing its slices' backing arrays.
			roles, messages := slices.Clone(roles), slices.Clone(messages)
			if i < streams {
				body, res := stream(ctx, d, target, roles, messages, nil)
				record("StreamPrompting", res, body, want.stream)
				return
			}
			msg := synapse.NewPrompting(roles, messages)
			res := d.Call(ctx, target, msg, requestTimeout)
			record("Prompting", res, msg.Completion, want.unary)
		}()
	}

	// Wait until the axon holds every request, at least one of them queued.
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(requestTimeout); ; time.Sleep(2 * time.Millisecond) {
		queued, err := scrapeGauge(client, metricsURL, "btlm_miner_queue_depth")
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := done
		mu.Unlock()
		if queued >= 1 && int(queued)+n >= total-1 {
			break
		}
		if n == total || time.Now().After(deadline) {
			t.Fatalf("never saw the requests queued (queue depth %v, %d of %d answered)", queued, n, total)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	refusedWhileDraining := false
	addr := net.JoinHostPort(target.IP, fmt.Sprint(target.Port))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			continue
		}
		select {
		case <-drained:
		default:
			refusedWhileDraining = true
		}
		break
	}
	<-drained
	for _, f := range failures {
		t.Error(f)
	}
	if len(failures) > 0 {
		t.FailNow()
	}
	if !refusedWhileDraining {
		t.Error("the axon still accepted connections while draining (or drained before it stopped accepting)")
	}
	if code := p.wait(t, shutdownTimeout+15*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	// Proof that requests were in flight: answers logged after the shutdown line
	// (the miner's JSON log lines "shutting down: ..." and "request" with a status).
	after, shutdown := 0, false
	for _, line := range strings.Split(p.out.String(), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch {
		case strings.HasPrefix(rec.Msg, "shutting down"):
			shutdown = true
		case shutdown && rec.Msg == "request" && rec.Status == http.StatusOK:
			after++
		}
	}
	if !shutdown || after == 0 {
		t.Fatalf("no request answered after the shutdown started (shutdown logged %v, answers after it %d)", shutdown, after)
	}
	t.Logf("%d of %d requests answered after the shutdown began", after, total)
}

// scrapeGauge reads one unlabelled gauge from a Prometheus text endpoint.
func scrapeGauge(client *http.Client, url, name string) (float64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no gauge %s", url, name)
}
