package wallet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"
	"golang.org/x/crypto/blake2b"
)

// DevPhrase is substrate's development mnemonic, used by URIs without a phrase
// ("//Alice").
const DevPhrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"

// maxURILen bounds a secret URI before parsing.
const maxURILen = 4096

// KeypairFromURI derives a key from a substrate secret URI, as sp_core's
// Pair::from_string and polkadot-js Keyring.addFromUri do for sr25519:
//
//	[PHRASE | 0xSEED] ( "//" HARD | "/" SOFT )* [ "///" PASSWORD ]
//
// An empty phrase means DevPhrase. A junction that is a decimal u64 is encoded as 8
// little-endian bytes, any other as a SCALE string; encodings longer than 32 bytes are
// replaced by their BLAKE2b-256 hash. Hard junctions use schnorrkel
// hard_derive_mini_secret_key + Ed25519 expansion, soft ones derived_key_simple.
// Derived keys keep neither phrase nor seed, so they cannot be written as a keyfile.
func KeypairFromURI(uri string) (*Keypair, error) {
	if len(uri) > maxURILen {
		return nil, errors.New("secret uri: too long")
	}
	phrase, path, password := uri, "", ""
	if i := strings.Index(phrase, "///"); i >= 0 {
		phrase, password = phrase[:i], phrase[i+3:]
	}
	if i := strings.IndexByte(phrase, '/'); i >= 0 {
		phrase, path = phrase[:i], phrase[i:]
	}
	phrase = strings.TrimSpace(phrase)
	if phrase == "" {
		phrase = DevPhrase
	}
	junctions, err := parseJunctions(path)
	if err != nil {
		return nil, err
	}

	var kp *Keypair
	if strings.HasPrefix(phrase, "0x") {
		seed, err := decodeHex(phrase, SeedSize)
		if err != nil {
			return nil, fmt.Errorf("secret uri seed: %w", err)
		}
		if kp, err = KeypairFromSeed(seed); err != nil {
			return nil, err
		}
	} else if kp, err = keypairFromMnemonic(phrase, password); err != nil {
		return nil, fmt.Errorf("secret uri: %w", err)
	}
	if len(junctions) == 0 {
		return kp, nil
	}

	sk := kp.secret
	for _, j := range junctions {
		var ext *schnorrkel.ExtendedKey
		var err error
		if j.hard {
			ext, err = schnorrkel.DeriveKeyHard(sk, nil, j.chainCode)
		} else {
			ext, err = schnorrkel.DeriveKeySimple(sk, nil, j.chainCode)
		}
		if err != nil {
			return nil, fmt.Errorf("secret uri: derive: %w", err)
		}
		if sk, err = ext.Secret(); err != nil {
			return nil, fmt.Errorf("secret uri: derive: %w", err)
		}
	}
	derived, err := newKeypair(sk)
	if err != nil {
		return nil, fmt.Errorf("secret uri: %w", err)
	}
	return derived, nil
}

type junction struct {
	hard      bool
	chainCode [32]byte
}

// parseJunctions parses "//hard/soft..." into chain codes.
func parseJunctions(path string) ([]junction, error) {
	var out []junction
	for path != "" {
		if path[0] != '/' {
			return nil, errors.New("secret uri: malformed derivation path")
		}
		j := junction{}
		path = path[1:]
		if strings.HasPrefix(path, "/") {
			j.hard = true
			path = path[1:]
		}
		name := path
		if i := strings.IndexByte(path, '/'); i >= 0 {
			name, path = path[:i], path[i:]
		} else {
			path = ""
		}
		if name == "" {
			return nil, errors.New("secret uri: empty derivation junction")
		}
		j.chainCode = junctionChainCode(name)
		out = append(out, j)
	}
	return out, nil
}

// junctionChainCode is sp_core DeriveJunction::soft/hard(name) for a string junction.
func junctionChainCode(name string) [32]byte {
	var enc []byte
	if n, err := strconv.ParseUint(name, 10, 64); err == nil {
		enc = binary.LittleEndian.AppendUint64(nil, n)
	} else {
		enc = append(scaleCompactLen(len(name)), name...)
	}
	var cc [32]byte
	if len(enc) > 32 {
		cc = blake2b.Sum256(enc)
	} else {
		copy(cc[:], enc)
	}
	return cc
}

// scaleCompactLen is the SCALE compact encoding of a length (< 2^30, bounded by maxURILen).
func scaleCompactLen(n int) []byte {
	switch {
	case n < 1<<6:
		return []byte{byte(n << 2)}
	case n < 1<<14:
		return binary.LittleEndian.AppendUint16(nil, uint16(n<<2|1))
	default:
		return binary.LittleEndian.AppendUint32(nil, uint32(n<<2|2))
	}
}
