package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/btlm-miner/btlm-miner/bittensor/scale"
	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
	"github.com/btlm-miner/btlm-miner/internal/chaintest"
)

// Balances in rao (1 TAO = 1e9 rao).
const (
	fundRao      = 1_000_000_000_000_000 // the coldkey, for the burned registrations
	validatorRao = 5_000_000_000_000     // 5000 TAO, above minStakeTAO
	lowStakeRao  = 1_000_000_000         // 1 TAO, below minStakeTAO
)

// keys are the accounts of the test. Only the miner's hotkey is written to disk; the
// others sign in the test process.
type keys struct {
	cold      *wallet.Keypair // //Alice: funds the burned registrations
	miner     *wallet.Keypair // fresh mnemonic: the secrets must never reach the logs
	mnemonic  string
	validator *wallet.Keypair // registered, validator permit, 5000 TAO
	lowStake  *wallet.Keypair // registered, permit, 1 TAO (below the minimum)
	noPermit  *wallet.Keypair // registered, 5000 TAO, no permit
	stranger  *wallet.Keypair // never registered
	newcomer  *wallet.Keypair // registered with stake and permit after the miner started
}

func newKeys(t *testing.T) keys {
	t.Helper()
	uri := func(u string) *wallet.Keypair {
		kp, err := wallet.KeypairFromURI(u)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	phrase, err := wallet.NewMnemonic(12)
	if err != nil {
		t.Fatal(err)
	}
	miner, err := wallet.KeypairFromMnemonic(phrase)
	if err != nil {
		t.Fatal(err)
	}
	return keys{cold: uri("//Alice"), miner: miner, mnemonic: phrase,
		validator: uri("//BtlmE2EValidator"), lowStake: uri("//BtlmE2ELowStake"),
		noPermit: uri("//BtlmE2ENoPermit"), stranger: uri("//BtlmE2EStranger"),
		newcomer: uri("//BtlmE2ENewcomer")}
}

func account(kp *wallet.Keypair) subtensor.AccountID { return subtensor.AccountID(kp.PublicKey()) }

// prepareChain registers the miner and the callers on netuid 1 and gives them stake and
// validator permits through storage (burned_register for real, stake and permits with
// dev_setStorage: staking itself is not what is under test).
func prepareChain(t *testing.T, ctx context.Context, n *chaintest.Node, c *subtensor.Client, k keys) {
	t.Helper()
	if err := n.Fund(ctx, fundRao, scale.AccountID(k.cold.PublicKey())); err != nil {
		t.Fatal(err)
	}
	if err := n.RelaxRateLimits(ctx, netuid); err != nil {
		t.Fatal(err)
	}
	// Five registrations, one block each: lift the per-block and per-interval limits.
	limits := []any{[]any{[]any{netuid}, 16}}
	if err := n.SetStorage(ctx, map[string]any{"SubtensorModule": map[string]any{
		"MaxRegistrationsPerBlock": limits, "TargetRegistrationsPerInterval": limits}}); err != nil {
		t.Fatal(err)
	}
	for _, hk := range []*wallet.Keypair{k.miner, k.validator, k.lowStake, k.noPermit} {
		register(t, ctx, c, k.cold, hk)
	}
	setStakeAndPermits(t, ctx, n, c, k.cold, map[*wallet.Keypair]uint64{
		k.validator: validatorRao, k.lowStake: lowStakeRao, k.noPermit: validatorRao},
		[]*wallet.Keypair{k.validator, k.lowStake})
	m, err := c.Metagraph(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		kp     *wallet.Keypair
		stake  uint64
		permit bool
	}{{k.validator, validatorRao, true}, {k.lowStake, lowStakeRao, true}, {k.noPermit, validatorRao, false}} {
		nn := m.ByHotkey(account(want.kp))
		if nn == nil || nn.Stake != want.stake || nn.ValidatorPermit != want.permit {
			t.Fatalf("metagraph neuron of %s = %+v, want stake %d permit %v", want.kp.SS58(), nn, want.stake, want.permit)
		}
	}
	if m.ByHotkey(account(k.stranger)) != nil {
		t.Fatal("the stranger is registered")
	}
}

// register burns for hotkey's registration on netuid 1, paid by cold.
func register(t *testing.T, ctx context.Context, c *subtensor.Client, cold, hotkey *wallet.Keypair) {
	t.Helper()
	if _, err := c.BurnedRegister(ctx, cold, netuid, account(hotkey)); err != nil {
		t.Fatalf("burned_register %s: %v", hotkey.SS58(), err)
	}
	if ok, _, err := c.IsRegistered(ctx, netuid, account(hotkey)); err != nil || !ok {
		t.Fatalf("%s registered = %v, %v", hotkey.SS58(), ok, err)
	}
}

// setStakeAndPermits stores Stake(hotkey, cold) for each hotkey (spec 218's
// NeuronInfoLite stake is Stake(hotkey, coldkey) summed over coldkeys) and gives a
// validator permit to exactly the hotkeys in permitted.
func setStakeAndPermits(t *testing.T, ctx context.Context, n *chaintest.Node, c *subtensor.Client, cold *wallet.Keypair,
	stake map[*wallet.Keypair]uint64, permitted []*wallet.Keypair) {
	t.Helper()
	size, err := c.SubnetworkN(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	permits := make([]bool, size)
	for _, hk := range permitted {
		ok, uid, err := c.IsRegistered(ctx, netuid, account(hk))
		if err != nil || !ok || int(uid) >= len(permits) {
			t.Fatalf("%s registered = %v at uid %d of %d: %v", hk.SS58(), ok, uid, size, err)
		}
		permits[uid] = true
	}
	var entries []any
	for hk, rao := range stake {
		entries = append(entries, []any{[]any{chaintest.Address(scale.AccountID(hk.PublicKey())),
			chaintest.Address(scale.AccountID(cold.PublicKey()))}, fmt.Sprint(rao)})
	}
	if err := n.SetStorage(ctx, map[string]any{"SubtensorModule": map[string]any{
		"Stake": entries, "ValidatorPermit": []any{[]any{[]any{netuid}, permits}},
	}}); err != nil {
		t.Fatal(err)
	}
}
