package axon

import (
	"strconv"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestConfigFlags(t *testing.T) {
	t.Setenv("BT_AXON_PORT", "9000")
	t.Setenv("BT_AXON_MAX_WORKERS", "3")
	c := DefaultConfig()
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	c.AddFlags(fs)
	if err := fs.Parse([]string{"--axon.ip", "[::1]", "--axon.external_ip", "203.0.113.5", "--axon.external_port", "443", "--axon.max_timeout", "30s"}); err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.MaxWorkers != 3 || c.ExternalIP != "203.0.113.5" || c.ExternalPort != 443 || c.MaxTimeout != 30*time.Second {
		t.Errorf("flags/env not applied: %+v", c)
	}
	if got := c.ListenAddr(); got != "[::1]:9000" {
		t.Errorf("ListenAddr %q", got)
	}
	for _, ip := range []string{"", "[::]", "0.0.0.0"} {
		if got := (Config{IP: ip, Port: 8091}).ListenAddr(); got != ":8091" {
			t.Errorf("ListenAddr(%q) = %q", ip, got)
		}
	}
	if err := (Config{Port: 70000}).Validate(); err == nil {
		t.Error("port 70000 accepted")
	}
	if err := (Config{ExternalIP: "example.com"}).Validate(); err == nil {
		t.Error("non-IP external ip accepted")
	}
	if d := (Config{MaxWorkers: 2}).withDefaults(); d.QueueSize != 16 || d.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults %+v", d)
	}
}

func TestMemoryNonceStore(t *testing.T) {
	s := NewMemoryNonceStore(nonceShards * 4)
	if _, seen := s.Last("a"); seen {
		t.Fatal("empty store has a")
	}
	if !s.Advance("a", 5) || s.Advance("a", 5) || s.Advance("a", 4) || !s.Advance("a", 6) {
		t.Fatal("strictly increasing rule broken")
	}
	if n, seen := s.Last("a"); !seen || n != 6 {
		t.Fatalf("Last = %d %v", n, seen)
	}
	for i := range 10000 {
		s.Advance("k"+strconv.Itoa(i), 1)
	}
	if n := s.Len(); n > nonceShards*4 {
		t.Fatalf("store grew to %d keys, bound %d", n, nonceShards*4)
	}
}

func TestObserverAndExternalAddr(t *testing.T) {
	events := make(chan Event, 8)
	a, tgt := startAxon(t, Config{ExternalIP: "203.0.113.9"}, WithObserver(func(e Event) { events <- e }))
	if ip, port := a.ExternalAddr(); ip != "203.0.113.9" || port != tgt.Port {
		t.Errorf("ExternalAddr = %s:%d, want 203.0.113.9:%d", ip, port, tgt.Port)
	}
	d := testDendrite(t, 0)
	defer d.CloseIdleConnections()
	body, hs := prepared(t, d, tgt, time.Second, "hi")
	send(t, tgt, "/Prompting", hs, body)
	send(t, tgt, "/Prompting", hs, body) // replay
	for i, want := range []int{200, 401} {
		e := <-events
		if e.Status != want || e.Synapse != "Prompting" || e.Hotkey == "" {
			t.Errorf("event %d: %+v, want status %d", i, e, want)
		}
		if want == 200 && !e.Verified {
			t.Errorf("successful request not marked verified: %+v", e)
		}
	}
}
