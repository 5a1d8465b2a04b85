package wallet

import "testing"

func TestURIVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Keys.URIVectors) == 0 {
		t.Fatal("no uri vectors")
	}
	for _, tc := range v.Keys.URIVectors {
		t.Run(tc.URI, func(t *testing.T) {
			kp, err := KeypairFromURI(tc.URI)
			if err != nil {
				t.Fatal(err)
			}
			checkKeypair(t, kp, tc.PublicKey, tc.SS58Address)
		})
	}
}

func TestURIParsing(t *testing.T) {
	alice, err := KeypairFromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	same, err := KeypairFromURI(DevPhrase + "//Alice")
	if err != nil || same.PublicKey() != alice.PublicKey() {
		t.Errorf("explicit dev phrase differs: %v", err)
	}
	// A seed in hex derives like the phrase it came from.
	fromSeed, err := KeypairFromURI("0xfac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e//Alice")
	if err != nil || fromSeed.PublicKey() != alice.PublicKey() {
		t.Errorf("hex seed URI differs: %v", err)
	}
	soft, _ := KeypairFromURI("/Alice")
	if soft == nil || soft.PublicKey() == alice.PublicKey() {
		t.Error("soft and hard junction give the same key")
	}
	pw, err := KeypairFromURI("//Alice///secret")
	if err != nil || pw.PublicKey() == alice.PublicKey() {
		t.Errorf("password ignored: %v", err)
	}
	numeric, _ := KeypairFromURI("//1")
	text, _ := KeypairFromURI("//x1")
	if numeric == nil || text == nil || numeric.PublicKey() == text.PublicKey() {
		t.Error("numeric junction")
	}
	if _, err := KeypairFromURI("//" + string(make([]byte, 40))); err != nil {
		t.Errorf("long junction (hashed chain code): %v", err)
	}
	for _, bad := range []string{"//", "//Alice//", "0x1234//Alice", "not a mnemonic//Alice", string(make([]byte, maxURILen+1))} {
		if _, err := KeypairFromURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzKeypairFromURI(f *testing.F) {
	f.Add("//Alice")
	f.Add("old leopard transfer rib spatial phone calm indicate online fire caution review/Alice//0///pw")
	f.Add("0x5cb9063bc28a07f7444dbb29b6fc15b802b141a4e7dd5c932f2981be69e127e7//1/x")
	f.Add("///")
	f.Fuzz(func(t *testing.T, uri string) {
		kp, err := KeypairFromURI(uri)
		if err == nil && (kp == nil || kp.secret == nil || kp.SS58() != SS58Encode(kp.PublicKey(), 42)) {
			t.Fatal("inconsistent key pair without error")
		}
	})
}
