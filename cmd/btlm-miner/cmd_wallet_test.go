package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

const (
	walletTestPhrase = "old leopard transfer rib spatial phone calm indicate online fire caution review"
	walletTestSS58   = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX"
	walletTestSeed   = "0x5cb9063bc28a07f7444dbb29b6fc15b802b141a4e7dd5c932f2981be69e127e7"
	walletSeedSS58   = "5Fbao5svHqLUXapsBpsjLtGQ4FW2xy3AavUkdyJAkWEwuqKn"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), want)
	}
}

func TestWalletNewHotkeyDefaultPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	code, out, errOut := runCLI(t, "wallet", "new-hotkey", "--wallet.name", "miner", "--wallet.hotkey", "hk")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	path := filepath.Join(home, ".bittensor", "wallets", "miner", "hotkeys", "hk")
	kp, err := wallet.LoadHotkey(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^mnemonic: ((?:[a-z]+ ){11}[a-z]+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no 12-word mnemonic in output:\n%s", out)
	}
	if strings.Count(out, m[1]) != 1 || !strings.Contains(out, "WARNING") {
		t.Errorf("mnemonic must be printed exactly once, with a warning:\n%s", out)
	}
	fromPhrase, err := wallet.KeypairFromMnemonic(m[1])
	if err != nil || fromPhrase.SS58() != kp.SS58() || !strings.Contains(out, kp.SS58()) {
		t.Errorf("printed mnemonic does not give the written key %s", kp.SS58())
	}
	checkMode(t, path, 0o600)
	checkMode(t, path+"pub.txt", 0o600)
	for _, d := range []string{filepath.Dir(path), filepath.Join(home, ".bittensor", "wallets", "miner"), filepath.Join(home, ".bittensor")} {
		checkMode(t, d, 0o700)
	}
	before, _ := os.ReadFile(path)

	// A second new-hotkey must not replace it.
	code, out, errOut = runCLI(t, "wallet", "new-hotkey", "--wallet.name", "miner", "--wallet.hotkey", "hk")
	if code != 1 || !strings.Contains(errOut, "already exists") || strings.Contains(out, "mnemonic:") {
		t.Errorf("second new-hotkey: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Count(errOut, "\n") != 1 {
		t.Errorf("want one error line, got %q", errOut)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("hotkey file changed without --overwrite")
	}
	code, _, errOut = runCLI(t, "wallet", "new-hotkey", "--wallet.name", "miner", "--wallet.hotkey", "hk", "--overwrite", "--n_words", "24")
	if code != 0 {
		t.Fatalf("--overwrite: exit %d: %s", code, errOut)
	}
	replaced, err := wallet.LoadHotkey(path)
	if err != nil || replaced.SS58() == kp.SS58() {
		t.Errorf("--overwrite did not replace the key: %v", err)
	}
	checkMode(t, path, 0o600)
}

func TestWalletRegenAndShow(t *testing.T) {
	root := t.TempDir()
	base := []string{"--wallet.path", root, "--wallet.name", "w", "--wallet.hotkey", "h"}
	code, out, errOut := runCLI(t, append([]string{"wallet", "regen-hotkey", "--mnemonic", walletTestPhrase}, base...)...)
	if code != 0 {
		t.Fatalf("regen --mnemonic: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, walletTestSS58) || strings.Contains(out+errOut, "leopard") {
		t.Errorf("regen output %q", out)
	}
	path := wallet.HotkeyPath(root, "w", "h")
	checkMode(t, path, 0o600)
	// The file is the exact bittensor 6.1.0 keyfile for this mnemonic.
	data, _ := os.ReadFile(path)
	want := `{"accountId": "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446", "publicKey": "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446", "secretPhrase": "old leopard transfer rib spatial phone calm indicate online fire caution review", "secretSeed": "0xda3cf5b1e9144931a0f0db65664aab662673b099415a7f8121b7245fb0be4143", "ss58Address": "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX"}`
	if string(data) != want {
		t.Errorf("keyfile:\n%s\nwant\n%s", data, want)
	}

	// Refuses to overwrite; --overwrite with a seed replaces it.
	code, _, errOut = runCLI(t, append([]string{"wallet", "regen-hotkey", "--seed", walletTestSeed}, base...)...)
	if code != 1 || !strings.Contains(errOut, "--overwrite") || strings.Contains(errOut, walletTestSeed[2:]) {
		t.Errorf("regen over existing: exit %d, %q", code, errOut)
	}
	code, out, errOut = runCLI(t, append([]string{"wallet", "regen-hotkey", "--seed", walletTestSeed, "--overwrite"}, base...)...)
	if code != 0 || !strings.Contains(out, walletSeedSS58) {
		t.Fatalf("regen --seed --overwrite: exit %d %q %q", code, out, errOut)
	}

	// show: hotkey address, no secrets; coldkeypub in both formats.
	code, out, errOut = runCLI(t, append([]string{"wallet", "show"}, base...)...)
	if code != 0 || !strings.Contains(out, walletSeedSS58) || !strings.Contains(out, "(none at") {
		t.Errorf("show: exit %d %q %q", code, out, errOut)
	}
	if strings.Contains(out, walletTestSeed[2:]) {
		t.Error("show printed the seed")
	}
	cold := wallet.ColdkeyPubPath(root, "w")
	for _, content := range []string{
		`{"accountId": "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", "publicKey": "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", "secretPhrase": null, "secretSeed": null, "ss58Address": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"}`,
		"0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
	} {
		if err := os.WriteFile(cold, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, _ = runCLI(t, append([]string{"wallet", "show"}, base...)...)
		if code != 0 || !strings.Contains(out, "coldkeypub  5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY") {
			t.Errorf("show with coldkeypub %.20s: %q", content, out)
		}
	}
	// The coldkey file itself is never opened: an unreadable one changes nothing.
	if err := os.WriteFile(filepath.Join(root, "w", "coldkey"), []byte("$NACL"), 0o000); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = runCLI(t, append([]string{"wallet", "show"}, base...)...); code != 0 {
		t.Errorf("show with a coldkey present: %s", errOut)
	}
}

func TestWalletRegenFromStdin(t *testing.T) {
	root := t.TempDir()
	old := walletStdin
	walletStdin = strings.NewReader(walletTestPhrase + "\n")
	defer func() { walletStdin = old }()
	code, out, errOut := runCLI(t, "wallet", "regen-hotkey", "--mnemonic", "-", "--wallet.path", root)
	if code != 0 || !strings.Contains(out, walletTestSS58) {
		t.Fatalf("exit %d %q %q", code, out, errOut)
	}
	if _, err := wallet.LoadHotkey(wallet.HotkeyPath(root, "default", "default")); err != nil {
		t.Error(err)
	}
}

func TestWalletErrors(t *testing.T) {
	root := t.TempDir()
	enc := wallet.HotkeyPath(root, "enc", "default")
	os.MkdirAll(filepath.Dir(enc), 0o700)
	os.WriteFile(enc, []byte("$NACL"+strings.Repeat("x", 80)), 0o600)
	cases := []struct {
		name   string
		args   []string
		code   int
		errHas string
	}{
		{"no subcommand", []string{"wallet"}, 2, "usage"},
		{"unknown subcommand", []string{"wallet", "frobnicate"}, 2, "unknown subcommand"},
		{"regen without secret", []string{"wallet", "regen-hotkey", "--wallet.path", root}, 1, "--mnemonic or --seed"},
		{"regen with both", []string{"wallet", "regen-hotkey", "--wallet.path", root, "--mnemonic", walletTestPhrase, "--seed", walletTestSeed}, 1, "not both"},
		{"bad mnemonic", []string{"wallet", "regen-hotkey", "--wallet.path", root, "--mnemonic", "old leopard transfer rib spatial phone calm indicate online fire caution abandon"}, 1, "checksum"},
		{"short seed", []string{"wallet", "regen-hotkey", "--wallet.path", root, "--seed", "0x1234"}, 1, "hex digits"},
		{"non-hex seed", []string{"wallet", "regen-hotkey", "--wallet.path", root, "--seed", "0x" + strings.Repeat("zz", 32)}, 1, "not valid hex"},
		{"path traversal name", []string{"wallet", "new-hotkey", "--wallet.path", root, "--wallet.hotkey", "../../x"}, 1, "path separator"},
		{"dotdot wallet", []string{"wallet", "show", "--wallet.path", root, "--wallet.name", ".."}, 1, "invalid"},
		{"bad n_words", []string{"wallet", "new-hotkey", "--wallet.path", root, "--n_words", "13"}, 1, "words"},
		{"unknown flag", []string{"wallet", "show", "--nope"}, 1, "unknown flag"},
		{"extra argument", []string{"wallet", "show", "--wallet.path", root, "extra"}, 1, "unexpected argument"},
		{"missing hotkey", []string{"wallet", "show", "--wallet.path", root}, 1, "no such file"},
		{"encrypted hotkey", []string{"wallet", "show", "--wallet.path", root, "--wallet.name", "enc"}, 1, "encrypted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.errHas) {
				t.Errorf("exit %d (want %d), stderr %q (want %q), stdout %q", code, tc.code, errOut, tc.errHas, out)
			}
			if strings.Contains(errOut, "goroutine") || strings.Contains(errOut+out, "leopard") {
				t.Errorf("leak or panic in output: %q", errOut)
			}
		})
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("failed commands created files: %v", entries)
	}
	if code, out, _ := runCLI(t, "wallet", "show", "--help"); code != 0 {
		t.Errorf("--help exit %d %q", code, out)
	}
}
