package subtensor

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/rpc"
)

func TestEncodeIP(t *testing.T) {
	tests := []struct {
		ip     string
		want   string // little-endian u128 hex
		ipType uint8
	}{
		{"1.2.3.4", "04030201000000000000000000000000", 4},
		{"9.9.9.9", "09090909000000000000000000000000", 4},
		{"127.0.0.1", "0100007f000000000000000000000000", 4},
		{"::ffff:1.2.3.4", "04030201000000000000000000000000", 4},
		{"::1", "01000000000000000000000000000000", 6},
		{"2001:db8::1", "010000000000000000000000b80d0120", 6},
	}
	for _, tc := range tests {
		u, typ, err := EncodeIP(tc.ip)
		if err != nil {
			t.Fatalf("EncodeIP(%s): %v", tc.ip, err)
		}
		if got := hex.EncodeToString(u[:]); got != tc.want || typ != tc.ipType {
			t.Errorf("EncodeIP(%s) = %s type %d, want %s type %d", tc.ip, got, typ, tc.want, tc.ipType)
		}
		back, err := DecodeIP(u, typ)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimPrefix(tc.ip, "::ffff:"); back != want {
			t.Errorf("DecodeIP(EncodeIP(%s)) = %s", tc.ip, back)
		}
	}
	// 1.2.3.4 is 16909060 as bittensor's net.ip_to_int computes it.
	u, _, _ := EncodeIP("1.2.3.4")
	if v := binary.LittleEndian.Uint64(u[:8]); v != 16909060 {
		t.Errorf("1.2.3.4 = %d, want 16909060", v)
	}
	for _, bad := range []string{"", "1.2.3", "example.com", "fe80::1%eth0"} {
		if _, _, err := EncodeIP(bad); err == nil {
			t.Errorf("EncodeIP(%q) succeeded", bad)
		}
	}
	var big [16]byte
	big[5] = 1
	if _, err := DecodeIP(big, 4); err == nil {
		t.Error("DecodeIP accepted an IPv4 value above 2^32")
	}
}

func TestValidChainIP(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"1.2.3.4", true}, {"8.8.8.8", true}, {"2001:db8::1", true},
		{"127.0.0.1", false}, {"0.0.0.0", false}, {"::1", false}, {"::", false},
		{"255.255.255.255", false}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
	}
	for _, tc := range tests {
		u, typ, err := EncodeIP(tc.ip)
		if err != nil {
			t.Fatal(err)
		}
		if got := validChainIP(u, typ); got != tc.want {
			t.Errorf("validChainIP(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestAxonInfoRoundTrip(t *testing.T) {
	a := AxonInfo{Block: 77, Version: 610, IP: "1.2.3.4", Port: 8091, IPType: 4, Protocol: 4}
	b, err := encodeAxonInfo(a)
	if err != nil {
		t.Fatal(err)
	}
	want := "4d00000000000000" + "62020000" + "04030201000000000000000000000000" + "9b1f" + "04" + "04" + "00" + "00"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encode = %s\nwant     %s", got, want)
	}
	back, err := decodeAxonInfo(b)
	if err != nil || back != a {
		t.Fatalf("decode = %+v, %v", back, err)
	}
	if !a.Serving() || (AxonInfo{IP: "0.0.0.0"}).Serving() {
		t.Error("Serving() wrong")
	}
	if _, err := decodeAxonInfo(b[:33]); err == nil {
		t.Error("short axon info accepted")
	}
}

func TestSS58(t *testing.T) {
	// Alice's public key and address (substrate dev account).
	pub, _ := hex.DecodeString("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
	var id AccountID
	copy(id[:], pub)
	if got := id.String(); got != "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" {
		t.Fatalf("SS58 = %s", got)
	}
	back, err := ParseAccountID("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	if err != nil || back != id {
		t.Fatalf("parse: %v %v", back, err)
	}
	hexID, err := ParseAccountID("0x" + hex.EncodeToString(pub))
	if err != nil || hexID != id {
		t.Fatalf("parse hex: %v", err)
	}
	for _, bad := range []string{"", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ", "0OIl", "5Grwva", "0x1234"} {
		if _, err := ParseAccountID(bad); err == nil {
			t.Errorf("ParseAccountID(%q) succeeded", bad)
		}
	}
}

func TestEra(t *testing.T) {
	tests := []struct {
		period, current uint64
		want            string
		birth           uint64
	}{
		{64, 42, "a502", 42},          // substrate Era::mortal(64, 42)
		{32768, 20000, "4e9c", 20000}, // substrate Era::mortal(32768, 20000)
		{100, 1000, "", 0},            // period rounds up to 128
		{1, 5, "", 0},                 // period clamps to 4
	}
	for _, tc := range tests {
		e := MortalEra(tc.period, tc.current)
		got := hex.EncodeToString(e.Encode())
		if tc.want != "" && got != tc.want {
			t.Errorf("MortalEra(%d,%d) = %s, want %s", tc.period, tc.current, got, tc.want)
		}
		if e.Period&(e.Period-1) != 0 || e.Period < 4 || e.Period > 65536 {
			t.Errorf("period %d not a power of two in range", e.Period)
		}
		// The birth block is within one period at or before current and has the era's phase.
		b := e.Birth(tc.current)
		if b > tc.current || tc.current-b >= e.Period || b%e.Period != e.Phase {
			t.Errorf("MortalEra(%d,%d) birth %d (period %d phase %d)", tc.period, tc.current, b, e.Period, e.Phase)
		}
	}
	if MortalEra(100, 0).Period != 128 || MortalEra(1, 0).Period != 4 || MortalEra(1<<20, 0).Period != 65536 {
		t.Error("period rounding")
	}
	if got := (Era{}).Encode(); !bytes.Equal(got, []byte{0}) {
		t.Errorf("immortal = %x", got)
	}
}

func TestNormalizeWeights(t *testing.T) {
	tests := []struct {
		uids     []uint16
		weights  []float64
		wantUIDs []uint16
		wantW    []uint16
	}{
		{[]uint16{3}, []float64{1}, []uint16{3}, []uint16{65535}},
		{[]uint16{0, 1, 2}, []float64{0, 0, 7}, []uint16{2}, []uint16{65535}},
		{[]uint16{0, 1}, []float64{0.5, 1}, []uint16{0, 1}, []uint16{32768, 65535}},  // 32767.5 rounds to even
		{[]uint16{0, 1}, []float64{0.25, 1}, []uint16{0, 1}, []uint16{16384, 65535}}, // 16383.75
		{[]uint16{0, 1}, []float64{0, 0}, nil, nil},
	}
	for _, tc := range tests {
		u, w, err := NormalizeWeights(tc.uids, tc.weights)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u, tc.wantUIDs) || !slices.Equal(w, tc.wantW) {
			t.Errorf("NormalizeWeights(%v, %v) = %v %v, want %v %v", tc.uids, tc.weights, u, w, tc.wantUIDs, tc.wantW)
		}
	}
	if _, _, err := NormalizeWeights([]uint16{1}, []float64{-1}); err == nil {
		t.Error("negative weight accepted")
	}
	if _, _, err := NormalizeWeights([]uint16{1, 2}, []float64{1}); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestConfigResolve(t *testing.T) {
	tests := []struct {
		cfg               Config
		network, url, err string
	}{
		{Config{Network: "finney"}, "finney", "wss://entrypoint-finney.opentensor.ai:443", ""},
		{Config{}, "finney", "wss://entrypoint-finney.opentensor.ai:443", ""},
		{Config{Network: "test"}, "test", "wss://test.finney.opentensor.ai:443/", ""},
		{Config{Network: "local"}, "local", "ws://127.0.0.1:9944", ""},
		{Config{Network: "mock", Endpoint: "ws://x"}, "mock", "", ""},
		{Config{Network: "finney", Endpoint: "ws://127.0.0.1:9000"}, "local", "ws://127.0.0.1:9000", ""},
		{Config{Network: "ws://node.example:9944"}, "custom", "ws://node.example:9944", ""},
		{Config{Network: "finney", Endpoint: "http://x"}, "", "", "ws://"},
		{Config{Network: "nakamoto"}, "", "", "subtensor.network"},
	}
	for _, tc := range tests {
		n, u, err := tc.cfg.Resolve()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.err)
			}
			continue
		}
		if err != nil || n != tc.network || u != tc.url {
			t.Errorf("%+v: %s %s %v, want %s %s", tc.cfg, n, u, err, tc.network, tc.url)
		}
	}
}

func TestMetagraph(t *testing.T) {
	hk := func(b byte) AccountID { var a AccountID; a[0] = b; return a }
	m, err := NewMetagraph(1, 10, []Neuron{{UID: 1, Hotkey: hk(2)}, {UID: 0, Hotkey: hk(1), Stake: 5e9, ValidatorPermit: true}})
	if err != nil {
		t.Fatal(err)
	}
	if uid, ok := m.UID(hk(2)); !ok || uid != 1 {
		t.Errorf("UID = %d %v", uid, ok)
	}
	if n := m.ByHotkey(hk(1)); n == nil || n.StakeTAO() != 5 || !n.ValidatorPermit {
		t.Errorf("ByHotkey = %+v", n)
	}
	if m.ByHotkey(hk(9)) != nil || m.Neuron(2) != nil {
		t.Error("lookup of a missing neuron succeeded")
	}
	literal := &Metagraph{Netuid: 1, Neurons: m.Neurons}
	if n := literal.ByHotkey(hk(2)); n == nil || n.UID != 1 {
		t.Errorf("lookup in a literal metagraph = %+v", n)
	}
	if _, err := NewMetagraph(1, 0, []Neuron{{UID: 0}, {UID: 0}}); err == nil {
		t.Error("duplicate uid accepted")
	}
	if _, err := NewMetagraph(1, 0, []Neuron{{UID: 0, Hotkey: hk(1)}, {UID: 1, Hotkey: hk(1)}}); err == nil {
		t.Error("duplicate hotkey accepted")
	}
}

// TestMetagraphHolderAtomic publishes snapshots while readers check that each one they
// load is internally consistent (every neuron carries the snapshot's block).
func TestMetagraphHolderAtomic(t *testing.T) {
	var h MetagraphHolder
	if h.Load() != nil {
		t.Fatal("zero holder not empty")
	}
	build := func(block uint64) *Metagraph {
		ns := make([]Neuron, 64)
		for i := range ns {
			ns[i] = Neuron{UID: uint16(i), LastUpdate: block}
			ns[i].Hotkey[0], ns[i].Hotkey[1] = byte(i), byte(block)
		}
		m, err := NewMetagraph(1, block, ns)
		if err != nil {
			t.Error(err)
		}
		return m
	}
	h.Store(build(0))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad error
	var once sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := h.Load()
				for _, n := range m.Neurons {
					if n.LastUpdate != m.Block {
						once.Do(func() { bad = errors.New("torn snapshot") })
					}
				}
			}
		}()
	}
	for b := uint64(1); b < 200; b++ {
		h.Store(build(b))
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
	if h.Load().Block != 199 {
		t.Fatal("last store not visible")
	}
}

type testSigner struct{ pub [32]byte }

func (s testSigner) PublicKey() [32]byte             { return s.pub }
func (s testSigner) Sign(msg []byte) ([]byte, error) { return make([]byte, 64), nil }

func TestMockChainDefault(t *testing.T) {
	ctx := context.Background()
	var me AccountID
	me[0] = 7
	c := NewMockChain(me)
	c.BlockTime = 20 * time.Millisecond
	m, err := c.Metagraph(ctx, 5)
	if err != nil || m.N() != 1 || m.Netuid != 5 {
		t.Fatalf("metagraph %+v %v", m, err)
	}
	if ok, uid, err := c.IsRegistered(ctx, 5, me); !ok || uid != 0 || err != nil {
		t.Fatalf("IsRegistered = %v %d %v", ok, uid, err)
	}
	if _, ok, _ := c.AxonInfo(ctx, 5, me); ok {
		t.Fatal("axon served before ServeAxon")
	}
	err = c.ServeAxon(ctx, testSigner{me}, 5, AxonInfo{IP: "127.0.0.1", Port: 1})
	if !errors.Is(err, &ModuleError{Pallet: "SubtensorModule", Name: "InvalidIpAddress"}) {
		t.Fatalf("loopback serve: %v", err)
	}
	if err := c.ServeAxon(ctx, testSigner{me}, 5, AxonInfo{IP: "1.2.3.4", Port: 8091, Version: 610, Protocol: 4}); err != nil {
		t.Fatal(err)
	}
	a, ok, err := c.AxonInfo(ctx, 5, me)
	if err != nil || !ok || a.IP != "1.2.3.4" || a.Port != 8091 || a.IPType != 4 {
		t.Fatalf("axon = %+v %v %v", a, ok, err)
	}
	var other AccountID
	other[0] = 8
	err = c.SetWeights(ctx, testSigner{other}, 5, []uint16{0}, []uint16{65535}, 1)
	if !errors.Is(err, &ModuleError{Pallet: "SubtensorModule", Name: "NotRegistered"}) {
		t.Fatalf("unregistered set_weights: %v", err)
	}
	ch, err := c.SubscribeBlocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b1 := <-ch
	b2 := <-ch
	if b2 <= b1 {
		t.Fatalf("blocks %d then %d", b1, b2)
	}
	c.Close()
	if _, err := c.Block(ctx); err == nil {
		t.Fatal("closed mock answered")
	}
	if _, open := <-ch; open {
		// drain: at most one buffered value, then closed
		if _, open := <-ch; open {
			t.Fatal("subscription not closed after Close")
		}
	}
}

func TestMockChainFromFile(t *testing.T) {
	js := `{"netuid": 3, "block": 1000, "neurons": [
	  {"uid": 1, "hotkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "stake": 2000000000000, "validator_permit": true,
	   "axon": {"ip": "8.8.8.8", "port": 8091, "protocol": 4, "version": 610}},
	  {"uid": 0, "hotkey": "0x0101010101010101010101010101010101010101010101010101010101010101"}]}`
	path := filepath.Join(t.TempDir(), "mg.json")
	if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(context.Background(), Config{Network: "mock", MockMetagraph: path}, AccountID{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Metagraph(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := ParseAccountID("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	n := m.ByHotkey(alice)
	if n == nil || n.UID != 1 || n.StakeTAO() != 2000 || !n.ValidatorPermit || n.Axon.IPType != 4 || m.Block < 1000 {
		t.Fatalf("neuron = %+v (block %d)", n, m.Block)
	}
	if m.Neurons[0].Axon.IP != "0.0.0.0" || m.Neurons[0].Axon.Serving() {
		t.Fatalf("uid 0 axon = %+v", m.Neurons[0].Axon)
	}
	if _, err := c.Metagraph(context.Background(), 1); err == nil {
		t.Fatal("mock served a netuid it does not have")
	}
	for _, bad := range []string{
		`{"netuid": 1, "neurons": [{"uid": 1}]}`,                // uids not 0..n-1
		`{"netuid": 1, "neurons": [{"uid": 0, "hotkey": "x"}]}`, // bad address
		`{"netuid": 1, "neuronz": []}`,                          // unknown field
		`{"netuid": 1, "neurons": [{"uid": 0, "axon": {"ip": "999.1.1.1"}}]}`,
		`{"netuid": 1, "neurons": []} {}`, // trailing data
	} {
		if _, err := ReadMetagraphJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// flakyChain fails Metagraph while down is set.
type flakyChain struct {
	*MockChain
	mu   sync.Mutex
	down bool
}

func (f *flakyChain) Metagraph(ctx context.Context, netuid uint16) (*Metagraph, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, errors.New("node unreachable")
	}
	return f.MockChain.Metagraph(ctx, netuid)
}

func TestSyncMetagraph(t *testing.T) {
	var me AccountID
	me[3] = 1
	mock := NewMockChain(me)
	mock.BlockTime = 5 * time.Millisecond
	f := &flakyChain{MockChain: mock}
	var h MetagraphHolder
	errs := make(chan error, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		SyncMetagraph(ctx, f, 4, 10*time.Millisecond, time.Second, &h, func(err error) {
			select {
			case errs <- err:
			default:
			}
		})
		close(done)
	}()
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal("condition not reached")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(func() bool { return h.Load() != nil })
	if m := h.Load(); m.Netuid != 4 || m.ByHotkey(me) == nil {
		t.Fatalf("snapshot %+v", m)
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	err := <-errs
	if !strings.Contains(err.Error(), "node unreachable") {
		t.Fatalf("error %v", err)
	}
	kept := h.Load()
	if kept == nil {
		t.Fatal("snapshot dropped while the chain is down")
	}
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
	waitFor(func() bool { return h.Load().Block > kept.Block })
	cancel()
	<-done
}

func TestTxRejection(t *testing.T) {
	tests := []struct {
		err  rpc.Error
		want string
	}{
		{rpc.Error{Code: 1010, Message: "Invalid Transaction", Data: json.RawMessage(`"Transaction has a bad signature"`)}, "1010 Invalid Transaction: Transaction has a bad signature"},
		{rpc.Error{Code: 1010, Message: "", Data: json.RawMessage(`{"invalid":{"badProof":null}}`)}, "1010 : invalid.badProof"},
		{rpc.Error{Code: 1010, Message: "x", Data: json.RawMessage(`{"invalid":{"custom":3}}`)}, `1010 x: {"invalid":{"custom":3}}`},
		{rpc.Error{Code: 1012, Message: "Transaction is temporarily banned"}, "1012 Transaction is temporarily banned"},
	}
	for _, tc := range tests {
		if got := txRejection(&tc.err); got != tc.want {
			t.Errorf("txRejection(%+v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestEnsureServed(t *testing.T) {
	ctx := context.Background()
	var me, other AccountID
	me[0], other[0] = 1, 2
	c := NewMockChain(me)
	want := AxonInfo{IP: "1.2.3.4", Port: 8091, Version: 610, Protocol: 4}
	uid, sent, err := EnsureServed(ctx, c, testSigner{me}, 1, want)
	if err != nil || !sent || uid != 0 {
		t.Fatalf("first: uid %d sent %v err %v", uid, sent, err)
	}
	if _, sent, err = EnsureServed(ctx, c, testSigner{me}, 1, want); err != nil || sent {
		t.Fatalf("unchanged endpoint sent again: %v %v", sent, err)
	}
	want.Port = 8092
	if _, sent, err = EnsureServed(ctx, c, testSigner{me}, 1, want); err != nil || !sent {
		t.Fatalf("changed port not sent: %v %v", sent, err)
	}
	if _, _, err = EnsureServed(ctx, c, testSigner{other}, 1, want); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
	if _, _, err = EnsureServed(ctx, c, testSigner{me}, 1, AxonInfo{IP: "nope"}); err == nil {
		t.Fatal("bad ip accepted")
	}
}
