package wallet

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testPhrase = "old leopard transfer rib spatial phone calm indicate online fire caution review"
	testSS58   = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX"
	testSeed   = "0xda3cf5b1e9144931a0f0db65664aab662673b099415a7f8121b7245fb0be4143"
	testPriv   = "0x1f1995bdf3a17b60626a26cfe6f564b337d46056b7a1281b64c649d592ccda0a9cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e"
	testPub    = "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446"
	axonSeed   = "0x5cb9063bc28a07f7444dbb29b6fc15b802b141a4e7dd5c932f2981be69e127e7"
	axonSS58   = "5Fbao5svHqLUXapsBpsjLtGQ4FW2xy3AavUkdyJAkWEwuqKn"
	aliceSS58  = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
)

func keyfileVectors(t *testing.T) map[string]keyfileVector {
	t.Helper()
	v := loadVectors(t)
	out := map[string]keyfileVector{}
	for name, raw := range v.Keyfiles {
		var kv keyfileVector
		if json.Unmarshal(raw, &kv) == nil && kv.FileContent != "" {
			out[name] = kv
		}
	}
	if len(out) < 7 {
		t.Fatalf("want at least 7 keyfile vectors, got %d", len(out))
	}
	return out
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeyfileVectors(t *testing.T) {
	for name, kv := range keyfileVectors(t) {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, kv.FileContent)
			wantSS58 := ""
			if s := kv.Fields["ss58Address"]; s != nil {
				wantSS58 = *s
			}
			hasSecret := kv.Fields["secretSeed"] != nil || kv.Fields["secretPhrase"] != nil || kv.Fields["privateKey"] != nil
			isHotkeyFile := strings.HasSuffix(kv.Path, "{hotkey_name}")
			kp, err := LoadHotkey(path)
			switch {
			case hasSecret:
				if err != nil {
					t.Fatal(err)
				}
				if kp.SS58() != wantSS58 {
					t.Errorf("LoadHotkey = %s, want %s", kp.SS58(), wantSS58)
				}
				if !isHotkeyFile {
					t.Errorf("vector at %s has secrets", kv.Path)
				}
			case !errors.Is(err, ErrNoSecret):
				t.Errorf("public-only keyfile: LoadHotkey error %v, want ErrNoSecret", err)
			}
			pub, err := LoadColdkeyPub(path)
			if err != nil {
				t.Fatal(err)
			}
			if wantSS58 == "" { // legacy raw hex coldkeypub: //Alice
				wantSS58 = aliceSS58
			}
			if got := SS58Encode(pub, 42); got != wantSS58 {
				t.Errorf("LoadColdkeyPub = %s, want %s", got, wantSS58)
			}
		})
	}
}

// The Go writer reproduces bittensor 6.1.0's keyfiles byte for byte.
func TestWriterMatchesV6Vectors(t *testing.T) {
	kvs := keyfileVectors(t)
	fromPhrase, err := KeypairFromMnemonic(testPhrase)
	if err != nil {
		t.Fatal(err)
	}
	fromSeed, err := KeypairFromSeed(mustHex(t, axonSeed))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := KeypairFromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{
		"v6_hotkey":           v6KeyfileJSON(fromPhrase, true),
		"v6_hotkey_from_seed": v6KeyfileJSON(fromSeed, true),
		"v6_coldkeypub":       v6KeyfileJSON(alice, false),
	} {
		if want := kvs[name].FileContent; string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestKeyfilePrecedenceAndConsistency(t *testing.T) {
	other := "0x7caadbb21966e5e268945005488a3c9be64a37b949d4691a367e477ed9e57995"
	cases := []struct {
		name    string
		content string
		want    string // ss58, or "" for an error
		errHas  string
	}{
		{"phrase only", `{"secretPhrase":"` + testPhrase + `"}`, testSS58, ""},
		{"seed only", `{"secretSeed":"` + testSeed + `"}`, testSS58, ""},
		{"seed without 0x", `{"secretSeed":"` + testSeed[2:] + `"}`, testSS58, ""},
		{"privateKey only (btwallet reads it, v6.1.0 does not)", `{"privateKey":"` + testPriv + `"}`, testSS58, ""},
		{"privateKey in polkadot-js form with publicKey", `{"publicKey":"` + testPub + `","privateKey":"0xf8c8a8ec9d0fdd031353337936af279bbda106b3ba0d45d920334eaa9664d6569cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e"}`, testSS58, ""},
		{"nulls for absent values", `{"accountId": null, "publicKey": null, "secretPhrase": null, "secretSeed": "` + testSeed + `", "ss58Address": null}`, testSS58, ""},
		{"unknown fields ignored", `{"secretSeed":"` + testSeed + `","note":"hi"}`, testSS58, ""},
		{"surrounding whitespace", "\n  {\"secretSeed\":\"" + testSeed + "\"}\n", testSS58, ""},
		{"seed and phrase disagree", `{"secretPhrase":"` + testPhrase + `","secretSeed":"` + other + `"}`, "", "different keys"},
		{"privateKey disagrees with seed", `{"secretSeed":"` + other + `","privateKey":"` + testPriv + `"}`, "", "privateKey"},
		{"seed disagrees with ss58Address", `{"secretSeed":"` + other + `","ss58Address":"` + testSS58 + `"}`, "", "does not match"},
		{"publicKey disagrees with ss58Address", `{"secretSeed":"` + testSeed + `","publicKey":"` + testPub + `","ss58Address":"` + axonSS58 + `"}`, "", "disagrees"},
		{"bad ss58Address", `{"secretSeed":"` + testSeed + `","ss58Address":"5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsY"}`, "", "checksum"},
		{"public only", `{"ss58Address":"` + testSS58 + `"}`, "", "no secret"},
		{"empty object", `{}`, "", "no secret"},
		{"raw hex public key", testPub, "", "no secret"},
		{"number value", `{"secretSeed": 12}`, "", "string or null"},
		{"bool value", `{"secretSeed":"` + testSeed + `","x":true}`, "", "string or null"},
		{"array", `["` + testSeed + `"]`, "", "neither JSON"},
		{"short seed", `{"secretSeed":"0xda3c"}`, "", "hex digits"},
		{"non-hex seed", `{"secretSeed":"0x` + strings.Repeat("zz", 32) + `"}`, "", "not valid hex"},
		{"bad phrase", `{"secretPhrase":"old leopard"}`, "", "mnemonic"},
		{"truncated JSON", `{"secretSeed":"` + testSeed, "", "not valid JSON"},
		{"NaCl", "$NACL" + strings.Repeat("\x00", 60), "", "encrypted (NaCl)"},
		{"ansible", "$ANSIBLE_VAULT;1.1;AES256\n3132", "", "encrypted (Ansible"},
		{"fernet", "gAAAAABkxyz", "", "encrypted (Fernet"},
		{"empty file", "", "", "neither JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kp, err := LoadHotkey(writeTemp(t, tc.content))
			if tc.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				if kp.SS58() != tc.want {
					t.Errorf("got %s, want %s", kp.SS58(), tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, gave %s", kp.SS58())
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q does not mention %q", err, tc.errHas)
			}
			for _, secret := range []string{testSeed[2:12], "leopard", testPriv[2:12], other[2:12]} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

func TestLoadHotkeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadHotkey(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadHotkey(dir); err == nil {
		t.Error("directory accepted")
	}
	big := writeTemp(t, `{"secretSeed":"`+testSeed+`","pad":"`+strings.Repeat("x", maxKeyfileSize)+`"}`)
	if _, err := LoadHotkey(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized keyfile: %v", err)
	}
	if _, err := LoadColdkeyPub(writeTemp(t, `{"secretSeed":"`+testSeed+`"}`)); err == nil {
		t.Error("coldkeypub without public fields accepted (secrets must not be used)")
	}
}

func TestWriteHotkey(t *testing.T) {
	root := filepath.Join(t.TempDir(), "wallets")
	path := HotkeyPath(root, "w", "h")
	kp, err := KeypairFromMnemonic(testPhrase)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHotkey(path, kp, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("hotkey mode %v, want 0600", st.Mode().Perm())
	}
	for _, d := range []string{filepath.Dir(path), filepath.Join(root, "w"), root} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("dir %s mode %v (%v), want 0700", d, st.Mode().Perm(), err)
		}
	}
	back, err := LoadHotkey(path)
	if err != nil || back.SS58() != testSS58 || back.phrase != testPhrase {
		t.Fatalf("read back: %v %v", back, err)
	}

	// No overwrite without asking: the file is untouched.
	other, _ := KeypairFromSeed(mustHex(t, axonSeed))
	if err := WriteHotkey(path, other, false); !errors.Is(err, ErrExists) {
		t.Errorf("second write: %v, want ErrExists", err)
	}
	if back, _ := LoadHotkey(path); back == nil || back.SS58() != testSS58 {
		t.Error("existing hotkey was replaced")
	}
	if err := WriteHotkey(path, other, true); err != nil {
		t.Fatal(err)
	}
	if back, _ := LoadHotkey(path); back == nil || back.SS58() != axonSS58 {
		t.Error("overwrite did not replace the hotkey")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("hotkeys dir has %d entries, want 1", len(entries))
	}

	// Keys without a seed cannot be written in the bittensor 6 format.
	derived, _ := KeypairFromURI("//Alice")
	if err := WriteHotkey(filepath.Join(root, "x"), derived, false); err == nil {
		t.Error("derived key written")
	}
	pubPath := HotkeyPubPath(root, "w", "h")
	if err := WritePublicKeyfile(pubPath, other, false); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHotkey(pubPath); !errors.Is(err, ErrNoSecret) {
		t.Errorf("public keyfile: %v", err)
	}
	if pub, err := LoadColdkeyPub(pubPath); err != nil || pub != other.PublicKey() {
		t.Errorf("public keyfile pub: %v", err)
	}
}

func FuzzParseKeyfile(f *testing.F) {
	f.Add(`{"accountId": "` + testPub + `", "publicKey": "` + testPub + `", "secretPhrase": "` + testPhrase + `", "secretSeed": "` + testSeed + `", "ss58Address": "` + testSS58 + `"}`)
	f.Add(`{"privateKey":"` + testPriv + `","ss58Address":"` + testSS58 + `"}`)
	f.Add(testPub)
	f.Add(`{"secretSeed": null, "x": 1}`)
	f.Add("$NACL")
	f.Fuzz(func(t *testing.T, content string) {
		kp, err := parseHotkey([]byte(content))
		if err == nil && (kp == nil || kp.secret == nil) {
			t.Fatal("nil key pair without error")
		}
		if err != nil {
			for _, secret := range []string{"leopard", testSeed[2:12]} {
				if strings.Contains(content, secret) && strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks secret: %v", err)
				}
			}
		}
		pub, err := parsePublic([]byte(content))
		if err == nil && kp != nil && pub != kp.public {
			t.Fatalf("parsePublic %x disagrees with parseHotkey %x", pub, kp.public)
		}
	})
}
