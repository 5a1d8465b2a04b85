package admission

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

const (
	alice   = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" // validator, 1000 TAO, permit
	bob     = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty" // registered, 10 TAO, no permit
	charlie = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y" // not registered
	dave    = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy" // registered, permit, 0 stake
)

func acct(t testing.TB, s string) subtensor.AccountID {
	id, err := subtensor.ParseAccountID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func graph(t testing.TB) *subtensor.Metagraph {
	g, err := subtensor.NewMetagraph(1, 100, []subtensor.Neuron{
		{UID: 0, Hotkey: acct(t, alice), Stake: 1000e9, ValidatorPermit: true},
		{UID: 1, Hotkey: acct(t, bob), Stake: 10e9},
		{UID: 2, Hotkey: acct(t, dave), ValidatorPermit: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func policy(t testing.TB, mod func(*config.Blacklist, *config.Priority)) *Policy {
	d := config.Default()
	b, p := d.Miner.Blacklist, d.Miner.Priority
	if mod != nil {
		mod(&b, &p)
	}
	pol, err := NewPolicy(b, p)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func timesAgo(now time.Time, ago ...time.Duration) []time.Time {
	out := make([]time.Time, len(ago))
	for i, a := range ago {
		out[i] = now.Add(-a)
	}
	return out
}

func repeat(now time.Time, n int, ago time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = now.Add(-ago)
	}
	return out
}

func TestCheck(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := graph(t)
	for _, tc := range []struct {
		name   string
		mod    func(*config.Blacklist, *config.Priority)
		g      *subtensor.Metagraph
		hotkey string
		times  []time.Time
		label  string
	}{
		{"registered passes", nil, g, bob, nil, LabelPassed},
		{"unregistered refused", nil, g, charlie, nil, LabelNotRegistered},
		{"allow_non_registered", func(b *config.Blacklist, _ *config.Priority) { b.AllowNonRegistered = true }, g, charlie, nil, LabelPassed},
		{"whitelist beats everything", func(b *config.Blacklist, _ *config.Priority) {
			b.Whitelist = []string{charlie}
			b.Blacklist = []string{charlie}
			b.ForceValidatorPermit = true
		}, g, charlie, repeat(now, 50, time.Second), LabelWhitelisted},
		{"blacklist", func(b *config.Blacklist, _ *config.Priority) { b.Blacklist = []string{alice} }, g, alice, nil, LabelBlacklisted},
		{"permit required: has one", func(b *config.Blacklist, _ *config.Priority) { b.ForceValidatorPermit = true }, g, alice, nil, LabelPassed},
		{"permit required: none", func(b *config.Blacklist, _ *config.Priority) { b.ForceValidatorPermit = true }, g, bob, nil, LabelNoPermit},
		{"permit required, unregistered allowed", func(b *config.Blacklist, _ *config.Priority) {
			b.ForceValidatorPermit, b.AllowNonRegistered = true, true
		}, g, charlie, nil, LabelNoPermit},
		// B1: minimum_stake_requirement is enforced.
		{"stake below minimum", func(b *config.Blacklist, _ *config.Priority) { b.MinimumStakeRequirement = 100 }, g, bob, nil, LabelStakeTooLow},
		{"stake at minimum", func(b *config.Blacklist, _ *config.Priority) { b.MinimumStakeRequirement = 10 }, g, bob, nil, LabelPassed},
		{"zero stake with a permit", func(b *config.Blacklist, _ *config.Priority) { b.MinimumStakeRequirement = 0.5 }, g, dave, nil, LabelStakeTooLow},
		{"unregistered has no stake", func(b *config.Blacklist, _ *config.Priority) {
			b.AllowNonRegistered, b.MinimumStakeRequirement = true, 1
		}, g, charlie, nil, LabelStakeTooLow},
		// Rate limit: 50 requests in 5 minutes refuse the 51st; 49 do not; old ones expire.
		{"rate limited", nil, g, alice, repeat(now, 50, 4*time.Minute), LabelRateLimited},
		{"49 requests pass", nil, g, alice, repeat(now, 49, time.Second), LabelPassed},
		{"window slid", nil, g, alice, append(timesAgo(now, 6*time.Minute), repeat(now, 49, time.Second)...), LabelPassed},
		{"rate limit off", func(b *config.Blacklist, _ *config.Priority) { b.MinRequestPeriod = 0 }, g, alice, repeat(now, 50, time.Second), LabelPassed},
		{"small window", func(_ *config.Blacklist, p *config.Priority) { p.LenRequestTimestamps = 2 }, g, alice, repeat(now, 2, time.Minute), LabelRateLimited},
		// B8: no metagraph and garbage hotkeys never panic.
		{"nil metagraph", nil, nil, alice, nil, LabelNotRegistered},
		{"nil metagraph, unregistered allowed", func(b *config.Blacklist, _ *config.Priority) { b.AllowNonRegistered = true }, nil, alice, nil, LabelPassed},
		{"empty hotkey", nil, g, "", nil, LabelInvalidHotkey},
		{"garbage hotkey", nil, g, "5Grw\x00<script>", nil, LabelInvalidHotkey},
		{"bad checksum", nil, g, alice[:len(alice)-1] + "Z", nil, LabelInvalidHotkey},
		{"hex hotkey of a validator", nil, g, "0x" + hex.EncodeToString(func() []byte { a := acct(t, alice); return a[:] }()), nil, LabelPassed},
	} {
		d := policy(t, tc.mod).Check(tc.g, tc.hotkey, tc.times, now)
		if d.Label != tc.label {
			t.Errorf("%s: %+v, want label %s", tc.name, d, tc.label)
		}
		wantBlocked := tc.label != LabelPassed && tc.label != LabelWhitelisted
		if d.Blocked != wantBlocked || d.Reason == "" {
			t.Errorf("%s: blocked=%v reason=%q, want blocked=%v with a reason", tc.name, d.Blocked, d.Reason, wantBlocked)
		}
	}
}

func TestNewPolicyRejectsBadHotkeys(t *testing.T) {
	d := config.Default()
	b := d.Miner.Blacklist
	b.Whitelist = []string{"nope"}
	if _, err := NewPolicy(b, d.Miner.Priority); err == nil || !strings.Contains(err.Error(), "whitelist") {
		t.Errorf("err = %v", err)
	}
}

func TestPriority(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := graph(t)
	pol := policy(t, func(_ *config.Blacklist, p *config.Priority) { p.Default = -3 })
	maxFactor := float64(MaxIdle / (10 * time.Minute)) // 144
	ten := func(ago time.Duration) []time.Time {
		return append(repeat(now, 1, ago), repeat(now, 9, time.Second)...)
	}
	for _, tc := range []struct {
		name   string
		hotkey string
		times  []time.Time
		want   float64
	}{
		{"unregistered gets the default", charlie, nil, -3},
		{"garbage gets the default", "x", nil, -3},
		// B7: no history means idle (capped), not priority.default.
		{"first request", alice, nil, 1000 * maxFactor},
		{"fewer than 10 requests", alice, repeat(now, 9, time.Second), 1000 * maxFactor},
		// stake × max(idle / 10 min, 1), idle since the 10th-last request.
		{"10th-last 30 min ago", alice, ten(30 * time.Minute), 3000},
		{"busy", alice, ten(time.Minute), 1000},
		{"idle beyond a day is capped", alice, ten(100 * time.Hour), 1000 * maxFactor},
		{"future timestamps count as busy", alice, ten(-time.Hour), 1000},
		{"zero stake", dave, nil, 0},
	} {
		if got := pol.Priority(g, tc.hotkey, tc.times, now); math.Abs(got-tc.want) > 1e-9*math.Abs(tc.want) {
			t.Errorf("%s: priority %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := pol.Priority(nil, alice, nil, now); got != -3 {
		t.Errorf("nil metagraph: %v", got)
	}
	// B6: a zero multiplier and a short window do not crash.
	if f := TimeFactor(repeat(now, 3, time.Hour), 3, 0, now); f != 1 {
		t.Errorf("zero multiplier: factor %v", f)
	}
	if f := TimeFactor(repeat(now, 3, time.Hour), 3, 10*time.Minute, now); f != 6 {
		t.Errorf("window 3 uses the oldest of 3: factor %v, want 6", f)
	}
}

func TestRequestLogBounded(t *testing.T) {
	l := NewRequestLog(3, 2)
	base := time.Unix(0, 0)
	for i := range 5 {
		l.Record("a", base.Add(time.Duration(i)*time.Second))
	}
	if got := l.Times("a"); len(got) != 3 || !got[0].Equal(base.Add(2*time.Second)) || !got[2].Equal(base.Add(4*time.Second)) {
		t.Errorf("Times(a) = %v, want the last 3", got)
	}
	l.Record("b", base)
	l.Record("a", base) // a is now the most recent
	l.Record("c", base) // evicts b
	if l.Len() != 2 || l.Times("b") != nil || l.Times("a") == nil || l.Times("c") == nil {
		t.Errorf("LRU eviction: len %d, b %v", l.Len(), l.Times("b"))
	}
	got := l.Times("a")
	got[0] = time.Time{}
	if l.Times("a")[0].IsZero() {
		t.Error("Times returned the log's own slice")
	}
}

func TestPythonJSONAndKey(t *testing.T) {
	// Expected values printed by CPython 3.11: json.dumps(list(m)) and its SHA-256.
	for _, tc := range []struct {
		in       []string
		json, sh string
	}{
		{[]string{"hi"}, `["hi"]`, "80e2a72672ff27c2e0e49a77268d65b6ddce177702d20d7df0c63a4bcf10540d"},
		{[]string{"a", "b"}, `["a", "b"]`, "3554d2b8a1e34099053865de8576d1460b807430ec8c6b85315c9607ba93d308"},
		{[]string{"é\"\\\n\t\x01", "😀", "\x7f"}, `["\u00e9\"\\\n\t\u0001", "\ud83d\ude00", "\u007f"]`,
			"eca1e007203314251c28c5d82fa9b771614da020bda082fb4f59e0f2b1ecd5cc"},
		{nil, `[]`, ""},
		{[]string{"\xff"}, `["\ufffd"]`, ""},
	} {
		if got := PythonJSONList(tc.in); got != tc.json {
			t.Errorf("PythonJSONList(%q) = %s, want %s", tc.in, got, tc.json)
		}
		if k := PromptKey(tc.in); tc.sh != "" && hex.EncodeToString(k[:]) != tc.sh {
			t.Errorf("PromptKey(%q) = %x, want %s", tc.in, k, tc.sh)
		}
		if k := PromptKey(tc.in); k != sha256.Sum256([]byte(tc.json)) {
			t.Errorf("PromptKey(%q) is not the SHA-256 of its JSON", tc.in)
		}
	}
}

func TestPromptCache(t *testing.T) {
	c := NewPromptCache(10, 100)
	a, b := []string{"a"}, []string{"b"}
	// B2: a new prompt is not "in cache"; only a repeat is.
	if c.Seen(a, 100) {
		t.Fatal("first sight reported as seen")
	}
	if !c.Seen(a, 105) || !c.Seen(a, 110) {
		t.Error("repeat within the span not refused")
	}
	if c.Seen(b, 110) {
		t.Error("different prompt refused")
	}
	// B3: recorded at 100, expired once 100 + 10 < block.
	if c.Seen(a, 111) {
		t.Error("expired prompt refused")
	}
	if !c.Seen(a, 112) {
		t.Error("re-recorded prompt not cached")
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2 (b@110, a@111)", c.Len())
	}
	if c.Seen(a, 1000) || c.Len() != 1 {
		t.Errorf("after a long gap: len %d, want 1", c.Len())
	}
	// Bounded: the oldest entries go first.
	small := NewPromptCache(1<<40, 3)
	for i := range 10 {
		small.Seen([]string{fmt.Sprint(i)}, uint64(i))
	}
	if small.Len() != 3 || !small.Seen([]string{"9"}, 10) || small.Seen([]string{"0"}, 10) {
		t.Errorf("size cap: len %d", small.Len())
	}
	// Span 0: only the same block repeats.
	z := NewPromptCache(0, 10)
	if z.Seen(a, 5) || !z.Seen(a, 5) || z.Seen(a, 6) {
		t.Error("span 0")
	}
}

func BenchmarkCheck(b *testing.B) {
	g := graph(b)
	pol := policy(b, nil)
	now := time.Now()
	times := repeat(now, 20, time.Minute)
	for b.Loop() {
		pol.Check(g, alice, times, now)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(alice, int64(3))
	f.Add("", int64(0))
	f.Add("0x00", int64(-5))
	g := graph(f)
	pol := policy(f, func(b *config.Blacklist, _ *config.Priority) { b.MinimumStakeRequirement = 1 })
	f.Fuzz(func(t *testing.T, hotkey string, n int64) {
		now := time.Unix(1_700_000_000, 0)
		times := repeat(now, int(n&63), time.Duration(n)*time.Second)
		d := pol.Check(g, hotkey, times, now)
		if d.Label == "" || d.Reason == "" {
			t.Fatalf("empty decision %+v", d)
		}
		if p := pol.Priority(g, hotkey, times, now); math.IsNaN(p) || math.IsInf(p, 0) {
			t.Fatalf("priority %v", p)
		}
	})
}
