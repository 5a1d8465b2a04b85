package tokenizer

import (
	"math"
	"strings"
	"sync"
)

// Byte-level BPE of one pre-token, as the Hugging Face BPE model does it: start from
// one symbol per byte, then repeatedly merge the adjacent pair with the lowest merge
// rank (the leftmost one when the same pair occurs several times) until no adjacent
// pair has a merge. Short words use a direct O(n²) loop; long ones a heap over a
// linked list, O(n log n) time and O(n) memory, so a hostile multi-megabyte word
// costs no more than its length.

// smallWord is the length up to which the direct loop is used.
const smallWord = 128

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// appendWord appends the ids of one pre-token.
func (t *Tokenizer) appendWord(ids []int, word string) []int {
	if len(word) == 1 {
		return append(ids, int(t.byteToken[word[0]]))
	}
	if cached, ok := t.cache.get(word); ok {
		for _, id := range cached {
			ids = append(ids, int(id))
		}
		return ids
	}
	var syms []int32
	if len(word) <= smallWord {
		syms = t.mergeSmall(word)
	} else {
		syms = t.mergeLarge(word)
	}
	t.cache.put(word, syms)
	for _, id := range syms {
		ids = append(ids, int(id))
	}
	return ids
}

// mergeSmall is the direct algorithm: find the lowest-ranked adjacent pair, merge it,
// repeat. The rank of every adjacent pair is kept in an array, so a merge costs a
// scan of that array and two merge-table lookups.
func (t *Tokenizer) mergeSmall(word string) []int32 {
	const none = int32(math.MaxInt32)
	syms := make([]int32, len(word))
	for i := 0; i < len(word); i++ {
		syms[i] = t.byteToken[word[i]]
	}
	ranks := make([]int32, len(syms)-1) // ranks[i]: rank of the pair (syms[i], syms[i+1])
	ids := make([]int32, len(syms)-1)   // ids[i]: the token that pair merges into
	lookup := func(i int) {
		if m, ok := t.merges[pairKey(syms[i], syms[i+1])]; ok {
			ranks[i], ids[i] = m.rank, m.id
		} else {
			ranks[i] = none
		}
	}
	for i := range ranks {
		lookup(i)
	}
	for len(ranks) > 0 {
		best := 0
		for i, r := range ranks {
			if r < ranks[best] {
				best = i
			}
		}
		if ranks[best] == none {
			break
		}
		syms[best] = ids[best]
		syms = append(syms[:best+1], syms[best+2:]...)
		ranks = append(ranks[:best], ranks[best+1:]...)
		ids = append(ids[:best], ids[best+1:]...)
		if best > 0 {
			lookup(best - 1)
		}
		if best < len(ranks) {
			lookup(best)
		}
	}
	return syms
}

// candidate is a possible merge of the symbol at pos with its right neighbour, valid
// while those two symbols still hold left and right.
type candidate struct {
	rank, pos   int32
	left, right int32
	id          int32
}

func (a candidate) less(b candidate) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

// mergeLarge is the heap algorithm; it produces the same merges as mergeSmall.
func (t *Tokenizer) mergeLarge(word string) []int32 {
	n := len(word)
	id := make([]int32, n)
	next := make([]int32, n) // -1: last symbol
	prev := make([]int32, n) // -1: first symbol
	for i := 0; i < n; i++ {
		id[i] = t.byteToken[word[i]]
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	next[n-1] = -1
	h := candidateHeap(make([]candidate, 0, n))
	push := func(pos int32) {
		if pos < 0 || next[pos] < 0 {
			return
		}
		r := next[pos]
		if m, ok := t.merges[pairKey(id[pos], id[r])]; ok {
			h.push(candidate{rank: m.rank, pos: pos, left: id[pos], right: id[r], id: m.id})
		}
	}
	for i := int32(0); i < int32(n-1); i++ {
		if m, ok := t.merges[pairKey(id[i], id[i+1])]; ok {
			h = append(h, candidate{rank: m.rank, pos: i, left: id[i], right: id[i+1], id: m.id})
		}
	}
	h.init()
	for len(h) > 0 {
		c := h.pop()
		r := next[c.pos]
		if id[c.pos] != c.left || r < 0 || id[r] != c.right {
			continue // stale: one of the two symbols has changed since
		}
		id[c.pos] = c.id
		next[c.pos] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = c.pos
		}
		id[r] = -1 // removed
		push(prev[c.pos])
		push(c.pos)
	}
	syms := make([]int32, 0, 16)
	for i := int32(0); i >= 0; i = next[i] {
		syms = append(syms, id[i])
	}
	return syms
}

// candidateHeap is a binary min-heap ordered by (rank, pos).
type candidateHeap []candidate

func (h *candidateHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].less(s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

// init orders an unordered slice into a heap in O(n).
func (h candidateHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *candidateHeap) pop() candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	h.down(0)
	return top
}

// down moves element i towards the leaves until the heap order holds.
func (h candidateHeap) down(i int) {
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].less(h[m]) {
			m = l
		}
		if r < len(h) && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// wordCache remembers the BPE of recently seen short words. It holds at most
// 2×cacheGeneration entries of at most maxCachedWord bytes each: when the current
// generation fills up it becomes the old one and the previous old one is dropped,
// an approximation of LRU that costs one map operation per lookup.
type wordCache struct {
	mu       sync.Mutex
	cur, old map[string][]int32
}

const (
	cacheGeneration = 1 << 14
	maxCachedWord   = 64
)

func newWordCache() *wordCache {
	return &wordCache{cur: make(map[string][]int32)}
}

func (c *wordCache) get(word string) ([]int32, bool) {
	if len(word) > maxCachedWord {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[word]; ok {
		return v, true
	}
	if v, ok := c.old[word]; ok {
		c.insertLocked(word, v)
		return v, true
	}
	return nil, false
}

func (c *wordCache) put(word string, syms []int32) {
	if len(word) > maxCachedWord {
		return
	}
	word = strings.Clone(word) // do not pin the caller's whole text
	c.mu.Lock()
	c.insertLocked(word, syms)
	c.mu.Unlock()
}

func (c *wordCache) insertLocked(word string, syms []int32) {
	if len(c.cur) >= cacheGeneration {
		c.old, c.cur = c.cur, make(map[string][]int32, cacheGeneration)
	}
	c.cur[word] = syms
}
