// Package admission decides which requests the miner serves, and in which order: the
// text-prompting base miner's default blacklist and priority
// (opentensor/text-prompting b126ac1, prompting/baseminer/blacklist.py and
// priority.py) and its prompt cache, rewritten as pure functions over an immutable
// metagraph snapshot plus small, bounded per-hotkey state.
//
// Bugs of the seed that are fixed here (../../shared/reference/operators-and-conventions.md
// §1, "Bugs in the 2023 base miner"), each cited where it is fixed:
//
//   - B1 minimum_stake_requirement was defined but never enforced: Check enforces it.
//   - B2 the prompt cache check was an un-awaited coroutine, always truthy, so
//     use_prompt_cache rejected every request: PromptCache.Seen returns a real answer.
//   - B3 the cache compared blocks of the startup metagraph (never resynced), so entries
//     never expired, and the dict grew without bound: PromptCache expires by the live
//     block and holds at most a fixed number of entries.
//   - B4 the rate-limit history was pre-filled with zeros and kept forever for every
//     hotkey ever seen: RequestLog keeps only real timestamps, for a bounded number of
//     hotkeys (least recently seen evicted).
//   - B5 the rate limit and priority acted on the claimed hotkey before the signature
//     was verified: timestamps are recorded only for verified requests (Record is
//     called from the priority step, which runs after verification), so forged
//     requests cannot spend a validator's allowance.
//   - B6 priority read timestamps[-10], an IndexError when len_request_timestamps < 10,
//     and divided by time_stake_multiplicate, a ZeroDivisionError when it is 0:
//     TimeFactor handles both.
//   - B7 a hotkey's first request got priority.default (0) whatever its stake, and its
//     next nine got a factor of about 3·10⁶ (time since 1970 from the zero pre-fill):
//     a hotkey with fewer than 10 recorded requests gets the capped factor MaxIdle.
//   - B8 the metagraph lookups assumed a present metagraph and list membership: Check
//     and Priority accept a nil snapshot and any string as hotkey, and never panic.
package admission

import (
	"fmt"
	"math"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

// Policy is the parsed, immutable admission configuration.
type Policy struct {
	whitelist            map[subtensor.AccountID]bool
	blacklist            map[subtensor.AccountID]bool
	forceValidatorPermit bool
	allowNonRegistered   bool
	minStakeTAO          float64
	requestWindow        int           // len_request_timestamps
	minRequestPeriod     time.Duration // 0: no rate limit
	priorityDefault      float64
	timeStakeMultiplier  time.Duration // 0: no time factor
}

// NewPolicy parses the --miner.blacklist.* and --miner.priority.* settings once.
func NewPolicy(b config.Blacklist, p config.Priority) (*Policy, error) {
	pol := &Policy{
		whitelist:            map[subtensor.AccountID]bool{},
		blacklist:            map[subtensor.AccountID]bool{},
		forceValidatorPermit: b.ForceValidatorPermit,
		allowNonRegistered:   b.AllowNonRegistered,
		minStakeTAO:          b.MinimumStakeRequirement,
		requestWindow:        max(p.LenRequestTimestamps, 1),
		minRequestPeriod:     time.Duration(b.MinRequestPeriod) * time.Minute,
		priorityDefault:      p.Default,
		timeStakeMultiplier:  time.Duration(p.TimeStakeMultiplicate) * time.Minute,
	}
	for _, l := range []struct {
		name string
		in   []string
		out  map[subtensor.AccountID]bool
	}{{"whitelist", b.Whitelist, pol.whitelist}, {"blacklist", b.Blacklist, pol.blacklist}} {
		for _, hk := range l.in {
			id, err := subtensor.ParseAccountID(hk)
			if err != nil {
				return nil, fmt.Errorf("miner.blacklist.%s: %w", l.name, err)
			}
			l.out[id] = true
		}
	}
	return pol, nil
}

// RequestWindow is the number of timestamps the rate limit needs per hotkey.
func (p *Policy) RequestWindow() int { return p.requestWindow }

// Reason labels (bounded, for metrics) of a Decision.
const (
	LabelWhitelisted    = "whitelisted"
	LabelPassed         = "passed"
	LabelBlacklisted    = "blacklisted"
	LabelInvalidHotkey  = "invalid_hotkey"
	LabelNotRegistered  = "not_registered"
	LabelNoPermit       = "no_validator_permit"
	LabelStakeTooLow    = "stake_below_minimum"
	LabelRateLimited    = "rate_limited"
	LabelPromptRepeated = "prompt_cached"
)

// Decision is the outcome of Check.
type Decision struct {
	Blocked bool
	Label   string // one of the Label constants
	Reason  string // human-readable, sent to the caller when blocked
}

// Check is the seed's default_blacklist for a request from hotkey (as claimed in the
// headers), against snapshot g (nil: nobody is registered), the hotkey's recorded
// request times (oldest first, from RequestLog.Times) and the current time. Rules, in
// the seed's order:
//
//  1. whitelisted hotkeys pass;
//  2. blacklisted hotkeys are refused;
//  3. unregistered hotkeys are refused unless allow_non_registered;
//  4. with force_validator_permit, hotkeys without a permit are refused;
//  5. hotkeys with less stake than minimum_stake_requirement TAO are refused (B1);
//  6. a hotkey that sent len_request_timestamps requests within min_request_period is
//     refused until the oldest of them leaves the period.
func (p *Policy) Check(g *subtensor.Metagraph, hotkey string, times []time.Time, now time.Time) Decision {
	id, err := subtensor.ParseAccountID(hotkey)
	if err != nil {
		return Decision{true, LabelInvalidHotkey, "invalid hotkey"}
	}
	if p.whitelist[id] {
		return Decision{false, LabelWhitelisted, "whitelisted hotkey"}
	}
	if p.blacklist[id] {
		return Decision{true, LabelBlacklisted, "blacklisted hotkey"}
	}
	var n *subtensor.Neuron
	if g != nil {
		n = g.ByHotkey(id)
	}
	if n == nil && !p.allowNonRegistered {
		return Decision{true, LabelNotRegistered, "hotkey not registered"}
	}
	if p.forceValidatorPermit {
		if n == nil {
			return Decision{true, LabelNoPermit, "validator permit required, but hotkey not registered"}
		}
		if !n.ValidatorPermit {
			return Decision{true, LabelNoPermit, "validator permit required"}
		}
	}
	if p.minStakeTAO > 0 {
		stake := 0.0
		if n != nil {
			stake = n.StakeTAO()
		}
		if stake < p.minStakeTAO {
			return Decision{true, LabelStakeTooLow, fmt.Sprintf("stake %.9g TAO below the minimum %.9g TAO", stake, p.minStakeTAO)}
		}
	}
	if RateLimited(times, p.requestWindow, p.minRequestPeriod, now) {
		return Decision{true, LabelRateLimited, fmt.Sprintf("request frequency exceeded: %d requests in %d minutes",
			p.requestWindow, int(p.minRequestPeriod/time.Minute))}
	}
	return Decision{false, LabelPassed, "passed blacklist"}
}

// RateLimited reports whether the last n of times (oldest first) all fall within
// period before now: the seed's check "now - timestamps[0] < min_request_period" on a
// window of n timestamps, without its zero pre-fill (B4). period 0 disables it.
func RateLimited(times []time.Time, n int, period time.Duration, now time.Time) bool {
	if period <= 0 || n <= 0 || len(times) < n {
		return false
	}
	return now.Sub(times[len(times)-n]) < period
}

// MaxIdle caps the idle time that raises a hotkey's priority (B7): a hotkey idle for
// a day or more, or with fewer than PriorityLookback recorded requests, counts as
// idle for a day.
const MaxIdle = 24 * time.Hour

// PriorityLookback is how many requests back the seed measures idleness
// (timestamps[-10]).
const PriorityLookback = 10

// TimeFactor is the seed's stake multiplier max(idle / time_stake_multiplicate, 1),
// where idle is the time since the PriorityLookback-th most recent request (or since
// the oldest one kept, when fewer are kept: B6), capped at MaxIdle (B7). A zero
// multiplier gives 1 (the seed divided by zero: B6).
func TimeFactor(times []time.Time, window int, multiplier time.Duration, now time.Time) float64 {
	if multiplier <= 0 {
		return 1
	}
	back := min(PriorityLookback, max(window, 1))
	idle := MaxIdle
	if len(times) >= back {
		idle = min(max(now.Sub(times[len(times)-back]), 0), MaxIdle)
	}
	return max(float64(idle)/float64(multiplier), 1)
}

// Priority is the seed's default_priority: priority.default for hotkeys that are not
// registered in g, otherwise stake (TAO) × TimeFactor. Higher runs first.
func (p *Policy) Priority(g *subtensor.Metagraph, hotkey string, times []time.Time, now time.Time) float64 {
	id, err := subtensor.ParseAccountID(hotkey)
	if err != nil || g == nil {
		return p.priorityDefault
	}
	n := g.ByHotkey(id)
	if n == nil {
		return p.priorityDefault
	}
	pr := n.StakeTAO() * TimeFactor(times, p.requestWindow, p.timeStakeMultiplier, now)
	if math.IsNaN(pr) || math.IsInf(pr, 0) {
		return p.priorityDefault
	}
	return pr
}
