package wallet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrEncrypted is returned (wrapped) for a password-protected keyfile.
var ErrEncrypted = errors.New("keyfile is encrypted")

// ErrNoSecret is returned (wrapped) by LoadHotkey for a public-only keyfile.
var ErrNoSecret = errors.New("keyfile holds no secret key")

// maxKeyfileSize bounds what is read from a keyfile; real ones are under 1 KiB.
const maxKeyfileSize = 64 << 10

// Keyfile JSON field names (§11.2).
const (
	fieldAccountID    = "accountId"
	fieldPublicKey    = "publicKey"
	fieldSecretPhrase = "secretPhrase"
	fieldSecretSeed   = "secretSeed"
	fieldPrivateKey   = "privateKey"
	fieldSS58Address  = "ss58Address"
)

// keyfileFields is a parsed plaintext keyfile: every present, non-null value.
type keyfileFields map[string]string

// LoadHotkey reads an unencrypted hotkey file written by bittensor 6.x (json.dumps,
// nulls kept) or by the Rust bittensor-wallet (compact JSON, any key order, absent
// values omitted, extra "privateKey"). Every secret present (secretPhrase, secretSeed,
// privateKey) must derive the same key, which must match accountId, publicKey and
// ss58Address where present; a file where they disagree is refused rather than read
// the way only one of the SDKs would (v6.1.0 prefers secretSeed, btwallet
// secretPhrase). Encrypted keyfiles ($NACL, $ANSIBLE_VAULT, Fernet) and public-only
// files are refused with ErrEncrypted / ErrNoSecret. Errors never contain secrets.
func LoadHotkey(path string) (*Keypair, error) {
	data, err := readKeyfile(path)
	if err != nil {
		return nil, err
	}
	kp, err := parseHotkey(data)
	if err != nil {
		return nil, fmt.Errorf("load hotkey %s: %w", path, err)
	}
	return kp, nil
}

// LoadColdkeyPub returns the public key in a coldkeypub.txt: the JSON form (accountId /
// publicKey / ss58Address; nothing else is looked at) or the legacy raw "0x<hex>" form.
func LoadColdkeyPub(path string) ([32]byte, error) {
	data, err := readKeyfile(path)
	if err != nil {
		return [32]byte{}, err
	}
	pub, err := parsePublic(data)
	if err != nil {
		return [32]byte{}, fmt.Errorf("load coldkeypub %s: %w", path, err)
	}
	return pub, nil
}

func readKeyfile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open keyfile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat keyfile: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("keyfile %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read keyfile %s: %w", path, err)
	}
	if len(data) > maxKeyfileSize {
		return nil, fmt.Errorf("keyfile %s is larger than %d bytes", path, maxKeyfileSize)
	}
	return data, nil
}

// parseHotkey turns keyfile contents into a key pair that can sign.
func parseHotkey(data []byte) (*Keypair, error) {
	fields, _, err := parseKeyfile(data)
	if err != nil {
		return nil, err
	}
	if fields == nil { // legacy raw hex: public only
		return nil, ErrNoSecret
	}
	declared, err := fields.declaredPublic()
	if err != nil {
		return nil, err
	}
	var kp *Keypair
	agree := func(name string, k *Keypair) error {
		if declared != nil && k.public != *declared {
			return fmt.Errorf("%s does not match the public key/address in the keyfile", name)
		}
		if kp != nil && k.public != kp.public {
			return fmt.Errorf("%s and another secret in the keyfile give different keys", name)
		}
		if kp == nil {
			kp = k
		}
		return nil
	}
	if phrase, ok := fields[fieldSecretPhrase]; ok {
		k, err := KeypairFromMnemonic(phrase)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldSecretPhrase, err)
		}
		if err := agree(fieldSecretPhrase, k); err != nil {
			return nil, err
		}
	}
	if s, ok := fields[fieldSecretSeed]; ok {
		seed, err := decodeHex(s, SeedSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldSecretSeed, err)
		}
		k, err := KeypairFromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldSecretSeed, err)
		}
		if err := agree(fieldSecretSeed, k); err != nil {
			return nil, err
		}
	}
	if s, ok := fields[fieldPrivateKey]; ok {
		secret, err := decodeHex(s, SecretSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldPrivateKey, err)
		}
		k, err := KeypairFromSecret(secret)
		want := declared
		if want == nil && kp != nil {
			want = &kp.public
		}
		if want != nil && (err != nil || k.public != *want) {
			// A 64-byte key of the polkadot-js form (scalar×8 || nonce), §11.3 step 6.
			if alt, altErr := keypairFromEd25519Secret(secret); altErr == nil && alt.public == *want {
				k, err = alt, nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldPrivateKey, err)
		}
		if err := agree(fieldPrivateKey, k); err != nil {
			return nil, err
		}
	}
	if kp == nil {
		return nil, ErrNoSecret
	}
	return kp, nil
}

// parsePublic returns the public key of a keyfile without looking at any secret.
func parsePublic(data []byte) ([32]byte, error) {
	fields, rawPub, err := parseKeyfile(data)
	if err != nil {
		return [32]byte{}, err
	}
	if fields == nil {
		return rawPub, nil
	}
	declared, err := fields.declaredPublic()
	if err != nil {
		return [32]byte{}, err
	}
	if declared == nil {
		return [32]byte{}, errors.New("keyfile has no accountId, publicKey or ss58Address")
	}
	return *declared, nil
}

// parseKeyfile returns the fields of a JSON keyfile, or (nil, pub) for the legacy
// raw-hex public key form.
func parseKeyfile(data []byte) (keyfileFields, [32]byte, error) {
	var rawPub [32]byte
	trimmed := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(trimmed, []byte("$NACL")):
		return nil, rawPub, fmt.Errorf("%w (NaCl); btlm-miner reads only unencrypted hotkeys: regenerate the hotkey without a password", ErrEncrypted)
	case bytes.HasPrefix(trimmed, []byte("$ANSIBLE_VAULT")):
		return nil, rawPub, fmt.Errorf("%w (Ansible Vault); btlm-miner reads only unencrypted hotkeys: regenerate the hotkey without a password", ErrEncrypted)
	case bytes.HasPrefix(trimmed, []byte("gAAAAA")):
		return nil, rawPub, fmt.Errorf("%w (Fernet, legacy); btlm-miner reads only unencrypted hotkeys: regenerate the hotkey without a password", ErrEncrypted)
	case bytes.HasPrefix(trimmed, []byte("0x")) || bytes.HasPrefix(trimmed, []byte("0X")):
		pub, err := decodeHex(string(trimmed), PublicKeySize)
		if err != nil {
			return nil, rawPub, fmt.Errorf("raw public key keyfile: %w", err)
		}
		copy(rawPub[:], pub)
		return nil, rawPub, nil
	case len(trimmed) == 0 || trimmed[0] != '{':
		return nil, rawPub, errors.New("keyfile is neither JSON nor a 0x-hex public key")
	}
	// Values must be JSON strings or null, as btwallet's HashMap<String, Option<String>>
	// requires; numbers, booleans, arrays and objects are rejected.
	var raw map[string]*string
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, rawPub, fmt.Errorf("keyfile field %q must be a string or null, not a JSON %s", typeErr.Field, typeErr.Value)
		}
		return nil, rawPub, errors.New("keyfile is not valid JSON") // no details: they could quote a secret
	}
	fields := make(keyfileFields, len(raw))
	for k, v := range raw {
		if v != nil {
			fields[k] = *v
		}
	}
	return fields, rawPub, nil
}

// declaredPublic checks that accountId, publicKey and ss58Address agree and returns the
// key they declare, or nil when none is present.
func (f keyfileFields) declaredPublic() (*[32]byte, error) {
	var pub *[32]byte
	check := func(name string, k [32]byte) error {
		if pub != nil && *pub != k {
			return fmt.Errorf("keyfile %s disagrees with another public field", name)
		}
		pub = &k
		return nil
	}
	for _, name := range []string{fieldAccountID, fieldPublicKey} {
		if s, ok := f[name]; ok {
			b, err := decodeHex(s, PublicKeySize)
			if err != nil {
				return nil, fmt.Errorf("keyfile %s: %w", name, err)
			}
			if err := check(name, [32]byte(b)); err != nil {
				return nil, err
			}
		}
	}
	if s, ok := f[fieldSS58Address]; ok {
		k, _, err := SS58Decode(s)
		if err != nil {
			return nil, fmt.Errorf("keyfile %s: %w", fieldSS58Address, err)
		}
		if err := check(fieldSS58Address, k); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// ParseSeedHex decodes a 32-byte mini secret seed written as 64 hex digits, with or
// without a "0x" prefix and surrounding space (the "secretSeed" form of a keyfile, and
// btcli's --seed). Its errors never quote the input, which is a secret.
func ParseSeedHex(s string) ([]byte, error) {
	return decodeHex(strings.TrimSpace(s), SeedSize)
}

// decodeHex decodes an optionally "0x"-prefixed hex string of exactly n bytes. The
// error never quotes the input.
func decodeHex(s string, n int) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 2*n {
		return nil, fmt.Errorf("want %d hex digits, got %d", 2*n, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not valid hex")
	}
	return b, nil
}
