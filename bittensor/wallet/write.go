package wallet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/btlm-miner/btlm-miner/internal/atomicfile"
)

// ErrExists is returned (wrapped) when a keyfile exists and overwriting was not asked for.
var ErrExists = fs.ErrExist

// v6KeyfileJSON formats the bittensor 6.1.0 plaintext keyfile: Python json.dumps of
// {"accountId", "publicKey", "secretPhrase", "secretSeed", "ss58Address"} in that
// order with ", " and ": " separators and nulls kept (§11.2). Every value is ASCII,
// so Go's string quoting equals Python's. withSecrets=false gives the public-only form
// of coldkeypub.txt / hotkeypub.txt.
func v6KeyfileJSON(kp *Keypair, withSecrets bool) []byte {
	pub := "0x" + hex.EncodeToString(kp.public[:])
	quote := func(s string) string {
		b, _ := json.Marshal(s) // a string always marshals
		return string(b)
	}
	phrase, seed := "null", "null"
	if withSecrets && kp.phrase != "" {
		phrase = quote(kp.phrase)
	}
	if withSecrets && kp.seed != nil {
		seed = quote("0x" + hex.EncodeToString(kp.seed[:]))
	}
	return []byte(`{"accountId": ` + quote(pub) + `, "publicKey": ` + quote(pub) +
		`, "secretPhrase": ` + phrase + `, "secretSeed": ` + seed +
		`, "ss58Address": ` + quote(kp.ss58) + `}`)
}

// WriteHotkey writes kp to path as an unencrypted bittensor 6 keyfile (readable by
// bittensor 6.1.0 and by btwallet), atomically: a 0600 temporary file in the same
// directory is written, synced and then renamed (overwrite) or hard-linked (no
// overwrite, so that an existing file is never replaced, even in a race) into place.
// Missing directories are created 0700. The key must come from a seed or mnemonic
// (bittensor 6 keyfiles store no other secret form). An existing file without
// overwrite gives an error wrapping ErrExists.
func WriteHotkey(path string, kp *Keypair, overwrite bool) error {
	if kp == nil || kp.secret == nil || kp.seed == nil {
		return fmt.Errorf("write hotkey %s: the key has no seed to store (only keys from a seed or mnemonic can be written)", path)
	}
	if err := writeKeyfile(path, v6KeyfileJSON(kp, true), overwrite); err != nil {
		return fmt.Errorf("write hotkey: %w", err)
	}
	return nil
}

// WritePublicKeyfile writes the public-only keyfile of kp (the form of coldkeypub.txt
// and btwallet's hotkeypub.txt) atomically, mode 0600.
func WritePublicKeyfile(path string, kp *Keypair, overwrite bool) error {
	if err := writeKeyfile(path, v6KeyfileJSON(kp, false), overwrite); err != nil {
		return fmt.Errorf("write public keyfile: %w", err)
	}
	return nil
}

// writeKeyfile writes data to path (mode 0600) through internal/atomicfile, creating
// missing directories 0700.
func writeKeyfile(path string, data []byte, overwrite bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	err := atomicfile.WriteFile(path, data, 0o600, overwrite)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists (use --overwrite to replace it): %w", path, ErrExists)
	}
	return err
}
