// Package wallet holds Bittensor hotkeys: sr25519 key pairs (schnorrkel, signing
// context "substrate"), SS58 addresses, substrate BIP39 mnemonics and the on-disk
// wallet layout used by bittensor 6.1.0 and the Rust bittensor-wallet (btwallet 4.x).
//
// It follows ../shared/reference/axon-protocol.md §4.4 (signatures) and §11 (wallet
// layout, keyfile JSON, key derivation). Only hotkeys are ever read with their
// secrets; the coldkey file is never opened, and coldkeypub.txt is read for its
// public key only. Secrets are never logged: a Keypair formats as its SS58 address.
package wallet
