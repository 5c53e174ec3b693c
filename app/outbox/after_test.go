package outbox

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/ports"
)

// lead is a target that answers from a script: an error, ErrNoEffect, or nil.
type lead struct {
	answers []error
	calls   int
}

func (l *lead) Deliver(context.Context, domain.Event) error {
	l.calls++
	if len(l.answers) == 0 {
		return nil
	}
	err := l.answers[0]
	l.answers = l.answers[1:]
	return err
}

// A target that follows another (Config.After) is called only after that
// one delivered; it waits while that one fails; it is settled without a
// call when that one had nothing to do; order in Targets does not matter.
func TestTargetsFollowTheirLead(t *testing.T) {
	for _, tt := range []struct {
		name      string
		answers   []error
		hookCalls int
		delivered []string
		skipped   []string
		passes    int
	}{
		{"lead delivers", nil, 1, []string{"chain", "webhook"}, nil, 1},
		{"lead fails then delivers", []error{fmt.Errorf("rpc down")}, 1, []string{"chain", "webhook"}, nil, 2},
		{"lead has nothing to do", []error{fmt.Errorf("already online: %w", domain.ErrNoEffect)}, 0, nil, []string{"chain", "webhook"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, clock := memory.NewStore(), memory.NewClock(t0)
			chain, hook := &lead{answers: tt.answers}, &recorder{}
			ob := New(Config{NodeID: "n1", Targets: []string{"webhook", "chain"}, After: map[string]string{"webhook": "chain"},
				BaseBackoff: time.Second, MaxBackoff: time.Second}, store, clock, map[string]ports.Deliverer{"chain": chain, "webhook": hook})
			ob.jitter = func() float64 { return 1 }
			entry, err := ob.Record(ctx, domain.Event{Kind: domain.EventOffline, Key: keyA, At: t0})
			if err != nil {
				t.Fatal(err)
			}
			if err := ob.Confirm(ctx, entry); err != nil {
				t.Fatal(err)
			}
			for i := range tt.passes {
				if _, err := ob.Dispatch(ctx); err != nil {
					t.Fatal(err)
				}
				if i < tt.passes-1 && hook.count() != 0 {
					t.Fatal("the follower was called before its lead delivered")
				}
				clock.Advance(2 * time.Second)
			}
			got, err := store.GetOutbox(ctx, entry.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != domain.OutboxDone || hook.count() != tt.hookCalls || !slices.Equal(got.Delivered, tt.delivered) ||
				!slices.Equal(got.Skipped, tt.skipped) {
				t.Fatalf("entry = %+v, follower called %d times; want done, %d calls, delivered %v, skipped %v",
					got, hook.count(), tt.hookCalls, tt.delivered, tt.skipped)
			}
		})
	}
}
