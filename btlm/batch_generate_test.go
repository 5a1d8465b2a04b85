package btlm

import (
	"context"
	"sync"
	"testing"

	"github.com/btlm-miner/btlm-miner/generate"
)

var _ generate.Sequence = (*BatchSequence)(nil)

// TestBatcherGenerateGoldens runs every golden case of the tiny model at the same time
// through generate.Generate on one Batcher: each must produce exactly the golden ids
// (Hugging Face greedy with its n-gram bans), as it does unbatched.
func TestBatcherGenerateGoldens(t *testing.T) {
	dir := tinyDir(t)
	cases := loadGolden(t, dir)
	m, err := Load(dir, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(m, 4)
	results := make([]generate.Result, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := generate.DefaultParams()
			p.MaxNewTokens, p.NoRepeatNGramSize = c.MaxNewTokens, c.NoRepeatNgramSize
			p.EOSTokenIDs, p.ContextLength = []int{m.Config().EOSTokenID}, m.Config().NPositions
			results[i], errs[i] = generate.Generate(context.Background(), b.NewSequence(), c.PromptIDs, p, nil)
		}()
	}
	wg.Wait()
	for i, c := range cases {
		if errs[i] != nil {
			t.Fatalf("case %d: %v", i, errs[i])
		}
		if !equalInts(results[i].TokenIDs, c.GeneratedIDs) {
			t.Errorf("case %d: %v, want %v", i, results[i].TokenIDs, c.GeneratedIDs)
		}
	}
}
