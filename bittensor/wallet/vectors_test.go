package wallet

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

// axonVectors is the part of shared/testdata/axon-vectors.json this package checks.
type axonVectors struct {
	Keys struct {
		MnemonicVectors []struct {
			Name, Mnemonic, Passphrase, Entropy, SecretSeed, PrivateKey, PublicKey string
			SS58Address                                                            string `json:"ss58Address"`
			SS58AddressPrefix0                                                     string `json:"ss58Address_prefix0"`
			PolkadotJSSecretKey                                                    string `json:"polkadot_js_secretKey"`
		} `json:"mnemonic_vectors"`
		SeedVectors []struct {
			Name, Seed, PrivateKey, PublicKey string
			SS58Address                       string `json:"ss58Address"`
			PolkadotJSSecretKey               string `json:"polkadot_js_secretKey"`
		} `json:"seed_vectors"`
		URIVectors []struct {
			URI, PublicKey string
			SS58Address    string `json:"ss58Address"`
		} `json:"uri_vectors"`
	} `json:"keys"`
	SS58 struct {
		Valid []struct {
			Name      string
			Prefix    uint16
			PublicKey string `json:"public_key"`
			Address   string
			Decoded   string `json:"decoded_hex"`
		}
		Invalid []struct {
			Name, Address, Reason string
		}
	} `json:"ss58"`
	Signatures struct {
		Valid []struct {
			ID              string
			Message         string
			MessageHex      string `json:"message_utf8_hex"`
			BytesWrapped    bool   `json:"bytes_wrapped"`
			SignerSS58      string `json:"signer_ss58"`
			SignerPublicKey string `json:"signer_public_key"`
			SignerSeed      string `json:"signer_seed"`
			Signature       string
			SignatureAlt    string `json:"signature_alt"`
			SignatureDoc    string `json:"signature_doc"`
		}
		Invalid []struct {
			ID, Message     string
			SignerPublicKey string `json:"signer_public_key"`
			Signature       string
		}
	} `json:"signatures"`
	Keyfiles map[string]json.RawMessage `json:"keyfiles"`
}

type keyfileVector struct {
	Path        string
	Fields      map[string]*string
	FileContent string `json:"file_content"`
}

func loadVectors(t testing.TB) *axonVectors {
	t.Helper()
	data, err := os.ReadFile(testenv.Shared(t, "testdata/axon-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v axonVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parse axon-vectors.json: %v", err)
	}
	return &v
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex in vector %q: %v", s, err)
	}
	return b
}

func mustPub(t testing.TB, s string) [32]byte {
	t.Helper()
	b := mustHex(t, s)
	if len(b) != 32 {
		t.Fatalf("public key %q is %d bytes", s, len(b))
	}
	return [32]byte(b)
}
