package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"ddn/ports"
)

// leaseHasOneHolder: of many owners claiming one (name, epoch) at once
// exactly one holds it, it keeps holding it on asking again, and other
// epochs and names are independent.
func leaseHasOneHolder(t *testing.T, s ports.Store) {
	ctx := context.Background()
	var mu sync.Mutex
	var holders []string
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			owner := fmt.Sprintf("node-%d", i)
			ok, err := s.ClaimLease(ctx, "chain|0xabc", 7, owner)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				holders = append(holders, owner)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(holders) != 1 {
		t.Fatalf("holders of one lease epoch = %v, want exactly one", holders)
	}
	again, err := s.ClaimLease(ctx, "chain|0xabc", 7, holders[0])
	must(t, err)
	if !again {
		t.Fatalf("the holder %s lost its lease on asking again", holders[0])
	}
	other := "node-x"
	if ok, err := s.ClaimLease(ctx, "chain|0xabc", 8, other); err != nil || !ok {
		t.Fatalf("next epoch for %s = %v, %v; want held", other, ok, err)
	}
	if ok, err := s.ClaimLease(ctx, "chain|0xdef", 7, other); err != nil || !ok {
		t.Fatalf("other name for %s = %v, %v; want held", other, ok, err)
	}
}
