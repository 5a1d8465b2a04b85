package admission

import (
	"container/list"
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RequestLog keeps the last perKey request times of at most maxKeys hotkeys; the
// least recently active hotkey is forgotten first (B4). Safe for concurrent use.
type RequestLog struct {
	perKey  int
	maxKeys int

	mu    sync.Mutex
	byKey map[string]*list.Element // of *requestTimes
	lru   list.List                // front = most recently recorded
}

type requestTimes struct {
	key   string
	times []time.Time // ring buffer contents, oldest first, len <= perKey
}

// NewRequestLog returns a log of perKey times for up to maxKeys hotkeys.
func NewRequestLog(perKey, maxKeys int) *RequestLog {
	return &RequestLog{perKey: max(perKey, 1), maxKeys: max(maxKeys, 1), byKey: map[string]*list.Element{}}
}

// Record appends t to hotkey's times.
func (l *RequestLog) Record(hotkey string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byKey[hotkey]
	if !ok {
		for l.lru.Len() >= l.maxKeys {
			old := l.lru.Back()
			delete(l.byKey, old.Value.(*requestTimes).key)
			l.lru.Remove(old)
		}
		e = l.lru.PushFront(&requestTimes{key: hotkey, times: make([]time.Time, 0, min(l.perKey, 16))})
		l.byKey[hotkey] = e
	} else {
		l.lru.MoveToFront(e)
	}
	rt := e.Value.(*requestTimes)
	if len(rt.times) == l.perKey {
		copy(rt.times, rt.times[1:])
		rt.times = rt.times[:len(rt.times)-1]
	}
	rt.times = append(rt.times, t)
}

// Times returns a copy of hotkey's recorded times, oldest first (nil if none).
func (l *RequestLog) Times(hotkey string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byKey[hotkey]
	if !ok {
		return nil
	}
	return append([]time.Time(nil), e.Value.(*requestTimes).times...)
}

// Len returns the number of hotkeys tracked.
func (l *RequestLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// PromptKey is the seed's cache key: SHA-256 of json.dumps(list(messages)) with
// Python's defaults (ensure_ascii, ", " separators).
func PromptKey(messages []string) [32]byte {
	return sha256.Sum256([]byte(PythonJSONList(messages)))
}

// PythonJSONList is json.dumps(list_of_str) as CPython writes it: ["a", "b"], with
// non-ASCII characters as \uXXXX escapes (surrogate pairs above U+FFFF) and invalid
// UTF-8 bytes read as U+FFFD.
func PythonJSONList(items []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		for _, r := range s { // invalid bytes arrive as utf8.RuneError (U+FFFD)
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				switch {
				case r < 0x20 || (r > 0x7e && r < 0x10000):
					writeU(&b, r)
				case r >= 0x10000:
					r -= 0x10000
					writeU(&b, 0xd800+(r>>10))
					writeU(&b, 0xdc00+(r&0x3ff))
				default:
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

func writeU(b *strings.Builder, r rune) {
	h := strconv.FormatInt(int64(r), 16)
	b.WriteString(`\u` + strings.Repeat("0", 4-len(h)) + h)
}

// PromptCache remembers which prompts were answered in the last span blocks (the
// seed's --miner.blacklist.use_prompt_cache), shared by all callers as in the seed,
// with at most maxEntries entries (oldest dropped first). Safe for concurrent use.
type PromptCache struct {
	span       uint64
	maxEntries int

	mu    sync.Mutex
	block map[[32]byte]uint64 // key → block it was recorded at
	order []cacheEntry        // recordings in order (blocks normally non-decreasing)
	head  int                 // order[:head] are removed
}

// NewPromptCache returns a cache keeping prompts for span blocks.
func NewPromptCache(span uint64, maxEntries int) *PromptCache {
	return &PromptCache{span: span, maxEntries: max(maxEntries, 1), block: map[[32]byte]uint64{}}
}

// Seen reports whether messages were recorded within the last span blocks before
// block (recorded at b, still cached while b + span >= block). Otherwise it records
// them at block and returns false. Expired entries are dropped before the check (the
// seed checked first, so an expired prompt was refused once more), and the live
// block is used (B3).
func (c *PromptCache) Seen(messages []string, block uint64) bool {
	key := PromptKey(messages)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(block)
	if b, ok := c.block[key]; ok && b+c.span >= block {
		return true
	}
	for len(c.block) >= c.maxEntries && c.head < len(c.order) {
		c.dropOldest()
	}
	c.block[key] = block
	c.order = append(c.order, cacheEntry{key, block})
	return false
}

// Len returns the number of cached prompts.
func (c *PromptCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.block)
}

func (c *PromptCache) expire(now uint64) {
	for c.head < len(c.order) {
		if e := c.order[c.head]; e.block+c.span >= now {
			break
		}
		c.dropOldest()
	}
}

type cacheEntry struct {
	key   [32]byte
	block uint64
}

// dropOldest removes the oldest recording (and its key, unless the key was recorded
// again later).
func (c *PromptCache) dropOldest() {
	if c.head >= len(c.order) {
		return
	}
	e := c.order[c.head]
	if b, ok := c.block[e.key]; ok && b == e.block {
		delete(c.block, e.key)
	}
	c.order[c.head] = cacheEntry{}
	c.head++
	if c.head > 1024 && c.head*2 > len(c.order) { // compact
		c.order = append(c.order[:0:0], c.order[c.head:]...)
		c.head = 0
	}
}
