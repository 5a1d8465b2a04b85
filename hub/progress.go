package hub

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// progress reports a download's advance: a redrawn bar when Options.Progress is a
// terminal, otherwise an info log line every logEvery (bars in captured logs are noise).
type progress struct {
	file      string
	opts      Options
	total     int64
	n         atomic.Int64
	start     time.Time
	last      time.Time
	startedAt int64
	tty       bool
}

const logEvery = 10 * time.Second

func newProgress(opts Options, file string, have, total int64) *progress {
	p := &progress{file: file, opts: opts, total: total, start: time.Now(), last: time.Now(), startedAt: have}
	p.n.Store(have)
	if f, ok := opts.Progress.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	n := p.n.Add(int64(len(b)))
	now := time.Now()
	switch {
	case p.tty && now.Sub(p.last) >= 200*time.Millisecond:
		p.last = now
		p.draw(p.opts.Progress, n, false)
	case !p.tty && now.Sub(p.last) >= logEvery:
		p.last = now
		p.opts.Logger.Info("downloading", "file", p.file, "bytes", n, "total", p.total, "rate", humanBytes(p.rate(n))+"/s")
	}
	return len(b), nil
}

func (p *progress) rate(n int64) float64 {
	secs := time.Since(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(n-p.startedAt) / secs
}

func (p *progress) draw(w io.Writer, n int64, final bool) {
	const width = 30
	bar := ""
	pct := 0.0
	if p.total > 0 {
		pct = float64(n) / float64(p.total)
		filled := int(pct * width)
		for i := 0; i < width; i++ {
			if i < filled {
				bar += "="
			} else {
				bar += " "
			}
		}
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(w, "\r%-28.28s [%s] %5.1f%% %9s/%-9s %9s/s%s", p.file, bar, pct*100,
		humanBytes(float64(n)), humanBytes(float64(p.total)), humanBytes(p.rate(n)), end)
}

func (p *progress) done() {
	n := p.n.Load()
	if p.tty {
		p.draw(p.opts.Progress, n, true)
		return
	}
	p.opts.Logger.Info("downloaded", "file", p.file, "bytes", n, "rate", humanBytes(p.rate(n))+"/s")
}

func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}
