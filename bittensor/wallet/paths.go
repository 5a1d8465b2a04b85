package wallet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath is bittensor's default wallet directory (--wallet.path).
const DefaultPath = "~/.bittensor/wallets"

// DefaultRoot returns DefaultPath with "~" expanded to the user's home directory.
func DefaultRoot() string { return ExpandHome(DefaultPath) }

// ExpandHome replaces a leading "~" or "~/" with the home directory ($HOME), as
// Python's os.path.expanduser does for the current user. Other paths are returned
// unchanged, and so is the path when the home directory is unknown.
func ExpandHome(path string) string {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return path
	}
	return filepath.Join(home, strings.TrimPrefix(path[1:], "/"))
}

// HotkeyPath returns {root}/{walletName}/hotkeys/{hotkeyName} (§11.1), with "~" in
// root expanded. Check the names with CheckName first when they come from users.
func HotkeyPath(root, walletName, hotkeyName string) string {
	return filepath.Join(ExpandHome(root), walletName, "hotkeys", hotkeyName)
}

// HotkeyPubPath returns the public-only copy btwallet >= 3.1.0 keeps beside a hotkey:
// {root}/{walletName}/hotkeys/{hotkeyName}pub.txt.
func HotkeyPubPath(root, walletName, hotkeyName string) string {
	return HotkeyPath(root, walletName, hotkeyName) + "pub.txt"
}

// ColdkeyPubPath returns {root}/{walletName}/coldkeypub.txt.
func ColdkeyPubPath(root, walletName string) string {
	return filepath.Join(ExpandHome(root), walletName, "coldkeypub.txt")
}

// CheckName rejects wallet and hotkey names that are empty, "." or "..", or that
// contain a path separator or a NUL, so that a name cannot leave the wallet directory.
func CheckName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("invalid wallet/hotkey name %q", name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("invalid wallet/hotkey name %q: must not contain a path separator", name)
	case len(name) > 255:
		return fmt.Errorf("invalid wallet/hotkey name: longer than 255 bytes")
	}
	return nil
}
