package memory

import (
	"slices"
	"sync"

	"ddn/domain"
)

// Events records the transitions a session service or sweeper observed
// (pass its Observe), so tests can assert them.
type Events struct {
	mu     sync.Mutex
	events []domain.Event
}

// Observe records one transition.
func (e *Events) Observe(ev domain.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

// All returns a copy of everything published so far.
func (e *Events) All() []domain.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// Kinds returns the kinds of everything published so far, in order.
func (e *Events) Kinds() []domain.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]domain.EventKind, len(e.events))
	for i, ev := range e.events {
		out[i] = ev.Kind
	}
	return out
}
