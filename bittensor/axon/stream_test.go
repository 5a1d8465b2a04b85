package axon

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
)

// TestStreamOutcomes: a streaming forward that fails before its first chunk is
// answered like a unary one (its status, {"message"} and the bt headers, §7), and the
// observer sees that status; once a chunk has gone out the answer is a 200 stream.
func TestStreamOutcomes(t *testing.T) {
	base := baseline()
	t.Run("all", func(t *testing.T) {
		stream := func(ctx context.Context, p *synapse.StreamPrompting, w StreamWriter) error {
			switch p.Messages[0] {
			case "refuse":
				return &StatusError{Code: 403, Message: "Forbidden. Prompt already answered."}
			case "fail":
				return errors.New("model exploded")
			case "panic":
				panic("boom")
			case "slow":
				<-ctx.Done()
				return ctx.Err()
			case "empty":
				return nil
			case "partial":
				if _, err := w.Write([]byte("a\n")); err != nil {
					return err
				}
				return errors.New("failed after the first chunk")
			}
			for _, s := range []string{"one\n", "two\n"} {
				if _, err := w.Write([]byte(s)); err != nil {
					return err
				}
			}
			return nil
		}
		events := make(chan Event, 16)
		_, tgt := startHandlers(t, Config{}, []Option{WithObserver(func(e Event) {
			select {
			case events <- e:
			default: // never block the axon, even when a failed case left events unread
			}
		})},
			Streaming(func() *synapse.StreamPrompting { return &synapse.StreamPrompting{} }, stream))
		d := testDendrite(t, dendrite.StyleV10)
		call := func(msg string, timeout time.Duration) rawResponse {
			t.Helper()
			for len(events) > 0 {
				<-events
			}
			body, hs, err := d.Prepare(tgt, synapse.NewStreamPrompting([]string{"user"}, []string{msg}), timeout)
			if err != nil {
				t.Fatal(err)
			}
			return send(t, tgt, "/StreamPrompting", hs, body)
		}
		observed := func(want int) {
			t.Helper()
			select {
			case e := <-events:
				if e.Status != want || e.Synapse != "StreamPrompting" {
					t.Errorf("observer got %s %d %q, want status %d", e.Synapse, e.Status, e.Message, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("observer not called")
			}
		}
		for _, c := range []struct {
			msg     string
			timeout time.Duration
			code    int
			prefix  string
		}{
			{"refuse", 2 * time.Second, 403, "Forbidden. Prompt already answered."},
			{"fail", 2 * time.Second, 500, "Internal Server Error #"},
			{"panic", 2 * time.Second, 500, "Internal Server Error #"},
			{"slow", 300 * time.Millisecond, 408, "Response timeout after: 0.3s"},
		} {
			t.Run(c.msg, func(t *testing.T) {
				r := call(c.msg, c.timeout)
				checkError(t, r, c.code, c.prefix)
				if r.header.Get("bt_header_axon_signature") == "" || r.header.Get("bt_header_dendrite_hotkey") == "" {
					t.Errorf("error answer lacks the signed bt header set: %v", r.header)
				}
				observed(c.code)
			})
		}
		for _, c := range []struct{ msg, body string }{
			{"words", "one\ntwo\n"},
			{"empty", ""},
			{"partial", "a\n"}, // the status was committed with the first chunk
		} {
			t.Run(c.msg, func(t *testing.T) {
				r := call(c.msg, 2*time.Second)
				if r.status != 200 || r.header.Get("bt_header_axon_status_code") != "200" ||
					r.header.Get("Content-Type") != "text/event-stream" || string(r.body) != c.body {
					t.Errorf("got %d (header %q) %q body %q, want 200 text/event-stream %q", r.status,
						r.header.Get("bt_header_axon_status_code"), r.header.Get("Content-Type"), r.body, c.body)
				}
				observed(200)
			})
		}
		d.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
	})
	checkNoLeaks(t, base)
}
