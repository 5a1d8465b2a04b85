package axon

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

type recordedRequest struct {
	ID             string      `json:"id"`
	Path           string      `json:"path"`
	Headers        [][2]string `json:"headers"`
	BodyRaw        string      `json:"body_raw"`
	AxonHotkeySeed string      `json:"axon_hotkey_seed"`
	AxonHotkey     string      `json:"axon_hotkey_ss58"`
	Expected       struct {
		StatusCode int `json:"bt_header_axon_status_code"`
	} `json:"expected"`
}

type sigVector struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	SignedHex string `json:"message_utf8_hex"`
	Signer    string `json:"signer_public_key"`
	SignerSS  string `json:"signer_ss58"`
	Signature string `json:"signature"`
	SigAlt    string `json:"signature_alt"`
	SigDoc    string `json:"signature_doc"`
	Valid     bool   `json:"valid"`
}

func vectors(t *testing.T) (reqs []recordedRequest, valid, invalid []sigVector) {
	var v struct {
		Requests   []recordedRequest `json:"requests"`
		Signatures struct {
			Valid   []sigVector `json:"valid"`
			Invalid []sigVector `json:"invalid"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(loadVectorsFile(t), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Requests) == 0 || len(v.Signatures.Valid) == 0 || len(v.Signatures.Invalid) == 0 {
		t.Fatal("vectors missing")
	}
	return v.Requests, v.Signatures.Valid, v.Signatures.Invalid
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pub32(t *testing.T, s string) [32]byte {
	var p [32]byte
	copy(p[:], mustHex(t, s))
	return p
}

// TestSignatureVectors checks every signature vector with wallet.Verify, the function
// the axon uses, including the <Bytes>-wrapped one and the five invalid cases.
func TestSignatureVectors(t *testing.T) {
	_, valid, invalid := vectors(t)
	for _, v := range valid {
		pub := pub32(t, v.Signer)
		if got, _, err := wallet.SS58Decode(v.SignerSS); err != nil || got != pub {
			t.Errorf("%s: signer ss58 does not decode to the public key", v.ID)
		}
		for _, sig := range []string{v.Signature, v.SigAlt, v.SigDoc} {
			if sig == "" {
				continue
			}
			if !wallet.Verify(pub, []byte(v.Message), mustHex(t, sig)) {
				t.Errorf("%s: valid signature %s… rejected", v.ID, sig[:18])
			}
			if string(mustHex(t, v.SignedHex)) != v.Message {
				t.Errorf("%s: message hex mismatch", v.ID)
			}
			// Negative: the same signature never verifies for another key or message.
			other := seedKey(t, otherSeed).PublicKey()
			if other != pub && wallet.Verify(other, []byte(v.Message), mustHex(t, sig)) {
				t.Errorf("%s: verified under the wrong key", v.ID)
			}
			if wallet.Verify(pub, []byte(v.Message+"x"), mustHex(t, sig)) {
				t.Errorf("%s: verified a changed message", v.ID)
			}
		}
	}
	for _, v := range invalid {
		if wallet.Verify(pub32(t, v.Signer), []byte(v.Message), mustHex(t, v.Signature)) {
			t.Errorf("invalid vector %s verified", v.ID)
		}
	}
}

// replayRecorded sends a recorded Python request unchanged.
func replayRecorded(t *testing.T, rq recordedRequest, a *Axon, port int) rawResponse {
	t.Helper()
	var hs []synapse.Header
	for _, kv := range rq.Headers {
		hs = append(hs, synapse.Header{Name: kv[0], Value: kv[1]})
	}
	_ = a
	return send(t, targetAt(port), rq.Path, hs, []byte(rq.BodyRaw))
}

// TestRecordedRequests replays the recorded v6.1.0 and v10 requests against an axon
// holding the vectors' axon key with an injected clock: accepted once (200 and the
// echoed synapse), refused when replayed (401), and the v10 one refused when the
// clock is past its window while the 6.1.0 one (version 610) is not windowed.
func TestRecordedRequests(t *testing.T) {
	reqs, _, _ := vectors(t)
	const recordedNow = 1763000001000000000
	for _, rq := range reqs {
		t.Run(rq.ID, func(t *testing.T) {
			if rq.AxonHotkey != axonSS58 || strings.TrimPrefix(rq.AxonHotkeySeed, "0x") != axonSeed {
				t.Fatalf("vector axon key %s differs from the test key", rq.AxonHotkey)
			}
			clock := func() time.Time { return time.Unix(0, recordedNow) }
			a, tgt := startAxon(t, Config{}, WithClock(clock))
			r := replayRecorded(t, rq, a, tgt.Port)
			if r.status != rq.Expected.StatusCode || r.header.Get("bt_header_axon_status_code") != "200" {
				t.Fatalf("status %d / %q, want %d: %s", r.status, r.header.Get("bt_header_axon_status_code"), rq.Expected.StatusCode, r.body)
			}
			var p synapse.Prompting
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Completion != "echo: hi" || len(p.Roles) != 1 || len(p.Messages) != 1 {
				t.Errorf("response synapse %+v", p)
			}
			r = replayRecorded(t, rq, a, tgt.Port)
			checkError(t, r, 401, "Not Verified with error: Nonce is too old, a newer one was last processed")

			// A fresh axon whose clock is 17 s past the nonce: the window (4 s + 12 s
			// timeout) applies only to version >= 7002000.
			late := func() time.Time { return time.Unix(0, 1763000000000000000+17*int64(time.Second)) }
			if strings.HasPrefix(rq.ID, "v6") {
				late = func() time.Time { return time.Unix(0, 1700000000000000000+3600*int64(time.Second)) }
			}
			a2, tgt2 := startAxon(t, Config{}, WithClock(late))
			r = replayRecorded(t, rq, a2, tgt2.Port)
			if strings.HasPrefix(rq.ID, "v6") {
				if r.status != 200 {
					t.Errorf("6.1.0 request refused with a late clock: %d %s", r.status, r.body)
				}
			} else {
				checkError(t, r, 401, "Not Verified with error: Nonce is too old: acceptable delta is 16.00 seconds but request was 17.00 seconds old")
			}
		})
	}
}
