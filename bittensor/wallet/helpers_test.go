package wallet

import schnorrkel "github.com/ChainSafe/go-schnorrkel"

func parsePublicKeyForTest(pub [32]byte) (*schnorrkel.PublicKey, error) {
	return schnorrkel.NewPublicKey(pub)
}

func parseSignatureForTest(sig []byte) (*schnorrkel.Signature, bool) {
	if len(sig) != SignatureSize {
		return nil, false
	}
	var s schnorrkel.Signature
	if err := s.Decode([64]byte(sig)); err != nil {
		return nil, false
	}
	return &s, true
}
