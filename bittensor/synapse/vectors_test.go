package synapse

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// axonVectors is the part of shared/testdata/axon-vectors.json this package checks.
type axonVectors struct {
	BodyHash struct {
		HashFields map[string][]string `json:"hash_fields"`
		Vectors    []struct {
			Name             string   `json:"name"`
			Messages         []string `json:"messages"`
			MessagesJSON     string   `json:"messages_json_as_sent"`
			StrMessages      string   `json:"str_messages"`
			InnerHash        string   `json:"inner_hash"`
			ComputedBodyHash string   `json:"computed_body_hash"`
		} `json:"vectors"`
		NoHashFields struct {
			ComputedBodyHash string `json:"computed_body_hash"`
		} `json:"no_hash_fields"`
		MultiField struct {
			Fields []struct {
				Field     string          `json:"field"`
				Value     json.RawMessage `json:"value"`
				StrValue  string          `json:"str_value"`
				InnerHash string          `json:"inner_hash"`
			} `json:"fields"`
			ComputedBodyHash string `json:"computed_body_hash"`
		} `json:"multi_field"`
	} `json:"body_hash"`
	Requests []struct {
		ID       string      `json:"id"`
		Headers  [][2]string `json:"headers"`
		BodyRaw  string      `json:"body_raw"`
		Expected struct {
			Hash string `json:"computed_body_hash_recomputed_from_body"`
		} `json:"expected"`
	} `json:"requests"`
}

func loadVectors(t testing.TB) *axonVectors {
	t.Helper()
	raw, err := os.ReadFile(testenv.Shared(t, "testdata/axon-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v axonVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("parse axon-vectors.json: %v", err)
	}
	if len(v.BodyHash.Vectors) == 0 || len(v.Requests) == 0 {
		t.Fatal("axon-vectors.json: no body_hash vectors or requests")
	}
	return &v
}

func TestBodyHashVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.BodyHash.Vectors {
		t.Run(tc.Name, func(t *testing.T) {
			if got := PyStrList(tc.Messages, CPython311); got != tc.StrMessages {
				t.Errorf("str(messages) = %q, want %q", got, tc.StrMessages)
			}
			if got := SHA3Hex([]byte(tc.StrMessages)); got != tc.InnerHash {
				t.Errorf("inner hash = %s, want %s", got, tc.InnerHash)
			}
			// The generic JSON path must agree with the typed path.
			if got, err := PyStrJSON([]byte(tc.MessagesJSON), CPython311); err != nil || got != tc.StrMessages {
				t.Errorf("PyStrJSON(%s) = %q, %v; want %q", tc.MessagesJSON, got, err, tc.StrMessages)
			}
			var p Prompting
			if err := Decode([]byte(`{"roles":[],"messages":`+tc.MessagesJSON+`}`), &p); err != nil {
				t.Fatal(err)
			}
			if got := BodyHash(&p, CPython311); got != tc.ComputedBodyHash {
				t.Errorf("computed_body_hash = %s, want %s", got, tc.ComputedBodyHash)
			}
			if _, ok := MatchBodyHash(&p, tc.ComputedBodyHash); !ok {
				t.Error("MatchBodyHash rejects the vector hash")
			}
		})
	}
	if got := BodyHash(&Synapse{}, CPython311); got != v.BodyHash.NoHashFields.ComputedBodyHash {
		t.Errorf("no hash fields: %s, want %s", got, v.BodyHash.NoHashFields.ComputedBodyHash)
	}
	mf := v.BodyHash.MultiField
	var inputs []string
	for _, f := range mf.Fields {
		s, err := PyStrJSON(f.Value, CPython311)
		if err != nil || s != f.StrValue {
			t.Errorf("multi_field %s: str = %q, %v; want %q", f.Field, s, err, f.StrValue)
		}
		if got := SHA3Hex([]byte(s)); got != f.InnerHash {
			t.Errorf("multi_field %s: inner %s, want %s", f.Field, got, f.InnerHash)
		}
		inputs = append(inputs, s)
	}
	if got := BodyHashOf(inputs); got != mf.ComputedBodyHash {
		t.Errorf("multi_field hash %s, want %s", got, mf.ComputedBodyHash)
	}
	for class, fields := range v.BodyHash.HashFields {
		var m Message
		switch class {
		case "Prompting":
			m = &Prompting{}
		case "StreamPrompting":
			m = &StreamPrompting{}
		case "Synapse":
			m = &Synapse{}
		default:
			t.Errorf("vector class %s has no Go type", class)
			continue
		}
		if got := m.HashFieldNames(); len(got) != len(fields) || (len(got) > 0 && got[0] != fields[0]) {
			t.Errorf("%s hash fields %v, want %v", class, got, fields)
		}
	}
}

// TestRecordedRequestBodies decodes the recorded Python request bodies and headers.
func TestRecordedRequestBodies(t *testing.T) {
	v := loadVectors(t)
	for _, rq := range v.Requests {
		t.Run(rq.ID, func(t *testing.T) {
			var p Prompting
			if err := Decode([]byte(rq.BodyRaw), &p); err != nil {
				t.Fatal(err)
			}
			if got := BodyHash(&p, DefaultProfile); got != rq.Expected.Hash {
				t.Errorf("body hash %s, want %s", got, rq.Expected.Hash)
			}
			h := make(map[string][]string)
			for _, kv := range rq.Headers {
				h[kv[0]] = []string{kv[1]}
			}
			hv, err := ParseHeaders(h)
			if err != nil {
				t.Fatal(err)
			}
			if hv.ComputedBodyHash != rq.Expected.Hash || hv.Dendrite.Nonce == nil || *hv.Dendrite.Nonce != *p.Dendrite.Nonce ||
				*hv.Dendrite.Hotkey != *p.Dendrite.Hotkey || *hv.Dendrite.Version != *p.Dendrite.Version || hv.Timeout != 12 {
				t.Errorf("header view disagrees with body: %+v", hv)
			}
			if string(hv.InputObjs["messages"]) != "[]" || string(hv.InputObjs["roles"]) != "[]" {
				t.Errorf("input_obj headers: %q", hv.InputObjs)
			}
			// Re-encoding the decoded body and headers reproduces the same header set.
			p.ComputedBodyHash = rq.Expected.Hash
			enc := EncodeHeaders(&p)
			got := map[string]string{}
			for _, kv := range enc {
				got[kv.Name] = kv.Value
			}
			for _, kv := range rq.Headers {
				switch kv[0] {
				case "header_size", "total_size": // Python object sizes; ours differ
					continue
				}
				if got[kv[0]] != kv[1] {
					t.Errorf("EncodeHeaders %s = %q, want %q", kv[0], got[kv[0]], kv[1])
				}
			}
		})
	}
}
