package metadata_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/rpc"
	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/scale/metadata"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

// These tests read metadata from real subtensor runtimes run by chopsticks and check it
// against the facts in shared/subtensor/README.md ("What each runtime contains").

func TestMain(m *testing.M) { os.Exit(chaintest.Main(m)) }

func ctx60(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, n *chaintest.Node) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial(ctx60(t), n.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func fetch(t *testing.T, c *rpc.Client) *metadata.Metadata {
	t.Helper()
	var raw rpc.Bytes
	if err := c.Call(ctx60(t), &raw, "state_getMetadata"); err != nil {
		t.Fatal(err)
	}
	b, err := metadata.Unwrap(raw)
	if err != nil {
		t.Fatal(err)
	}
	m, err := metadata.Decode(b)
	if err != nil {
		t.Fatalf("decode %d bytes of metadata: %v", len(raw), err)
	}
	return m
}

func readStorage(t *testing.T, c *rpc.Client, m *metadata.Metadata, pallet, item string, keys ...any) any {
	t.Helper()
	key, err := m.StorageKey(pallet, item, keys...)
	if err != nil {
		t.Fatal(err)
	}
	var raw rpc.Bytes
	if err := c.Call(ctx60(t), &raw, "state_getStorage", rpc.Bytes(key)); err != nil {
		t.Fatal(err)
	}
	v, err := m.DecodeStorageValue(pallet, item, raw)
	if err != nil {
		t.Fatalf("%s.%s = %x: %v", pallet, item, raw, err)
	}
	return v
}

func extensionIDs(m *metadata.Metadata) []string {
	var ids []string
	for _, s := range m.Extrinsic.SignedExtensions {
		ids = append(ids, s.Identifier)
	}
	return ids
}

var standardExtensions = []string{"CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis",
	"CheckMortality", "CheckNonce", "CheckWeight", "ChargeTransactionPayment"}

// serveAxon encodes the worked example of subtensor-chain.md §2 through the metadata.
func serveAxon(t *testing.T, m *metadata.Metadata) []byte {
	t.Helper()
	call, err := m.EncodeCall("SubtensorModule", "serve_axon", map[string]any{
		"netuid": 1, "version": 6001000, "ip": 0x09090909, "port": 8093,
		"ip_type": 4, "protocol": 4, "placeholder1": 0, "placeholder2": 0})
	if err != nil {
		t.Fatal(err)
	}
	return call
}

const serveAxonArgs = "0100" + "68915b00" + "09090909000000000000000000000000" + "9d1f" + "04" + "04" + "00" + "00"

func checkSubtensorLayout(t *testing.T, m *metadata.Metadata, pallet byte) {
	t.Helper()
	for call, idx := range map[string]byte{"set_weights": 0, "serve_axon": 4, "burned_register": 7} {
		got, err := m.CallIndex("SubtensorModule", call)
		if err != nil || got != [2]byte{pallet, idx} {
			t.Errorf("CallIndex(%s) = %v, %v; want [%d %d]", call, got, err, pallet, idx)
		}
	}
	if got := hex.EncodeToString(serveAxon(t, m)); got != hex.EncodeToString([]byte{pallet, 4})+serveAxonArgs {
		t.Errorf("serve_axon = %s", got)
	}
	for item, hashers := range map[string][]metadata.Hasher{
		"Uids":        {metadata.Identity, metadata.Blake2_128Concat},
		"Keys":        {metadata.Identity, metadata.Identity},
		"SubnetworkN": {metadata.Identity},
		"Axons":       {metadata.Identity, metadata.Blake2_128Concat},
	} {
		_, e, err := m.StorageEntry("SubtensorModule", item)
		if err != nil || !slices.Equal(e.Hashers, hashers) {
			t.Errorf("storage %s: %v %v", item, e, err)
		}
	}
	_, axons, _ := m.StorageEntry("SubtensorModule", "Axons")
	axon, err := m.Type(axons.Value)
	if err != nil || axon.Kind != metadata.KindComposite || len(axon.Fields) != 8 || axon.Fields[2].Name != "ip" {
		t.Errorf("AxonInfo type: %+v %v", axon, err)
	}
	var invalidIP *metadata.ModuleError
	p, _ := m.Pallet("SubtensorModule")
	errType, _ := m.Type(*p.Errors)
	if v, ok := errType.VariantByName("InvalidIpAddress"); ok {
		invalidIP, err = m.LookupModuleError(pallet, v.Index)
	}
	if invalidIP == nil || invalidIP.Pallet != "SubtensorModule" || invalidIP.Name != "InvalidIpAddress" || err != nil {
		t.Errorf("InvalidIpAddress lookup: %v %v", invalidIP, err)
	}
	for _, s := range m.Extrinsic.SignedExtensions {
		z, err := m.IsZeroSized(s.Type)
		za, _ := m.IsZeroSized(s.AdditionalSigned)
		wantZero := s.Identifier == "CheckNonZeroSender" || s.Identifier == "CheckWeight" ||
			s.Identifier == "SubtensorSignedExtension" || s.Identifier == "CommitmentsSignedExtension"
		if err != nil || (z && za) != wantZero {
			t.Errorf("extension %s zero-sized = %v/%v, %v", s.Identifier, z, za, err)
		}
	}
}

func TestRaonetSpec218(t *testing.T) {
	node := chaintest.Shared(t, chaintest.Raonet)
	c := dial(t, node)
	ctx := ctx60(t)
	m := fetch(t, c)
	if m.Version != 14 {
		t.Errorf("state_getMetadata version %d, want 14", m.Version)
	}
	checkSubtensorLayout(t, m, 7)
	wantExt := append(slices.Clone(standardExtensions), "SubtensorSignedExtension", "CommitmentsSignedExtension", "CheckMetadataHash")
	if got := extensionIDs(m); !slices.Equal(got, wantExt) {
		t.Errorf("signed extensions %v", got)
	}

	// System.Number read from storage and decoded by type equals the header's number.
	var head rpc.Header
	if err := c.Call(ctx, &head, "chain_getHeader"); err != nil {
		t.Fatal(err)
	}
	if num := readStorage(t, c, m, "System", "Number"); num != uint64(head.Number) {
		t.Errorf("System.Number = %v, header %d", num, head.Number)
	}
	// netuid 1 has one neuron, uid 0 = the all-zero account.
	if n := readStorage(t, c, m, "SubtensorModule", "SubnetworkN", 1); n != uint64(1) {
		t.Errorf("SubnetworkN(1) = %v", n)
	}
	var zero scale.AccountID
	if k := readStorage(t, c, m, "SubtensorModule", "Keys", 1, 0); !bytes.Equal(k.([]byte), zero[:]) {
		t.Errorf("Keys(1, 0) = %x", k)
	}
	if uid := readStorage(t, c, m, "SubtensorModule", "Uids", 1, zero); uid != uint64(0) {
		t.Errorf("Uids(1, 0x00…) = %v", uid)
	}
	var alice scale.AccountID
	aliceKey, _ := hex.DecodeString("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
	copy(alice[:], aliceKey)
	if uid := readStorage(t, c, m, "SubtensorModule", "Uids", 1, alice); uid != nil {
		t.Errorf("Uids(1, Alice) = %v, want nil (absent)", uid)
	}
	if ax := readStorage(t, c, m, "SubtensorModule", "Axons", 1, alice); ax != nil {
		t.Errorf("Axons(1, Alice) = %v, want nil", ax)
	}
	if err := node.Fund(ctx, 1_000_000_000_000_000, alice); err != nil {
		t.Fatal(err)
	}
	acct, ok := readStorage(t, c, m, "System", "Account", alice).(map[string]any)
	if !ok || acct["providers"] != uint64(1) || acct["data"].(map[string]any)["free"] != uint64(1e15) {
		t.Errorf("System.Account(Alice) = %v", acct)
	}
	// System.Events (Vec<EventRecord<RuntimeEvent, H256>>) decodes dynamically.
	if _, err := node.NewBlock(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if ev, ok := readStorage(t, c, m, "System", "Events").([]any); !ok || len(ev) == 0 {
		t.Errorf("System.Events = %v", ev)
	}

	// Metadata v15 through the runtime API: the neurons_lite output type shows the
	// Vec<u8>-wrapped result of this runtime.
	var raw15 rpc.Bytes
	if err := c.Call(ctx, &raw15, "state_call", "Metadata_metadata_at_version", rpc.Bytes(scale.AppendU32(nil, 15))); err != nil {
		t.Fatal(err)
	}
	b15, err := metadata.Unwrap(raw15)
	if err != nil {
		t.Fatal(err)
	}
	m15, err := metadata.Decode(b15)
	if err != nil {
		t.Fatal(err)
	}
	checkSubtensorLayout(t, m15, 7)
	api, err := m15.RuntimeAPIMethod("NeuronInfoRuntimeApi", "get_neurons_lite")
	if err != nil || len(api.Inputs) != 1 || api.Inputs[0].Name != "netuid" {
		t.Fatalf("get_neurons_lite: %+v %v", api, err)
	}
	out, _ := m15.Type(api.Output)
	if elem, _ := m15.Type(out.Elem); out.Kind != metadata.KindSequence || elem.Kind != metadata.KindPrimitive || elem.Primitive != metadata.U8 {
		t.Errorf("get_neurons_lite output %+v, want Vec<u8>", out)
	}
}

func TestTestfinneySpec103(t *testing.T) {
	node := chaintest.StartT(t, chaintest.Options{Runtime: chaintest.Testfinney})
	c := dial(t, node)
	m := fetch(t, c)
	checkSubtensorLayout(t, m, 8)
	if got := extensionIDs(m); !slices.Equal(got, standardExtensions) {
		t.Errorf("signed extensions %v", got)
	}
	if idx, err := m.CallIndex("Sudo", "sudo"); err != nil || idx[0] != 7 {
		t.Errorf("Sudo.sudo = %v %v", idx, err)
	}
	if _, err := m.CallIndex("SubtensorModule", "sudo_register"); err != nil {
		t.Error(err)
	}
	if n := readStorage(t, c, m, "SubtensorModule", "SubnetworkN", 3); n != uint64(0) {
		t.Errorf("SubnetworkN(3) = %v", n)
	}
	// The 2023 AccountData layout: free, reserved, misc_frozen, fee_frozen.
	v, err := m.DecodeStorageValue("System", "Account", nil)
	if data := v.(map[string]any)["data"].(map[string]any); err != nil || len(data) != 4 || data["misc_frozen"] != uint64(0) {
		t.Errorf("AccountData default %v %v", v, err)
	}
}

func TestTestfinneySpec143Override(t *testing.T) {
	node := chaintest.StartT(t, chaintest.Options{Runtime: chaintest.Spec143})
	c := dial(t, node)
	m := fetch(t, c)
	checkSubtensorLayout(t, m, 7)
	wantExt := append(slices.Clone(standardExtensions), "SubtensorSignedExtension", "CommitmentsSignedExtension")
	if got := extensionIDs(m); !slices.Equal(got, wantExt) {
		t.Errorf("signed extensions %v", got)
	}
	if p, err := m.Pallet("Sudo"); err != nil || p.Index != 12 {
		t.Errorf("Sudo pallet %v %v", p, err)
	}
	if _, err := m.CallIndex("SubtensorModule", "register_network"); err != nil {
		t.Error(err)
	}
}
