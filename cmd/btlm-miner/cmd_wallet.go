package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/spf13/pflag"
)

func init() {
	register(command{name: "wallet", summary: "create, regenerate or show the miner's hotkey", run: runWallet})
}

// walletStdin is where "--mnemonic -" reads the phrase from (a variable for tests).
var walletStdin io.Reader = os.Stdin

const walletUsage = `usage: btlm-miner wallet SUBCOMMAND [flags]

subcommands:
  new-hotkey     create a hotkey from a fresh 12-word mnemonic (printed once)
  regen-hotkey   recreate a hotkey from --mnemonic "words..." (or "-" for stdin) or --seed 0x<64 hex>
  show           print the hotkey's address (and the coldkeypub address); never secrets

Hotkeys are written unencrypted in the bittensor 6 format (readable by bittensor 6.1
and bittensor-wallet) to {wallet.path}/{wallet.name}/hotkeys/{wallet.hotkey}, mode 0600.
The coldkey is never read.
`

// walletFlags are the flags shared by every wallet subcommand.
type walletFlags struct {
	name, hotkey, path string
}

func (f *walletFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "wallet.name", "default", "wallet name (directory under --wallet.path)")
	fs.StringVar(&f.hotkey, "wallet.hotkey", "default", "hotkey name")
	fs.StringVar(&f.path, "wallet.path", wallet.DefaultPath, "wallets directory")
}

func (f *walletFlags) check() error {
	if err := wallet.CheckName(f.name); err != nil {
		return fmt.Errorf("--wallet.name: %w", err)
	}
	if err := wallet.CheckName(f.hotkey); err != nil {
		return fmt.Errorf("--wallet.hotkey: %w", err)
	}
	return nil
}

func runWallet(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, walletUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	var err error
	switch sub {
	case "new-hotkey":
		err = walletNewHotkey(args, stdout, stderr)
	case "regen-hotkey":
		err = walletRegenHotkey(args, stdout, stderr)
	case "show":
		err = walletShow(args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, walletUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "btlm-miner wallet: unknown subcommand %q\n", sub)
		fmt.Fprint(stderr, walletUsage)
		return 2
	}
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "btlm-miner wallet %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// newWalletFlagSet returns the flag set of wallet subcommand name with the shared
// wallet flags registered.
func newWalletFlagSet(name string, stderr io.Writer) (*pflag.FlagSet, *walletFlags) {
	fs := pflag.NewFlagSet("btlm-miner wallet "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	wf := &walletFlags{}
	wf.register(fs)
	return fs, wf
}

// parseWalletFlags parses args (no positional arguments) and checks the names.
func parseWalletFlags(fs *pflag.FlagSet, wf *walletFlags, args []string) error {
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	return wf.check()
}

func walletNewHotkey(args []string, stdout, stderr io.Writer) error {
	fs, wf := newWalletFlagSet("new-hotkey", stderr)
	overwrite := fs.Bool("overwrite", false, "replace an existing hotkey file")
	words := fs.Int("n_words", 12, "mnemonic length: 12, 15, 18, 21 or 24 words")
	if err := parseWalletFlags(fs, wf, args); err != nil {
		return err
	}
	phrase, err := wallet.NewMnemonic(*words)
	if err != nil {
		return err
	}
	kp, err := wallet.KeypairFromMnemonic(phrase)
	if err != nil {
		return err
	}
	path, err := saveHotkey(wf, kp, *overwrite)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "WARNING: this mnemonic is the only way to recover the hotkey. Write it down and keep it")
	fmt.Fprintln(stdout, "secret: anyone who has it controls the hotkey. It is not shown again.")
	fmt.Fprintf(stdout, "mnemonic: %s\n", phrase)
	fmt.Fprintf(stdout, "hotkey %s written to %s\n", kp.SS58(), path)
	return nil
}

func walletRegenHotkey(args []string, stdout, stderr io.Writer) error {
	fs, wf := newWalletFlagSet("regen-hotkey", stderr)
	overwrite := fs.Bool("overwrite", false, "replace an existing hotkey file")
	mnemonic := fs.String("mnemonic", "", `BIP39 mnemonic ("-" reads it from stdin)`)
	seed := fs.String("seed", "", "32-byte mini secret seed, 0x-prefixed hex")
	if err := parseWalletFlags(fs, wf, args); err != nil {
		return err
	}
	var kp *wallet.Keypair
	var err error
	switch {
	case *mnemonic != "" && *seed != "":
		return errors.New("give either --mnemonic or --seed, not both")
	case *mnemonic != "":
		phrase := *mnemonic
		if phrase == "-" {
			if phrase, err = readSecretLine(walletStdin); err != nil {
				return fmt.Errorf("read mnemonic from stdin: %w", err)
			}
		}
		if kp, err = wallet.KeypairFromMnemonic(phrase); err != nil {
			return err
		}
	case *seed != "":
		raw, err := wallet.ParseSeedHex(*seed)
		if err != nil {
			return fmt.Errorf("--seed: %w", err)
		}
		if kp, err = wallet.KeypairFromSeed(raw); err != nil {
			return err
		}
	default:
		return errors.New("give --mnemonic or --seed")
	}
	path, err := saveHotkey(wf, kp, *overwrite)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hotkey %s written to %s\n", kp.SS58(), path)
	return nil
}

// saveHotkey writes the hotkey and then btwallet's public-only copy beside it.
func saveHotkey(wf *walletFlags, kp *wallet.Keypair, overwrite bool) (string, error) {
	path := wallet.HotkeyPath(wf.path, wf.name, wf.hotkey)
	if err := wallet.WriteHotkey(path, kp, overwrite); err != nil {
		return "", err
	}
	// The public copy always follows the hotkey just written, so it is never stale.
	if err := wallet.WritePublicKeyfile(wallet.HotkeyPubPath(wf.path, wf.name, wf.hotkey), kp, true); err != nil {
		return "", err
	}
	return path, nil
}

func walletShow(args []string, stdout, stderr io.Writer) error {
	fs, wf := newWalletFlagSet("show", stderr)
	if err := parseWalletFlags(fs, wf, args); err != nil {
		return err
	}
	path := wallet.HotkeyPath(wf.path, wf.name, wf.hotkey)
	kp, err := wallet.LoadHotkey(path)
	if err != nil {
		return err
	}
	pub := kp.PublicKey()
	fmt.Fprintf(stdout, "hotkey      %s\n", kp.SS58())
	fmt.Fprintf(stdout, "public key  0x%s\n", hex.EncodeToString(pub[:]))
	fmt.Fprintf(stdout, "file        %s\n", path)
	coldPath := wallet.ColdkeyPubPath(wf.path, wf.name)
	switch cold, err := wallet.LoadColdkeyPub(coldPath); {
	case err == nil:
		fmt.Fprintf(stdout, "coldkeypub  %s\n", wallet.SS58Encode(cold, wallet.BittensorSS58Prefix))
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(stdout, "coldkeypub  (none at %s)\n", coldPath)
	default:
		fmt.Fprintf(stdout, "coldkeypub  (unreadable: %v)\n", err)
	}
	return nil
}

// readSecretLine reads one line (at most 1 KiB) from r.
func readSecretLine(r io.Reader) (string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<10))
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", err
		}
		return "", errors.New("no input")
	}
	return sc.Text(), nil
}
