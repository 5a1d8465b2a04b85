package axon

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// FuzzServeHTTP feeds hostile header values and bodies through the whole pipeline
// (starting from a valid signed request): it must never panic, and every answer must
// be one of the documented codes with matching header and JSON body.
func FuzzServeHTTP(f *testing.F) {
	// Every nonce is new, so mutated bodies get past verification to decoding and hashing.
	a, err := New(Config{IP: "127.0.0.1", MaxBodyBytes: 4096}, seedKey(f, axonSeed), WithLogger(quietLogger()), WithNonceStore(forgetfulNonces{}))
	if err != nil {
		f.Fatal(err)
	}
	a.Attach(Unary(func() *synapse.Prompting { return &synapse.Prompting{} }, echo))
	if err := a.Listen(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Shutdown(context.Background()) })
	d := testDendrite(f, dendrite.StyleV610)
	body, hs, err := d.Prepare(targetAt(8091), synapse.NewPrompting([]string{"user"}, []string{"hi"}), 5*time.Second)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("bt_header_dendrite_nonce", "1", body)
	f.Add("timeout", "nan", body)
	f.Add("computed_body_hash", "", []byte(`{"roles":[],"messages":[]}`))
	f.Add("bt_header_input_obj_messages", "W10=", []byte(`{"roles":["a"],"messages":["\ud800"]}`))
	f.Add("bt_header_dendrite_hotkey", "5", []byte("null"))
	allowed := map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 408: true, 413: true, 500: true, 503: true}
	f.Fuzz(func(t *testing.T, name, value string, reqBody []byte) {
		r := httptest.NewRequest(http.MethodPost, "/Prompting", bytes.NewReader(reqBody))
		for _, h := range hs {
			synapse.SetHeader(r.Header, h.Name, h.Value)
		}
		if len(name) > 0 && len(name) < 64 {
			r.Header[name] = []string{value}
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if !allowed[w.Code] {
			t.Fatalf("status %d", w.Code)
		}
		if got := w.Header()["bt_header_axon_status_code"]; len(got) != 1 || got[0] != itoa(w.Code) {
			t.Fatalf("header status %q != HTTP %d", got, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("body not JSON: %q", w.Body)
		}
	})
}

// forgetfulNonces accepts every nonce (fuzzing only).
type forgetfulNonces struct{}

func (forgetfulNonces) Last(string) (int64, bool)  { return 0, false }
func (forgetfulNonces) Advance(string, int64) bool { return true }
