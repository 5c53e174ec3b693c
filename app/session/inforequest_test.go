package session_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"ddn/domain"
)

// askedLog is an InfoRequester that notes the machines asked.
type askedLog struct {
	mu  sync.Mutex
	got []domain.MachineKey
}

func (a *askedLog) RequestInfo(_ context.Context, k domain.MachineKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, k)
	return true
}

func (a *askedLog) take() []domain.MachineKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.got
	a.got = nil
	return out
}

func TestOnlyMachinesNeverScoredAreAskedForTheirInfo(t *testing.T) {
	f := newEnrichFixture(t)
	a, b := f.svc.Open("203.0.113.7"), f.svc.Open("203.0.113.8")
	online(t, a, keyA)
	online(t, b, keyB)
	f.svc.Open("203.0.113.9") // anonymous: no machine to ask
	to := &askedLog{}
	if n := f.svc.RequestMissingInfo(ctx, to); n != 2 {
		t.Fatalf("asked %d, want both bound machines (neither scored)", n)
	}
	if got := to.take(); len(got) != 2 || !slices.Contains(got, keyA) || !slices.Contains(got, keyB) {
		t.Fatalf("asked %v, want %v and %v", got, keyA, keyB)
	}
	if err := a.ReportShortTerm(ctx, gpuPC); err != nil { // scored: calc point 79.15
		t.Fatal(err)
	}
	if err := b.ReportBandwidth(ctx, bwPC); err != nil { // a bandwidth machine has no calc point: still asked, as the original
		t.Fatal(err)
	}
	if n := f.svc.RequestMissingInfo(ctx, to); n != 1 || !slices.Equal(to.take(), []domain.MachineKey{keyB}) {
		t.Fatalf("after A was scored: asked %d, want B only", n)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.svc.RequestMissingInfo(ctx, to); n != 0 {
		t.Fatalf("asked %d (%v) with A scored and B gone, want none", n, to.take())
	}
	// A machine scored before it connected (machine_info has its calc point) is not asked.
	c := f.svc.Open("203.0.113.10")
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	online(t, c, keyA)
	if n := f.svc.RequestMissingInfo(ctx, to); n != 0 {
		t.Fatalf("asked %d (%v) for a machine scored in an earlier connection", n, to.take())
	}
}
