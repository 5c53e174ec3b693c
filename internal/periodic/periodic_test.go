package periodic_test

import (
	"context"
	"testing"
	"time"

	"ddn/internal/periodic"
)

func TestRunRepeatsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	passes := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		periodic.Run(ctx, time.Millisecond, func(context.Context) {
			passes++
			if passes == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if passes != 3 {
		t.Fatalf("passes = %d, want 3 (none after cancel)", passes)
	}
}
