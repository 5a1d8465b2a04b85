package dendrite

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

const (
	testMnemonic = "old leopard transfer rib spatial phone calm indicate online fire caution review"
	axonSS58     = "5Fbao5svHqLUXapsBpsjLtGQ4FW2xy3AavUkdyJAkWEwuqKn"
)

func testKey(t *testing.T) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.KeypairFromMnemonic(testMnemonic)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// TestPrepareMatchesRecordedPythonRequests: for each recorded Python request, the Go
// dendrite of the same style sends the same header names and body keys, and its
// signature verifies over the §4.1 message.
func TestPrepareMatchesRecordedPythonRequests(t *testing.T) {
	raw, err := os.ReadFile(testenv.Shared(t, "testdata/axon-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Requests []struct {
			ID      string          `json:"id"`
			Headers [][2]string     `json:"headers"`
			Body    json.RawMessage `json:"body"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || len(v.Requests) != 2 {
		t.Fatalf("vectors: %v", err)
	}
	for _, rq := range v.Requests {
		style := StyleV10
		if strings.HasPrefix(rq.ID, "v6") {
			style = StyleV610
		}
		d := New(testKey(t), WithStyle(style), WithExternalIP("203.0.113.7"))
		tgt := Target{IP: "198.51.100.9", Port: 8091, Hotkey: axonSS58}
		body, hs, err := d.Prepare(tgt, synapse.NewPrompting([]string{"user"}, []string{"hi"}), 12*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var want, got map[string]json.RawMessage
		json.Unmarshal(rq.Body, &want)
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sortedKeys(want), sortedKeys(got)) {
			t.Errorf("%s: body keys %v, Python sends %v", rq.ID, sortedKeys(got), sortedKeys(want))
		}
		for _, k := range []string{"name", "timeout", "computed_body_hash", "roles", "messages", "completion", "header_size"} {
			if k != "header_size" && compact(got[k]) != compact(want[k]) {
				t.Errorf("%s: body %s = %s, Python %s", rq.ID, k, got[k], want[k])
			}
		}
		gotH := map[string]string{}
		for _, h := range hs {
			gotH[h.Name] = h.Value
		}
		for _, kv := range rq.Headers {
			val, ok := gotH[kv[0]]
			if !ok {
				t.Errorf("%s: header %s not sent", rq.ID, kv[0])
				continue
			}
			switch kv[0] {
			case "bt_header_dendrite_nonce", "bt_header_dendrite_uuid", "bt_header_dendrite_signature", "header_size", "total_size":
			default:
				if val != kv[1] {
					t.Errorf("%s: header %s = %q, Python %q", rq.ID, kv[0], val, kv[1])
				}
			}
		}
		if len(gotH) != len(rq.Headers) {
			t.Errorf("%s: %d headers, Python sends %d", rq.ID, len(gotH), len(rq.Headers))
		}
		msg := gotH["bt_header_dendrite_nonce"] + "." + d.hotkey.SS58() + "." + axonSS58 + "." + d.UUID() + "." + gotH["computed_body_hash"]
		sig, _ := hex.DecodeString(strings.TrimPrefix(gotH["bt_header_dendrite_signature"], "0x"))
		if !wallet.Verify(d.hotkey.PublicKey(), []byte(msg), sig) {
			t.Errorf("%s: signature does not verify over %s", rq.ID, msg)
		}
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	json.Compact(&buf, b)
	return buf.String()
}

func sortedKeys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestNoncesStrictlyIncrease(t *testing.T) {
	frozen := time.Unix(0, 1763000000000000000)
	d := New(testKey(t), WithClock(func() time.Time { return frozen }))
	last := int64(0)
	for range 100 {
		n := d.nextNonce()
		if n <= last || n < frozen.UnixNano() {
			t.Fatalf("nonce %d after %d", n, last)
		}
		last = n
	}
}

func TestParse(t *testing.T) {
	if _, err := ParseTarget("127.0.0.1:8091", axonSS58); err != nil {
		t.Error(err)
	}
	for _, bad := range [][2]string{{"127.0.0.1", axonSS58}, {"h:0", axonSS58}, {"h:99999", axonSS58}, {"h:1", "5Fbao"}} {
		if _, err := ParseTarget(bad[0], bad[1]); err == nil {
			t.Errorf("ParseTarget(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if tg := (Target{IP: "::1", Port: 8091}); tg.URL("Prompting") != "http://[::1]:8091/Prompting" {
		t.Errorf("IPv6 URL %s", tg.URL("Prompting"))
	}
	for s, want := range map[string]Style{"v10": StyleV10, "v6": StyleV610, "6.1.0": StyleV610} {
		if got, err := ParseStyle(s); err != nil || got != want {
			t.Errorf("ParseStyle(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseStyle("v7"); err == nil {
		t.Error("ParseStyle(v7) accepted")
	}
}

// TestResponseHandling covers how results are read from axons of both generations,
// and client-side failures.
func TestResponseHandling(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		// bittensor 6.1.0 axon error: HTTP 500, body {}, real code in lowercase headers.
		"v6-error": func(w http.ResponseWriter, r *http.Request) {
			synapse.SetHeader(w.Header(), "bt_header_axon_status_code", "401")
			synapse.SetHeader(w.Header(), "bt_header_axon_status_message", "Not Verified with error: x")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			w.Write([]byte("{}"))
		},
		// bittensor 10 axon error: the real code and {"message"}.
		"v10-error": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(`{"message": "Synapse name 'Prompting' not found."}`))
		},
		// 6.1.0 crash: plain-text 500 without bt headers.
		"crash": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(500)
			w.Write([]byte("Internal Server Error"))
		},
		"ok": func(w http.ResponseWriter, r *http.Request) {
			var p synapse.Prompting
			if err := synapse.Decode(readAll(r), &p); err != nil {
				w.WriteHeader(400)
				return
			}
			p.Completion = "fine"
			b, _ := json.Marshal(&p)
			synapse.SetHeader(w.Header(), "bt_header_axon_status_code", "200")
			synapse.SetHeader(w.Header(), "bt_header_axon_status_message", "Success")
			synapse.SetHeader(w.Header(), "bt_header_axon_process_time", "0.25")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(b)
		},
		"slow": func(w http.ResponseWriter, r *http.Request) {
			readAll(r) // so the server notices the client leaving
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		},
	}
	want := map[string]struct {
		code int
		msg  string
	}{
		"v6-error":  {401, "Not Verified with error: x"},
		"v10-error": {404, "Synapse name 'Prompting' not found."},
		"crash":     {422, "failed to parse response"},
		"ok":        {200, "Success"},
		"slow":      {408, ""},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			d := New(testKey(t))
			defer d.CloseIdleConnections()
			p := synapse.NewPrompting([]string{"user"}, []string{"hi"})
			timeout := 10 * time.Second
			if name == "slow" {
				timeout = 200 * time.Millisecond
			}
			res := d.Call(context.Background(), targetOf(t, srv.URL), p, timeout)
			w := want[name]
			if res.StatusCode != w.code || !strings.HasPrefix(res.StatusMessage, w.msg) {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, res.StatusMessage, w.code, w.msg)
			}
			if name == "ok" && (p.Completion != "fine" || res.ProcessTime != 0.25) {
				t.Errorf("completion %q process time %v", p.Completion, res.ProcessTime)
			}
		})
	}
	// Nothing listening: 503.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	d := New(testKey(t))
	if res := d.Call(context.Background(), targetOf(t, "http://"+addr), synapse.NewPrompting(nil, []string{"x"}), time.Second); res.StatusCode != StatusConnectFailed {
		t.Errorf("refused connection: %d %v", res.StatusCode, res.Err)
	}
}

func TestStreamRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		synapse.SetHeader(w.Header(), "bt_header_axon_status_code", "200")
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range []string{"Hel", "lo\nwor", "ld\n"} {
			w.Write([]byte(c))
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	defer srv.Close()
	d := New(testKey(t))
	defer d.CloseIdleConnections()
	var completion string
	res := d.CallStream(context.Background(), targetOf(t, srv.URL), synapse.NewStreamPrompting([]string{"user"}, []string{"x"}), time.Second, StreamCompletion(&completion))
	if !res.OK() || completion != "Helloworld" {
		t.Errorf("stream: %d %q", res.StatusCode, completion)
	}
}

func TestStreamLongerThanLimitIsCut(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		synapse.SetHeader(w.Header(), "bt_header_axon_status_code", "200")
		w.Header().Set("Content-Type", "text/event-stream")
		for range MaxResponseBytes/len(chunk) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	d := New(testKey(t))
	defer d.CloseIdleConnections()
	got := 0
	res := d.CallStream(context.Background(), targetOf(t, srv.URL), synapse.NewStreamPrompting([]string{"user"}, []string{"x"}), 5*time.Second,
		func(c []byte) error { got += len(c); return nil })
	if res.StatusCode != StatusClientError || res.Err == nil || !strings.Contains(res.Err.Error(), "stream longer than") {
		t.Errorf("oversized stream: %d %v", res.StatusCode, res.Err)
	}
	if got > MaxResponseBytes {
		t.Errorf("consumer got %d bytes, more than the %d limit", got, MaxResponseBytes)
	}
}

func targetOf(t *testing.T, url string) Target {
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	p, _ := strconv.Atoi(port)
	return Target{IP: host, Port: p, Hotkey: axonSS58}
}

func readAll(r *http.Request) []byte {
	b := make([]byte, 0, 1024)
	buf := make([]byte, 1024)
	for {
		n, err := r.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			return b
		}
	}
}

// TestResponseDecodedIntoFreshValue: a hostile axon answers 200 with other roles and
// messages. Concurrent calls whose synapses share one roles and one messages slice
// (run with -race) must leave both unchanged, fill each caller's completion, and
// report the axon's own synapse in Result.Response.
func TestResponseDecodedIntoFreshValue(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		readAll(r)
		synapse.SetHeader(w.Header(), "bt_header_axon_status_code", "200")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"Prompting","timeout":99.0,"roles":["system","system"],` +
			`"messages":["evil one","evil two"],"completion":"pwned","axon":{"status_code":200}}`))
	}))
	defer srv.Close()
	roles, messages := []string{"system", "user"}, []string{"be brief", "hi"}
	const calls = 8
	results := make(chan *Result, calls)
	prompts := make([]*synapse.Prompting, calls)
	for i := range prompts {
		prompts[i] = synapse.NewPrompting(roles, messages)
	}
	for i := range calls {
		go func() {
			d := New(testKey(t)) // one per caller: the nonces of one dendrite may arrive out of order
			defer d.CloseIdleConnections()
			results <- d.Call(context.Background(), targetOf(t, srv.URL), prompts[i], 5*time.Second)
		}()
	}
	for range calls {
		res := <-results
		if !res.OK() {
			t.Fatalf("call: %d %q %v", res.StatusCode, res.StatusMessage, res.Err)
		}
		got, ok := res.Response.(*synapse.Prompting)
		if !ok || !slices.Equal(got.Messages, []string{"evil one", "evil two"}) || got.Completion != "pwned" {
			t.Errorf("Result.Response = %#v, want the axon's synapse", res.Response)
		}
	}
	if !slices.Equal(roles, []string{"system", "user"}) || !slices.Equal(messages, []string{"be brief", "hi"}) {
		t.Fatalf("the caller's slices were overwritten: roles %q messages %q", roles, messages)
	}
	for _, p := range prompts {
		if p.Completion != "pwned" || p.Axon.StatusCode == nil || *p.Axon.StatusCode != 200 {
			t.Errorf("mutable fields not copied: completion %q axon %+v", p.Completion, p.Axon)
		}
		if &p.Messages[0] != &messages[0] || float64(p.Timeout) != 5 {
			t.Errorf("request fields changed: timeout %v", p.Timeout)
		}
	}
}
