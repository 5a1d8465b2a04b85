package subtensor

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
)

// signingState is what the signed extensions commit to, read from the chain before
// signing.
type signingState struct {
	SpecVersion uint32
	TxVersion   uint32
	Genesis     [32]byte // chain_getBlockHash(0)
	Era         Era
	EraBirth    [32]byte // hash of the era's birth block (Genesis when immortal)
	Nonce       uint64
	Tip         uint64
}

// signedExtensions builds the "extra" (carried in the extrinsic) and "additional
// signed" (signed only) bytes from the metadata's extension list, in its order
// (../shared/reference/subtensor-chain.md §5). Known identifiers are encoded with the
// types the metadata declares for them; an unknown identifier is accepted only when
// both its types are zero-sized (the subtensor, commitments, drand, shield and sudo
// extensions), and is otherwise an error, because signing without it would be
// rejected as a bad signature.
func signedExtensions(m *metadata.Metadata, st signingState) (extra, additional []byte, err error) {
	for _, ext := range m.Extrinsic.SignedExtensions {
		extra, additional, err = appendExtension(m, ext, st, extra, additional)
		if err != nil {
			return nil, nil, fmt.Errorf("signed extension %s: %w", ext.Identifier, err)
		}
	}
	return extra, additional, nil
}

func appendExtension(m *metadata.Metadata, ext metadata.SignedExtension, st signingState, extra, add []byte) ([]byte, []byte, error) {
	var err error
	noExtra := func() error { return requireZeroSized(m, ext.Type, "extra") }
	noAdditional := func() error { return requireZeroSized(m, ext.AdditionalSigned, "additional") }
	switch ext.Identifier {
	case "CheckSpecVersion":
		if err = noExtra(); err == nil {
			add, err = m.EncodeValue(add, ext.AdditionalSigned, st.SpecVersion)
		}
	case "CheckTxVersion":
		if err = noExtra(); err == nil {
			add, err = m.EncodeValue(add, ext.AdditionalSigned, st.TxVersion)
		}
	case "CheckGenesis":
		if err = noExtra(); err == nil {
			add, err = m.EncodeValue(add, ext.AdditionalSigned, st.Genesis)
		}
	case "CheckMortality", "CheckEra":
		// Era is an enum of 256 variants (Immortal, Mortal1(u8) .. Mortal255(u8)) whose
		// encoding is the compact form Era.Encode writes.
		extra = append(extra, st.Era.Encode()...)
		add, err = m.EncodeValue(add, ext.AdditionalSigned, st.EraBirth)
	case "CheckNonce":
		if err = noAdditional(); err == nil {
			extra, err = m.EncodeValue(extra, ext.Type, st.Nonce)
		}
	case "ChargeTransactionPayment", "ChargeTransactionPaymentWrapper":
		// The wrapper is a struct around ChargeTransactionPayment: same bytes.
		if err = noAdditional(); err == nil {
			extra, err = m.EncodeValue(extra, ext.Type, st.Tip)
		}
	case "CheckMetadataHash":
		// Mode::Disabled, and no metadata hash in the signed payload.
		extra, err = m.EncodeValue(extra, ext.Type, map[string]any{"mode": "Disabled"})
		if err == nil {
			add, err = m.EncodeValue(add, ext.AdditionalSigned, nil)
		}
	default:
		// CheckNonZeroSender, CheckWeight and every subtensor-specific extension carry
		// nothing; anything else cannot be signed without knowing it.
		if err = noExtra(); err == nil {
			err = noAdditional()
		}
	}
	return extra, add, err
}

func requireZeroSized(m *metadata.Metadata, id metadata.TypeID, what string) error {
	z, err := m.IsZeroSized(id)
	if err != nil {
		return err
	}
	if !z {
		t, _ := m.Type(id)
		name := fmt.Sprint(id)
		if t != nil && len(t.Path) > 0 {
			name = t.PathString()
		}
		return fmt.Errorf("unsupported: its %s type %s is not zero-sized", what, name)
	}
	return nil
}

// maxSigningPayload is the payload size above which substrate signs its blake2-256 hash.
const maxSigningPayload = 256

// signingPayload returns the bytes the signer signs: call ‖ extra ‖ additional, or
// their blake2b-256 hash when longer than 256 bytes.
func signingPayload(call, extra, additional []byte) []byte {
	p := make([]byte, 0, len(call)+len(extra)+len(additional))
	p = append(append(append(p, call...), extra...), additional...)
	if len(p) > maxSigningPayload {
		h := blake2b.Sum256(p)
		return h[:]
	}
	return p
}

// extrinsicFormat holds how this runtime encodes the signer and signature (from the
// UncheckedExtrinsic type's Address and Signature parameters in the metadata).
type extrinsicFormat struct {
	addressPrefix   []byte // MultiAddress::Id index, or none for a bare AccountId
	signaturePrefix []byte // MultiSignature::Sr25519 index, or none for a bare signature
}

// readExtrinsicFormat inspects the metadata. Only extrinsic format version 4 is
// supported (the one every subtensor runtime up to HEAD accepts).
func readExtrinsicFormat(m *metadata.Metadata) (extrinsicFormat, error) {
	f := extrinsicFormat{addressPrefix: []byte{0}, signaturePrefix: []byte{1}}
	if m.Extrinsic.Version != 4 {
		return f, fmt.Errorf("extrinsic format version %d (want 4)", m.Extrinsic.Version)
	}
	addr, sig := m.Extrinsic.Address, m.Extrinsic.Signature
	if m.Version == 14 {
		t, err := m.Type(m.Extrinsic.Type)
		if err != nil {
			return f, err
		}
		for _, p := range t.Params {
			if p.Type == nil {
				continue
			}
			switch p.Name {
			case "Address":
				addr = *p.Type
			case "Signature":
				sig = *p.Type
			}
		}
	}
	if t, err := m.Type(addr); err == nil {
		switch t.Kind {
		case metadata.KindVariant:
			v, ok := t.VariantByName("Id")
			if !ok {
				return f, fmt.Errorf("address type %s has no Id variant", t.PathString())
			}
			f.addressPrefix = []byte{v.Index}
		default:
			if metadataSize(m, addr) == 32 {
				f.addressPrefix = nil
			}
		}
	}
	if t, err := m.Type(sig); err == nil {
		switch t.Kind {
		case metadata.KindVariant:
			v, ok := t.VariantByName("Sr25519")
			if !ok {
				return f, fmt.Errorf("signature type %s has no Sr25519 variant", t.PathString())
			}
			f.signaturePrefix = []byte{v.Index}
		default:
			if metadataSize(m, sig) == 64 {
				f.signaturePrefix = nil
			}
		}
	}
	return f, nil
}

func metadataSize(m *metadata.Metadata, id metadata.TypeID) int { return m.MinSize(id) }

// signExtrinsic builds a signed v4 extrinsic:
//
//	Compact(len) ‖ 0x84 ‖ address ‖ signature ‖ extra ‖ call
func signExtrinsic(m *metadata.Metadata, signer Signer, call []byte, st signingState) ([]byte, error) {
	format, err := readExtrinsicFormat(m)
	if err != nil {
		return nil, err
	}
	extra, additional, err := signedExtensions(m, st)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(signingPayload(call, extra, additional))
	if err != nil {
		return nil, fmt.Errorf("sign extrinsic: %w", err)
	}
	if len(sig) != 64 {
		return nil, errors.New("sign extrinsic: signature is not 64 bytes")
	}
	pub := signer.PublicKey()
	body := []byte{0x84}
	body = append(append(body, format.addressPrefix...), pub[:]...)
	body = append(append(body, format.signaturePrefix...), sig...)
	body = append(append(body, extra...), call...)
	return append(scale.AppendCompact(nil, uint64(len(body))), body...), nil
}
