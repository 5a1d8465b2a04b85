package generate

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

var inf = math.Inf(-1)

func f32s(xs ...float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

// removed lists the ids whose score is -Inf.
func removed(scores []float32) []int {
	var ids []int
	for i, s := range scores {
		if math.IsInf(float64(s), -1) {
			ids = append(ids, i)
		}
	}
	return ids
}

// refBannedNGram is transformers' _get_ngrams + _get_generated_ngrams written out
// directly: rebuild the table from the whole sequence and look up the last n-1 tokens.
func refBannedNGram(tokens []int, n int) []int {
	cur := len(tokens)
	if cur+1 < n {
		return nil
	}
	table := map[string][]int{}
	key := func(ids []int) string {
		b := make([]byte, 0, 8*len(ids))
		for _, id := range ids {
			b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24), ',')
		}
		return string(b)
	}
	for i := 0; i+n <= cur; i++ {
		k := key(tokens[i : i+n-1])
		table[k] = append(table[k], tokens[i+n-1])
	}
	banned := table[key(tokens[cur-(n-1):])]
	slices.Sort(banned)
	return slices.Compact(banned)
}

func TestNoRepeatNGramCases(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		tokens []int
		want   []int
	}{
		{"bigram from the prompt is banned", 2, []int{1, 2, 3, 1}, []int{2}},
		{"every follower of the last token", 2, []int{1, 2, 1, 3, 1}, []int{2, 3}},
		{"the same follower twice", 2, []int{4, 5, 4, 5, 4}, []int{5}},
		{"no earlier occurrence", 2, []int{1, 2, 3}, nil},
		{"too short for any n-gram", 3, []int{7}, nil},
		{"exactly n-1 tokens", 3, []int{7, 8}, nil},
		{"trigram", 3, []int{1, 2, 3, 1, 2}, []int{3}},
		{"trigram needs both tokens", 3, []int{1, 2, 3, 9, 2}, nil},
		{"unigram bans every token seen", 1, []int{3, 1, 3}, []int{1, 3}},
		{"repeated token is its own follower", 2, []int{6, 6}, []int{6}},
		{"eos can be banned", 2, []int{9, 0, 9}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scores := make([]float32, 10)
			newNoRepeatNGram(tc.n).apply(tc.tokens, scores)
			if got := removed(scores); !slices.Equal(got, tc.want) {
				t.Errorf("banned %v, want %v", got, tc.want)
			}
			if ref := refBannedNGram(tc.tokens, tc.n); !slices.Equal(ref, tc.want) {
				t.Errorf("reference bans %v, want %v (test case is wrong)", ref, tc.want)
			}
		})
	}
}

// TestNoRepeatNGramIncremental drives one processor through a growing sequence, as
// Generate does, and compares every step with the from-scratch reference.
func TestNoRepeatNGramIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(4)
		vocab := 2 + rng.IntN(6) // small vocabulary: many repeats
		proc := newNoRepeatNGram(n)
		tokens := make([]int, rng.IntN(5))
		for i := range tokens {
			tokens[i] = rng.IntN(vocab)
		}
		for step := 0; step < 30; step++ {
			scores := make([]float32, vocab)
			proc.apply(tokens, scores)
			if got, want := removed(scores), refBannedNGram(tokens, n); !slices.Equal(got, want) {
				t.Fatalf("n=%d tokens=%v: banned %v, want %v", n, tokens, got, want)
			}
			tokens = append(tokens, rng.IntN(vocab))
		}
	}
}

func TestHashIDsCollisionIsVerified(t *testing.T) {
	// Force every prefix into one bucket: hits must still be checked token by token.
	proc := newNoRepeatNGram(2)
	tokens := []int{1, 2, 3, 4, 1}
	scores := make([]float32, 5)
	proc.apply(tokens, scores)
	all := []int32{}
	for _, v := range proc.starts {
		all = append(all, v...)
	}
	for k := range proc.starts {
		proc.starts[k] = all
	}
	scores = make([]float32, 5)
	proc.apply(tokens, scores)
	if got := removed(scores); !slices.Equal(got, []int{2}) {
		t.Fatalf("with colliding buckets banned %v, want [2]", got)
	}
}

// refTopK is TopKLogitsWarper written with a full sort.
func refTopK(scores []float32, k int) []float32 {
	out := slices.Clone(scores)
	k = min(max(k, 1), len(out))
	sorted := slices.Clone(out)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] > sorted[j] })
	th := sorted[k-1]
	for i := range out {
		if out[i] < th {
			out[i] = negInf
		}
	}
	return out
}

func TestTopK(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		k      int
		keep   []int
	}{
		{"plain", f32s(1, 4, 2, 3), 2, []int{1, 3}},
		{"ties at the k-th value are all kept", f32s(1, 3, 3, 3, 2), 2, []int{1, 2, 3}},
		{"ties above the k-th value count with multiplicity", f32s(5, 5, 4, 1), 2, []int{0, 1}},
		{"k larger than the vocabulary keeps all", f32s(1, 2), 50, []int{0, 1}},
		{"k below 1 acts as 1", f32s(1, 2, 0), -3, []int{1}},
		{"-inf entries count as values", f32s(inf, 2, inf), 2, []int{1}},
		{"k=1 all equal", f32s(7, 7, 7), 1, []int{0, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := slices.Clone(tc.scores)
			applyTopK(s, tc.k, nil)
			var kept []int
			for i, v := range s {
				if !math.IsInf(float64(v), -1) {
					kept = append(kept, i)
					if v != tc.scores[i] {
						t.Errorf("kept score %d changed: %v → %v", i, tc.scores[i], v)
					}
				}
			}
			if !slices.Equal(kept, tc.keep) {
				t.Errorf("kept %v, want %v", kept, tc.keep)
			}
		})
	}
}

func TestTopKMatchesSortReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var heap []float32
	for trial := 0; trial < 500; trial++ {
		v := 1 + rng.IntN(40)
		s := make([]float32, v)
		for i := range s {
			s[i] = float32(rng.IntN(6)) // heavy ties
			if rng.IntN(8) == 0 {
				s[i] = negInf
			}
		}
		k := rng.IntN(v + 3)
		want := refTopK(s, k)
		got := slices.Clone(s)
		heap = applyTopK(got, k, heap)
		if !slices.Equal(got, want) {
			t.Fatalf("scores %v k=%d: got %v, want %v", s, k, got, want)
		}
	}
}

// refTopP is TopPLogitsWarper written the transformers way: sort everything ascending
// (stable), softmax and cumulative sum over the whole row, remove cum <= 1-p except the
// last, scatter back.
func refTopP(scores []float32, p float64) []float32 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	mx := math.Inf(-1)
	for _, s := range scores {
		mx = math.Max(mx, float64(s))
	}
	var total float64
	for _, s := range scores {
		total += math.Exp(float64(s) - mx)
	}
	out := slices.Clone(scores)
	var cum float64
	for rank, i := range idx {
		cum += math.Exp(float64(scores[i])-mx) / total
		if rank < len(idx)-1 && float32(cum) <= float32(1-p) {
			out[i] = negInf
		}
	}
	return out
}

func TestTopP(t *testing.T) {
	ln := math.Log
	tests := []struct {
		name   string
		scores []float32
		p      float64
		keep   []int
	}{
		// probabilities 0.1, 0.2, 0.3, 0.4 (ids 0..3): cumulative ascending 0.1, 0.3, 0.6, 1.
		{"keeps the top mass", f32s(ln(0.1), ln(0.2), ln(0.3), ln(0.4)), 0.65, []int{2, 3}},
		{"p=0.85 removes only the smallest", f32s(ln(0.1), ln(0.2), ln(0.3), ln(0.4)), 0.85, []int{1, 2, 3}},
		{"p=0.95 removes nothing", f32s(ln(0.1), ln(0.2), ln(0.3), ln(0.4)), 0.95, []int{0, 1, 2, 3}},
		// four equal scores: cumulative 0.25, 0.5, 0.75, 1; 1-p = 0.5 removes cum <= 0.5,
		// i.e. the two lowest ids of the tie.
		{"tie at the cut removes lower ids first", f32s(1, 1, 1, 1), 0.5, []int{2, 3}},
		{"cumulative exactly at the threshold is removed", f32s(1, 1, 1, 1), 0.75, []int{1, 2, 3}},
		{"p=0 keeps one token: the highest id of a tie", f32s(2, 2, 0), 0, []int{1}},
		{"p=1 removes nothing with mass", f32s(0, 1, 2), 1, []int{0, 1, 2}},
		{"-inf stays removed", f32s(inf, 0, 0), 0.9, []int{1, 2}},
		{"one token is always kept", f32s(0, 10), 0.01, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := slices.Clone(tc.scores)
			applyTopP(s, tc.p, nil)
			var kept []int
			for i, v := range s {
				if !math.IsInf(float64(v), -1) {
					kept = append(kept, i)
				}
			}
			if !slices.Equal(kept, tc.keep) {
				t.Errorf("kept %v, want %v", kept, tc.keep)
			}
			if want := refTopP(tc.scores, tc.p); !slices.Equal(s, want) {
				t.Errorf("differs from reference: %v vs %v", s, want)
			}
		})
	}
}

func TestTopPMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var buf []ranked
	for trial := 0; trial < 500; trial++ {
		v := 1 + rng.IntN(30)
		s := make([]float32, v)
		for i := range s {
			s[i] = float32(rng.IntN(5)) * 0.5
			if rng.IntN(6) == 0 {
				s[i] = negInf
			}
		}
		if math.IsInf(float64(slices.Max(s)), -1) {
			s[0] = 0
		}
		p := float64(rng.IntN(11)) / 10
		got := slices.Clone(s)
		buf = applyTopP(got, p, buf)
		if want := refTopP(s, p); !slices.Equal(got, want) {
			t.Fatalf("scores %v p=%v: got %v, want %v", s, p, got, want)
		}
	}
}

func TestTemperature(t *testing.T) {
	s := f32s(1, -2, inf, 0.7)
	applyTemperature(s, 0.7)
	want := []float32{1 / float32(0.7), -2 / float32(0.7), negInf, 1}
	if !slices.Equal(s, want) {
		t.Fatalf("got %v, want %v", s, want)
	}
}

func TestArgmaxFirstMaximum(t *testing.T) {
	tests := []struct {
		scores []float32
		want   int
	}{
		{f32s(1, 5, 5, 3), 1},
		{f32s(2, 2, 2), 0},
		{f32s(inf, inf, -1e30), 2},
		{f32s(-3), 0},
	}
	for _, tc := range tests {
		if got, err := argmax(tc.scores); err != nil || got != tc.want {
			t.Errorf("argmax(%v) = %d, %v; want %d", tc.scores, got, err, tc.want)
		}
	}
	if _, err := argmax(f32s(inf, inf)); err == nil {
		t.Error("argmax over all -Inf: want an error")
	}
}

func TestSampleFromDistribution(t *testing.T) {
	ln := math.Log
	scores := f32s(ln(0.1), inf, ln(0.2), ln(0.7))
	rng := rand.New(rand.NewPCG(7, 8))
	counts := make([]int, len(scores))
	const draws = 200000
	for i := 0; i < draws; i++ {
		id, err := sampleFrom(scores, rng)
		if err != nil {
			t.Fatal(err)
		}
		counts[id]++
	}
	if counts[1] != 0 {
		t.Fatalf("sampled a -Inf token %d times", counts[1])
	}
	for id, want := range map[int]float64{0: 0.1, 2: 0.2, 3: 0.7} {
		got := float64(counts[id]) / draws
		if math.Abs(got-want) > 0.005 { // > 5 standard deviations
			t.Errorf("token %d frequency %.4f, want %.2f", id, got, want)
		}
	}
	if _, err := sampleFrom(f32s(inf, inf), rng); err == nil {
		t.Error("sampling with everything removed: want an error")
	}
}

func TestCheckFinite(t *testing.T) {
	if err := checkFinite(f32s(1, inf, -5)); err != nil {
		t.Errorf("-Inf is a valid logit: %v", err)
	}
	for _, bad := range [][]float32{f32s(1, math.NaN()), f32s(math.Inf(1), 0)} {
		if err := checkFinite(bad); err == nil {
			t.Errorf("checkFinite(%v): want an error", bad)
		}
	}
}

// FuzzWarpers checks top-k and top-p against their sort-based references and that the
// draw after them picks a surviving token, on arbitrary score rows with ties.
func FuzzWarpers(f *testing.F) {
	f.Add([]byte{1, 2, 2, 3, 0}, uint8(2), uint8(50), uint64(1))
	f.Add([]byte{9, 9, 9, 9}, uint8(1), uint8(0), uint64(2))
	f.Add([]byte{255, 0, 128}, uint8(0), uint8(100), uint64(3))
	f.Fuzz(func(t *testing.T, raw []byte, k, pct uint8, seed uint64) {
		if len(raw) == 0 || len(raw) > 4096 {
			return
		}
		s := make([]float32, len(raw))
		for i, b := range raw {
			s[i] = float32(b%32) * 0.25
			if b >= 240 {
				s[i] = negInf
			}
		}
		if math.IsInf(float64(slices.Max(s)), -1) {
			s[0] = 1
		}
		p := float64(pct%101) / 100
		got := slices.Clone(s)
		applyTopK(got, int(k), nil)
		want := refTopK(s, int(k))
		if !slices.Equal(got, want) {
			t.Fatalf("top-k %d: got %v, want %v", k, got, want)
		}
		afterK := slices.Clone(got)
		applyTopP(got, p, nil)
		if want := refTopP(afterK, p); !slices.Equal(got, want) {
			t.Fatalf("top-p %v: got %v, want %v", p, got, want)
		}
		id, err := sampleFrom(got, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if math.IsInf(float64(got[id]), -1) {
			t.Fatalf("sampled removed token %d", id)
		}
	})
}
