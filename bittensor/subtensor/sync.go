package subtensor

import (
	"context"
	"fmt"
	"time"
)

// SyncMetagraph publishes a fresh snapshot of netuid in holder at once and then every
// interval until ctx ends. Each refresh is bounded by timeout (default: interval, at
// least 10 s). A failed refresh is reported to onError (when not nil) and leaves the
// previous snapshot published, so readers keep working while the chain is away; a
// snapshot older than the published one (a node behind another) is not published.
func SyncMetagraph(ctx context.Context, c Chain, netuid uint16, interval, timeout time.Duration, holder *MetagraphHolder, onError func(error)) {
	if interval <= 0 {
		interval = time.Minute
	}
	if timeout <= 0 {
		timeout = max(interval, 10*time.Second)
	}
	refresh := func() {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		m, err := c.Metagraph(rctx, netuid)
		if err != nil {
			if onError != nil && ctx.Err() == nil {
				onError(fmt.Errorf("metagraph refresh netuid %d: %w", netuid, err))
			}
			return
		}
		if cur := holder.Load(); cur == nil || m.Block >= cur.Block {
			holder.Store(m)
		}
	}
	refresh()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			refresh()
		}
	}
}
