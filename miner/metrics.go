package miner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is reported by btlm_miner_build_info.
var Version = "dev"

// metrics holds the miner's Prometheus collectors, on a private registry (names
// follow prometheus.io naming practice; no hotkey labels, to bound cardinality).
type metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec   // {synapse, status}
	blacklisted *prometheus.CounterVec   // {reason}
	duration    *prometheus.HistogramVec // {synapse}
	tokens      prometheus.Counter
	tokensRate  prometheus.Histogram
	firstToken  prometheus.Histogram
	block       prometheus.Gauge
	graphBlock  prometheus.Gauge
	graphSynced prometheus.Gauge
	registered  prometheus.Gauge
	neuron      *prometheus.GaugeVec // {field}

	served, refused atomic.Int64 // for the status line: 200s, and every other answer
	blacklistedN    atomic.Int64 // refusals by the blacklist or the prompt cache
	lastSync        atomic.Int64 // unix nanos of the last metagraph sync
}

func newMetrics(queueDepth func() float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "btlm_miner_requests_total",
		Help: "Answered requests by synapse and HTTP status."}, []string{"synapse", "status"})
	m.blacklisted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "btlm_miner_rejected_total",
		Help: "Requests refused by the miner's blacklist, by reason."}, []string{"reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "btlm_miner_request_duration_seconds",
		Help: "Time from request to answer.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}, []string{"synapse"})
	m.tokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "btlm_miner_generated_tokens_total",
		Help: "Tokens generated."})
	m.tokensRate = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "btlm_miner_generation_tokens_per_second",
		Help:    "Decode speed per request (tokens after the first / time after the first).",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12)})
	m.firstToken = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "btlm_miner_time_to_first_token_seconds",
		Help:    "Time from the start of generation to the first token (prompt prefill).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.block = prometheus.NewGauge(prometheus.GaugeOpts{Name: "btlm_miner_chain_block", Help: "Latest chain block seen."})
	m.graphBlock = prometheus.NewGauge(prometheus.GaugeOpts{Name: "btlm_miner_metagraph_block", Help: "Block of the metagraph snapshot in use."})
	m.graphSynced = prometheus.NewGauge(prometheus.GaugeOpts{Name: "btlm_miner_metagraph_last_sync_timestamp_seconds",
		Help: "Unix time of the last successful metagraph sync."})
	m.registered = prometheus.NewGauge(prometheus.GaugeOpts{Name: "btlm_miner_registered",
		Help: "1 while the miner's hotkey is registered in the metagraph."})
	m.neuron = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "btlm_miner_neuron",
		Help: "The miner's own neuron: stake and emission in TAO, rank/trust/consensus/incentive as fractions."}, []string{"field"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "btlm_miner_build_info", Help: "Build information."},
		[]string{"version", "goversion"})
	build.WithLabelValues(Version, runtime.Version()).Set(1)
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "btlm_miner_metagraph_age_seconds",
		Help: "Seconds since the last successful metagraph sync."}, func() float64 {
		t := m.lastSync.Load()
		if t == 0 {
			return -1
		}
		return time.Since(time.Unix(0, t)).Seconds()
	})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "btlm_miner_queue_depth",
		Help: "Requests admitted and waiting for a worker."}, queueDepth)
	m.reg.MustRegister(m.requests, m.blacklisted, m.duration, m.tokens, m.tokensRate, m.firstToken, m.block,
		m.graphBlock, m.graphSynced, m.registered, m.neuron, build, age, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeRequest counts one answered request.
func (m *metrics) observeRequest(synapseName string, status int, d time.Duration) {
	m.requests.WithLabelValues(synapseName, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(synapseName).Observe(d.Seconds())
	if status == http.StatusOK {
		m.served.Add(1)
	} else {
		m.refused.Add(1)
	}
}

// reject counts a blacklist or prompt-cache refusal.
func (m *metrics) reject(label string) {
	m.blacklisted.WithLabelValues(label).Inc()
	m.blacklistedN.Add(1)
}

func (m *metrics) observeGeneration(c Completion) {
	m.tokens.Add(float64(c.Tokens))
	if c.Tokens > 0 {
		m.firstToken.Observe(c.FirstToken.Seconds())
	}
	if c.Tokens > 1 && c.Duration > c.FirstToken {
		m.tokensRate.Observe(float64(c.Tokens-1) / (c.Duration - c.FirstToken).Seconds())
	}
}

// statusServer serves /metrics and /healthz.
type statusServer struct {
	srv *http.Server
	ln  net.Listener
}

// startStatusServer listens on ip:port and serves /metrics and /healthz (ready
// reports readiness: 200 "ok" or 503 with the reason).
func startStatusServer(ip string, port int, m *metrics, ready func() error, log *slog.Logger) (*statusServer, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	addr := net.JoinHostPort(trimBrackets(ip), strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	s := &statusServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "err", err)
		}
	}()
	return s, nil
}

func (s *statusServer) Addr() net.Addr { return s.ln.Addr() }

func (s *statusServer) Close(ctx context.Context) {
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
}

func trimBrackets(ip string) string {
	if len(ip) > 1 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		return ip[1 : len(ip)-1]
	}
	return ip
}
