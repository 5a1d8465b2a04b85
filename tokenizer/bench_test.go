package tokenizer

import (
	"strings"
	"testing"
)

// benchText is ~64 KB of mixed text: vocabulary pieces, code, numbers, runs and
// other scripts (the generated test strings up to 200 bytes).
func benchText(b *testing.B) string {
	tok := loadTiny(b)
	var sb strings.Builder
	for _, s := range generateStrings(tok, 4000) {
		if len(s) > 200 {
			continue // the long glued words (BenchmarkEncodeLongWord covers those)
		}
		sb.WriteString(s)
		sb.WriteByte(' ')
		if sb.Len() > 64<<10 {
			break
		}
	}
	return sb.String()
}

// BenchmarkEncode measures steady-state throughput (the word cache warm).
func BenchmarkEncode(b *testing.B) {
	tok := loadTiny(b)
	text := benchText(b)
	tok.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Encode(text)
	}
}

// BenchmarkEncodeNoCache measures BPE itself: a fresh cache for every pass.
func BenchmarkEncodeNoCache(b *testing.B) {
	tok := loadTiny(b)
	text := benchText(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.cache = newWordCache()
		tok.Encode(text)
	}
	b.StopTimer()
	tok.cache = newWordCache()
}

// BenchmarkEncodeLongWord: one 64 KB word (the heap merge).
func BenchmarkEncodeLongWord(b *testing.B) {
	tok := loadTiny(b)
	text := strings.Repeat("abcdefghij", 6554)
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		tok.Encode(text)
	}
}

func BenchmarkDecode(b *testing.B) {
	tok := loadTiny(b)
	ids := tok.Encode(benchText(b))
	b.SetBytes(int64(len(tok.decodeBytes(ids, false))))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Decode(ids)
	}
}

func BenchmarkStreamDecoder(b *testing.B) {
	tok := loadTiny(b)
	ids := tok.Encode(benchText(b))
	b.SetBytes(int64(len(tok.decodeBytes(ids, false))))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := tok.NewStreamDecoder()
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := tinyDir(b)
	for i := 0; i < b.N; i++ {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}
