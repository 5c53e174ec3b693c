package liveness_test

import (
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/liveness"
	"ddn/domain"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const expiry = 15 * time.Second

// A node's written heartbeat time plays no part: a record stamped an hour
// in the past or the future is alive while its counter moves.
func TestWallClockOfTheWriterIsIgnored(t *testing.T) {
	for _, skew := range []time.Duration{-time.Hour, -20 * time.Second, 20 * time.Second, time.Hour} {
		clock := memory.NewClock(t0)
		tr := liveness.New(expiry, clock)
		n := domain.Node{ID: "n1", BootID: "b", Seq: 1, HeartbeatAt: t0.Add(skew)}
		for range 10 {
			tr.Observe([]domain.Node{n})
			if v := tr.Judge("n1"); !v.Alive {
				t.Fatalf("skew %v: renewing node judged dead: %+v", skew, v)
			}
			clock.Advance(5 * time.Second)
			n.Seq++
			n.HeartbeatAt = n.HeartbeatAt.Add(5 * time.Second)
		}
	}
}

func TestUnchangedRecordDiesAfterExpiryOnTheObserversClock(t *testing.T) {
	clock := memory.NewClock(t0)
	tr := liveness.New(expiry, clock)
	n := domain.Node{ID: "n1", BootID: "b", Seq: 7, HeartbeatAt: t0.Add(time.Hour)} // a clock far ahead
	tr.Observe([]domain.Node{n})
	clock.Advance(expiry)
	tr.Observe([]domain.Node{n})
	if v := tr.Judge("n1"); !v.Alive {
		t.Fatalf("at exactly the expiry: %+v, want alive", v)
	}
	clock.Advance(time.Millisecond)
	tr.Observe([]domain.Node{n})
	v := tr.Judge("n1")
	if v.Alive || !v.Known || !v.ExpiredAt.Equal(t0.Add(expiry)) {
		t.Fatalf("past the expiry: %+v, want dead, expired at %v", v, t0.Add(expiry))
	}
	// It comes back (a stalled node continued): alive again at once.
	n.Seq++
	tr.Observe([]domain.Node{n})
	if v := tr.Judge("n1"); !v.Alive {
		t.Fatalf("renewed again: %+v, want alive", v)
	}
}

func TestNewBootUnderTheSameIDCountsAsAChange(t *testing.T) {
	clock := memory.NewClock(t0)
	tr := liveness.New(expiry, clock)
	tr.Observe([]domain.Node{{ID: "n1", BootID: "old", Seq: 5}})
	clock.Advance(expiry + time.Second)
	tr.Observe([]domain.Node{{ID: "n1", BootID: "new", Seq: 5}})
	if v := tr.Judge("n1"); !v.Alive {
		t.Fatalf("new boot: %+v, want alive", v)
	}
}

func TestFirstSightingGivesAFullExpiry(t *testing.T) {
	clock := memory.NewClock(t0)
	tr := liveness.New(expiry, clock)
	// A record written long ago by a node that is dead: an observer that
	// just started cannot know, and waits one expiry.
	old := domain.Node{ID: "n1", BootID: "b", Seq: 1, HeartbeatAt: t0.Add(-time.Hour)}
	tr.ObserveOne(old)
	if v := tr.Judge("n1"); !v.Alive {
		t.Fatalf("first sighting: %+v, want alive until one expiry passes", v)
	}
	clock.Advance(expiry + time.Millisecond)
	tr.ObserveOne(old)
	if v := tr.Judge("n1"); v.Alive {
		t.Fatalf("after an expiry unchanged: %+v, want dead", v)
	}
}

func TestMissingRecordIsDeadAndUnknown(t *testing.T) {
	clock := memory.NewClock(t0)
	tr := liveness.New(expiry, clock)
	if v := tr.Judge("never"); v.Alive || v.Known {
		t.Fatalf("never seen: %+v", v)
	}
	tr.Observe([]domain.Node{{ID: "n1", BootID: "b", Seq: 1}, {ID: "n2", BootID: "b", Seq: 1}})
	tr.Observe([]domain.Node{{ID: "n2", BootID: "b", Seq: 2}}) // n1 drained: its record is gone
	if v := tr.Judge("n1"); v.Alive || v.Known {
		t.Fatalf("removed record: %+v, want dead and unknown", v)
	}
	tr.ObserveMissing("n2")
	if v := tr.Judge("n2"); v.Alive || v.Known {
		t.Fatalf("record found missing: %+v", v)
	}
	tr.ObserveOne(domain.Node{ID: "n2", BootID: "b", Seq: 2})
	if v := tr.Judge("n2"); !v.Alive {
		t.Fatalf("record back: %+v, want alive", v)
	}
}
