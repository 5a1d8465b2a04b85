package prompt

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Format is a completion format (--btlm.completion_format).
type Format string

const (
	FormatSeed  Format = "seed"  // the Python miner's split(":")[-1] (default)
	FormatClean Format = "clean" // generated text only, trimmed, cut at a new turn
)

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatSeed, FormatClean:
		return f, nil
	}
	return "", fmt.Errorf("completion format %q: want seed or clean", s)
}

// Complete applies the format to a finished completion (PipelineCompletion's text)
// of promptText.
func (f Format) Complete(promptText, completion string) string {
	if f == FormatClean {
		return Clean(completion)
	}
	return Seed(promptText, completion)
}

// Streamer turns the completion, arriving in final chunks, into the chunks a
// StreamPrompting response sends. It is not safe for concurrent use.
type Streamer interface {
	// Write takes the next completion text and returns what may be sent now; done
	// reports that the answer is complete (generation may stop).
	Write(chunk string) (out string, done bool)
	// Close returns what remains to send at the end of the generation.
	Close() string
}

// NewStreamer returns the streamer of format f for promptText.
//
// Seed: the prompt's tail after its last ':' (SeedStreamPrefix), then the completion
// verbatim; equal to the unary Seed result unless the model writes a ':'.
//
// Clean: exactly the unary Clean result, sent as soon as it is certain: leading
// whitespace is dropped, trailing whitespace and anything that may begin "\nuser:" or
// "\nsystem:" is held back until the next text decides, and the stream ends (done) at
// the first turn marker.
func (f Format) NewStreamer(promptText string) Streamer {
	if f == FormatClean {
		return &cleanStreamer{}
	}
	return &seedStreamer{prefix: SeedStreamPrefix(promptText)}
}

type seedStreamer struct {
	prefix string
	sent   bool
}

func (s *seedStreamer) Write(chunk string) (string, bool) {
	if !s.sent {
		s.sent = true
		return s.prefix + chunk, false
	}
	return chunk, false
}

func (s *seedStreamer) Close() string {
	if !s.sent {
		s.sent = true
		return s.prefix
	}
	return ""
}

type cleanStreamer struct {
	held    strings.Builder // text not yet sent: trailing space or a possible marker start
	started bool            // something non-space was sent
	done    bool
}

func (s *cleanStreamer) Write(chunk string) (string, bool) {
	if s.done {
		return "", true
	}
	s.held.WriteString(chunk)
	text := s.held.String()
	if i := firstMarker(text); i >= 0 {
		s.done = true
		s.held.Reset()
		return s.emit(strings.TrimRightFunc(text[:i], IsPySpace)), true
	}
	cut := undecided(text)
	s.held.Reset()
	s.held.WriteString(text[cut:])
	return s.emit(text[:cut]), false
}

func (s *cleanStreamer) Close() string {
	if s.done {
		return ""
	}
	s.done = true
	text := s.held.String()
	s.held.Reset()
	return s.emit(strings.TrimRightFunc(text, IsPySpace))
}

// emit drops leading whitespace until something else has been sent.
func (s *cleanStreamer) emit(out string) string {
	if !s.started {
		out = strings.TrimLeftFunc(out, IsPySpace)
		s.started = out != ""
	}
	return out
}

// undecided returns where the longest suffix of text that may still be dropped
// starts: whitespace, optionally followed by a proper prefix of a turn marker
// (markers start with "\n", itself whitespace). Text before it is final. The cost is
// the length of the trailing whitespace run plus the markers' lengths.
func undecided(text string) int {
	best := spaceRunStart(text, len(text))
	for _, m := range turnMarkers {
		for k := 1; k < len(m) && k <= len(text); k++ {
			if strings.HasSuffix(text, m[:k]) {
				best = min(best, spaceRunStart(text, len(text)-k))
			}
		}
	}
	return best
}

// spaceRunStart returns the start of the run of whitespace that ends at end.
func spaceRunStart(text string, end int) int {
	for end > 0 {
		r, size := utf8.DecodeLastRuneInString(text[:end])
		if !IsPySpace(r) {
			break
		}
		end -= size
	}
	return end
}
