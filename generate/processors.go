package generate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// This file holds the per-step score transforms, each a port of the transformers 4.30
// class named in its doc comment. They work in place on one row of float32 scores, as
// the torch versions do on a [1, vocab] tensor, and mark removed tokens with -Inf
// (transformers' filter_value).

var negInf = float32(math.Inf(-1))

// noRepeatNGram is NoRepeatNGramLogitsProcessor (transformers 4.30): for every n-gram
// tokens[i:i+n] already present anywhere in the sequence (prompt and generated tokens
// alike), when the last n-1 tokens equal tokens[i:i+n-1], the token tokens[i+n-1] is
// banned. transformers rebuilds the n-gram table from scratch at every step; this keeps
// it incrementally (an index from the hash of each (n-1)-token prefix to its start
// positions, each hit verified token by token), so a step costs O(n · hits), not O(L).
type noRepeatNGram struct {
	n       int
	starts  map[uint64][]int32 // hash(tokens[i:i+n-1]) → every i with a complete n-gram tokens[i:i+n]
	indexed int                // tokens[:indexed] have had their n-grams registered
}

func newNoRepeatNGram(n int) *noRepeatNGram {
	return &noRepeatNGram{n: n, starts: make(map[uint64][]int32)}
}

// hashIDs is FNV-1a over the ids; collisions are harmless because hits are verified.
func hashIDs(ids []int) uint64 {
	h := uint64(14695981039346656037)
	for _, id := range ids {
		v := uint64(id)
		for b := 0; b < 4; b++ {
			h ^= v & 0xff
			h *= 1099511628211
			v >>= 8
		}
	}
	return h
}

// apply bans, in scores, every token that would complete an n-gram already in tokens.
func (r *noRepeatNGram) apply(tokens []int, scores []float32) {
	n := r.n
	for end := max(r.indexed, n-1); end < len(tokens); end++ {
		i := end - n + 1 // the n-gram tokens[i : end+1]
		h := hashIDs(tokens[i : i+n-1])
		r.starts[h] = append(r.starts[h], int32(i))
	}
	r.indexed = len(tokens)
	cur := len(tokens)
	if cur+1 < n {
		return
	}
	key := tokens[cur-(n-1):]
	for _, i := range r.starts[hashIDs(key)] {
		if !slices.Equal(tokens[int(i):int(i)+n-1], key) {
			continue
		}
		if t := tokens[int(i)+n-1]; t >= 0 && t < len(scores) {
			scores[t] = negInf
		}
	}
}

// applyTemperature is TemperatureLogitsWarper: scores / temperature, in float32 as torch
// divides a float32 tensor by a Python float.
func applyTemperature(scores []float32, temperature float64) {
	t := float32(temperature)
	for i := range scores {
		scores[i] /= t
	}
}

// applyTopK is TopKLogitsWarper with min_tokens_to_keep = 1: with k' = min(max(k, 1),
// vocab), every score strictly below the k'-th largest score (counted with multiplicity,
// as torch.topk returns it) becomes -Inf. Scores tied with the k'-th value are all kept,
// so more than k tokens can survive. heap is scratch space (reused between steps).
func applyTopK(scores []float32, k int, heap []float32) []float32 {
	k = min(max(k, 1), len(scores))
	if k == len(scores) {
		return heap
	}
	// Min-heap of the k largest scores seen so far; heap[0] ends as the k-th largest.
	heap = heap[:0]
	for _, s := range scores {
		if len(heap) < k {
			heap = append(heap, s)
			for c := len(heap) - 1; c > 0; {
				p := (c - 1) / 2
				if heap[p] <= heap[c] {
					break
				}
				heap[p], heap[c] = heap[c], heap[p]
				c = p
			}
			continue
		}
		if s <= heap[0] {
			continue
		}
		heap[0] = s
		for p := 0; ; {
			c := 2*p + 1
			if c >= k {
				break
			}
			if c+1 < k && heap[c+1] < heap[c] {
				c++
			}
			if heap[p] <= heap[c] {
				break
			}
			heap[p], heap[c] = heap[c], heap[p]
			p = c
		}
	}
	threshold := heap[0]
	for i, s := range scores {
		if s < threshold {
			scores[i] = negInf
		}
	}
	return heap
}

// ranked is one finite score with its token id, for sorting.
type ranked struct {
	id    int
	score float32
}

// applyTopP is TopPLogitsWarper with min_tokens_to_keep = 1: sort the scores ascending,
// take the cumulative softmax, and remove every token whose cumulative probability is
// <= 1 - topP; the highest-scoring token is always kept. Tied scores are ordered by
// ascending token id (what torch's stable CPU sort gives), so at the cut the lower ids
// of a tie are removed first. Tokens already at -Inf have probability 0 and stay
// removed, so only finite scores are sorted. The softmax and running sum are computed
// in float64 and each cumulative value is rounded to float32 before the float32
// comparison, as torch compares a float32 tensor with a Python float; only a sum that
// lands exactly on the threshold can round differently from torch.
func applyTopP(scores []float32, topP float64, buf []ranked) []ranked {
	buf = buf[:0]
	for i, s := range scores {
		if !math.IsInf(float64(s), -1) {
			buf = append(buf, ranked{i, s})
		}
	}
	if len(buf) == 0 {
		return buf
	}
	slices.SortFunc(buf, func(a, b ranked) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return a.id - b.id // the order a stable sort of the row gives
	})
	maxScore := float64(buf[len(buf)-1].score)
	var total float64
	for _, r := range buf {
		total += math.Exp(float64(r.score) - maxScore)
	}
	threshold := float32(1 - topP)
	var cum float64
	for _, r := range buf[:len(buf)-1] { // the last (largest) is min_tokens_to_keep
		cum += math.Exp(float64(r.score)-maxScore) / total
		if float32(cum) <= threshold {
			scores[r.id] = negInf
		}
	}
	return buf
}

// errAllBanned is returned when every token has been removed (transformers would pick
// token 0 in greedy mode and raise inside torch.multinomial when sampling).
var errAllBanned = errors.New("every token is banned or filtered out: nothing to choose from")

// argmax is torch.argmax over one row: the first index of the maximum.
func argmax(scores []float32) (int, error) {
	best, bestScore := -1, negInf
	for i, s := range scores {
		if s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return 0, errAllBanned
	}
	return best, nil
}

// sampleFrom draws one token from softmax(scores), as torch.multinomial(softmax(scores), 1)
// does, but with rng instead of torch's generator: u is uniform in [0, 1) (53 random bits)
// and the token is the first whose running probability mass exceeds u · total.
func sampleFrom(scores []float32, rng *rand.Rand) (int, error) {
	maxScore := negInf
	for _, s := range scores {
		maxScore = max(maxScore, s)
	}
	if math.IsInf(float64(maxScore), -1) {
		return 0, errAllBanned
	}
	var total float64
	for _, s := range scores {
		if !math.IsInf(float64(s), -1) {
			total += math.Exp(float64(s) - float64(maxScore))
		}
	}
	u := float64(rng.Uint64()>>11) * 0x1p-53 * total
	last := -1
	var cum float64
	for i, s := range scores {
		if math.IsInf(float64(s), -1) {
			continue
		}
		cum += math.Exp(float64(s) - float64(maxScore))
		if cum > u {
			return i, nil
		}
		last = i
	}
	return last, nil // rounding left u at the very top: the last token with mass
}

// checkFinite rejects NaN and +Inf logits, which would make every later step meaningless.
func checkFinite(logits []float32) error {
	for i, s := range logits {
		if s != s || math.IsInf(float64(s), 1) {
			return fmt.Errorf("model returned logit %v for token %d", s, i)
		}
	}
	return nil
}
