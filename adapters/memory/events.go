package memory

import (
	"context"
	"slices"
	"sync"

	"ddn/domain"
)

// Events is a fake ports.EventSink that records what was published.
type Events struct {
	mu     sync.Mutex
	events []domain.Event
}

// Publish implements ports.EventSink.
func (e *Events) Publish(_ context.Context, ev domain.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
	return nil
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
