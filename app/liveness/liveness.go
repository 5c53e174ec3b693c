// Package liveness judges whether the nodes of the cluster are alive without
// comparing two machines' wall clocks. Each node's lease record carries a
// boot id and a renewal counter; an observer remembers, on its own clock,
// when it last saw that pair change, and a node whose pair has not changed
// for longer than the expiry is dead. The writer's clock never enters the
// judgement, so a node whose clock is behind or ahead is judged like any
// other; what remains assumed is that clocks run at about the same rate
// (an observer that measures the expiry a fraction ρ short judges a node
// dead that much early, which the margin between the renew interval and
// the expiry absorbs).
//
// Observers must read the records right before they judge (Observe, then
// Judge): a verdict is only as fresh as the last observation.
package liveness

import (
	"sync"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// Tracker is one node's memory of the others' leases; safe for concurrent
// use, shared by everything on the node that judges liveness.
type Tracker struct {
	expiry time.Duration
	clock  ports.Clock

	mu   sync.Mutex
	seen map[string]*sighting
}

// sighting is what the observer last saw of one node and when it changed.
type sighting struct {
	boot    string
	seq     uint64
	changed time.Time
	present bool
}

// Verdict is the judgement of one node at one moment.
type Verdict struct {
	// Alive: the node's record changed within the expiry.
	Alive bool
	// Known: the node has a record in the store (false: never had one, or
	// it was removed, as a node does when it drains).
	Known bool
	// ExpiredAt is when a dead node's lease ran out on the observer's clock
	// (its last change plus the expiry); zero for a live node or one with no
	// record.
	ExpiredAt time.Time
}

// New returns a tracker judging leases by expiry on clock.
func New(expiry time.Duration, clock ports.Clock) *Tracker {
	return &Tracker{expiry: expiry, clock: clock, seen: map[string]*sighting{}}
}

// Expiry is how long a record may stay unchanged before its node is dead.
func (t *Tracker) Expiry() time.Duration { return t.expiry }

// Observe records every node record as just read (a full ListNodes): nodes
// missing from the list have no record any more.
func (t *Tracker) Observe(nodes []domain.Node) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	listed := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		listed[n.ID] = true
		t.sightLocked(n, now)
	}
	for id, s := range t.seen {
		if !listed[id] {
			s.present = false
		}
	}
}

// ObserveOne records one node record as just read (GetNode).
func (t *Tracker) ObserveOne(n domain.Node) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sightLocked(n, now)
}

// ObserveMissing records that node id has no record (GetNode found none).
func (t *Tracker) ObserveMissing(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.seen[id]; s != nil {
		s.present = false
	}
}

func (t *Tracker) sightLocked(n domain.Node, now time.Time) {
	s := t.seen[n.ID]
	if s == nil || !s.present || s.boot != n.BootID || s.seq != n.Seq {
		t.seen[n.ID] = &sighting{boot: n.BootID, seq: n.Seq, changed: now, present: true}
	}
}

// Judge says whether node id is alive as of the last observation. A node
// never observed counts as having no record.
func (t *Tracker) Judge(id string) Verdict {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.seen[id]
	if s == nil || !s.present {
		return Verdict{}
	}
	if now.Sub(s.changed) <= t.expiry {
		return Verdict{Alive: true, Known: true}
	}
	return Verdict{Known: true, ExpiredAt: s.changed.Add(t.expiry)}
}
