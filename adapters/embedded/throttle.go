package embedded

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// WriteSlots is how many onlines' and machine_info content changes' writes
// run against the embedded store at once. Its engine serializes writes, so
// more in flight only lengthens each one's wait inside the store (where the
// operation timeout runs) without finishing a storm sooner; measured with
// deploy/perf.sh storm-embedded (docs/performance.md).
const WriteSlots = 4

// PoolSize caps the driver's connection pool to the embedded store. Its
// engine serializes writes, so connections beyond a few only wait; and each
// one is a pair of goroutines in the node (driver and in-process server)
// kept while idle, so an uncapped pool grows with every burst of
// disconnects.
const PoolSize = 16

// ClientURI is the URI a node's own driver uses: URI with the pool capped.
func (s *Server) ClientURI() string { return capPool(s.uri) }

func capPool(uri string) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "maxPoolSize=" + strconv.Itoa(PoolSize)
}

// Throttle bounds the store's online and machine-info writes to slots at
// once (the claim, the machine update, the outbox record and its settling):
// a storm of onlines then queues here, before any operation timeout starts,
// instead of inside the store, where hundreds would time out together with
// code 4. Report batches and disconnects are not bound. slots <= 0 returns
// st as it is.
func Throttle(st ports.Store, slots int) ports.Store {
	if slots <= 0 {
		return st
	}
	return &throttled{Store: st, slots: make(chan struct{}, slots)}
}

// throttled is a ports.Store whose content writes wait for a slot.
type throttled struct {
	ports.Store
	slots chan struct{}
}

// Unwrap returns the store underneath (for the store tool's own queries).
func (t *throttled) Unwrap() ports.Store { return t.Store }

// slot waits for a write slot and returns the function that gives it back.
func (t *throttled) slot(ctx context.Context, what string) (func(), error) {
	select {
	case t.slots <- struct{}{}:
		return func() { <-t.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for a store write slot: %w: %w", what, domain.ErrStore, ctx.Err())
	}
}

func (t *throttled) InsertConnection(ctx context.Context, c domain.Connection) error {
	done, err := t.slot(ctx, "claim "+c.Key.String())
	if err != nil {
		return err
	}
	defer done()
	return t.Store.InsertConnection(ctx, c)
}

func (t *throttled) MarkOnline(ctx context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (domain.Machine, bool, error) {
	done, err := t.slot(ctx, "online "+key.String())
	if err != nil {
		return domain.Machine{}, false, err
	}
	defer done()
	return t.Store.MarkOnline(ctx, key, st, nodeID, at)
}

func (t *throttled) SetShortTermInfo(ctx context.Context, key domain.MachineKey, info domain.ShortTermInfo, at time.Time) error {
	done, err := t.slot(ctx, "short-term info of "+key.String())
	if err != nil {
		return err
	}
	defer done()
	return t.Store.SetShortTermInfo(ctx, key, info, at)
}

func (t *throttled) SetBandwidthInfo(ctx context.Context, key domain.MachineKey, info domain.BandwidthInfo, at time.Time) error {
	done, err := t.slot(ctx, "bandwidth info of "+key.String())
	if err != nil {
		return err
	}
	defer done()
	return t.Store.SetBandwidthInfo(ctx, key, info, at)
}

func (t *throttled) InsertOutbox(ctx context.Context, e domain.OutboxEntry) error {
	done, err := t.slot(ctx, "record "+e.ID)
	if err != nil {
		return err
	}
	defer done()
	return t.Store.InsertOutbox(ctx, e)
}

func (t *throttled) UpdateOutbox(ctx context.Context, e domain.OutboxEntry) error {
	done, err := t.slot(ctx, "settle "+e.ID)
	if err != nil {
		return err
	}
	defer done()
	return t.Store.UpdateOutbox(ctx, e)
}
