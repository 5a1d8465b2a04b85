package wallet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	if err := writeFileAtomic(path, v6KeyfileJSON(kp, true), overwrite); err != nil {
		return fmt.Errorf("write hotkey: %w", err)
	}
	return nil
}

// WritePublicKeyfile writes the public-only keyfile of kp (the form of coldkeypub.txt
// and btwallet's hotkeypub.txt) atomically, mode 0600.
func WritePublicKeyfile(path string, kp *Keypair, overwrite bool) error {
	if err := writeFileAtomic(path, v6KeyfileJSON(kp, false), overwrite); err != nil {
		return fmt.Errorf("write public keyfile: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, overwrite bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s already exists (use --overwrite to replace it): %w", path, ErrExists)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if overwrite {
		if err := os.Rename(tmpName, path); err != nil {
			return err
		}
	} else {
		// link fails if path appeared since the check above; nothing is replaced.
		if err := os.Link(tmpName, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists (use --overwrite to replace it): %w", path, ErrExists)
			}
			// No hard links on this file system: fall back to check-then-rename.
			if _, statErr := os.Lstat(path); statErr == nil {
				return fmt.Errorf("%s already exists (use --overwrite to replace it): %w", path, ErrExists)
			}
			if err := os.Rename(tmpName, path); err != nil {
				return err
			}
		} else {
			os.Remove(tmpName)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: make the new name durable
		d.Close()
	}
	return nil
}
