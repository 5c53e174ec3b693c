package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"ddn/app/session"
	"ddn/domain"
	"ddn/ports"
)

// A close the store missed leaves the claim behind; the next reconcile
// releases it and marks the machine disconnected.
func TestReconcileReleasesAClaimWhoseCloseTheStoreMissed(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyA)
	f.store.FailWith(errors.New("connection refused"))
	if err := ss.Close(ctx); domain.CodeOf(err) != domain.CodeDatabase {
		t.Fatalf("close with the store down: %v", err)
	}
	f.store.FailWith(nil)
	res, err := f.svc.Reconcile(ctx)
	if err != nil || res.Released != 1 {
		t.Fatalf("reconcile = %+v, %v; want the orphaned claim released", res, err)
	}
	if _, err := f.store.GetConnection(ctx, keyA); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claim still there: %v", err)
	}
	if m := f.machine(t, keyA); m.State != domain.StateDisconnected {
		t.Fatalf("machine = %+v, want disconnected", m)
	}
}

// lostDelete deletes claims but answers with an error, as a write whose
// answer timed out does.
type lostDelete struct {
	ports.Store
	lose bool
}

func (s *lostDelete) DeleteConnection(ctx context.Context, key domain.MachineKey, connID string) (bool, error) {
	ok, err := s.Store.DeleteConnection(ctx, key, connID)
	if s.lose && err == nil {
		return ok, errors.New("client timed out waiting for server response")
	}
	return ok, err
}

// A close whose claim delete was done but answered with an error (a node
// waking from a stall past its operation timeouts) leaves no claim to
// release: the disconnect is owed, and the reconciler writes it, so the
// machine does not stay online with no socket anywhere.
func TestReconcileWritesTheDisconnectOfADeleteWhoseAnswerWasLost(t *testing.T) {
	f := newFixture(t, "node-a")
	store := &lostDelete{Store: f.store, lose: true}
	svc := f.serviceOver(t, "node-b", store)
	ss := svc.Open("ip")
	online(t, ss, keyA)
	if err := ss.Close(ctx); domain.CodeOf(err) != domain.CodeDatabase {
		t.Fatalf("close with the delete's answer lost: %v", err)
	}
	if _, err := f.store.GetConnection(ctx, keyA); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claim still there (%v); the test wants the delete done", err)
	}
	store.lose = false
	if _, err := svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if m := f.machine(t, keyA); m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0) {
		t.Fatalf("machine = %+v, want disconnected since the close", m)
	}
}

// failDisconnect fails MarkDisconnected only.
type failDisconnect struct {
	ports.Store
	fail bool
}

func (s *failDisconnect) MarkDisconnected(ctx context.Context, key domain.MachineKey, at, lastReport time.Time) error {
	if s.fail {
		return errors.New("write lost")
	}
	return s.Store.MarkDisconnected(ctx, key, at, lastReport)
}

// A disconnect whose state write failed after the claim was released is
// owed: the reconciler writes it.
func TestReconcileWritesAnOwedDisconnect(t *testing.T) {
	f := newFixture(t, "node-a")
	store := &failDisconnect{Store: f.store, fail: true}
	svc := f.serviceOver(t, "node-b", store)
	ss := svc.Open("ip")
	online(t, ss, keyA)
	if err := ss.Close(ctx); err == nil {
		t.Fatal("close reported success although the state write failed")
	}
	if m := f.machine(t, keyA); m.State != domain.StateOnline {
		t.Fatalf("machine = %+v; the test wants the write lost", m)
	}
	store.fail = false
	res, err := svc.Reconcile(ctx)
	if err != nil || res.Repaired != 1 {
		t.Fatalf("reconcile = %+v, %v; want the owed disconnect written", res, err)
	}
	if m := f.machine(t, keyA); m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0) {
		t.Fatalf("machine = %+v, want disconnected since the close", m)
	}
}

// A disconnect that raced a reconnect (it wrote its state after the new
// session's online) leaves a live session's machine disconnected; the
// reconciler sets it online again.
func TestReconcileRepairsAStateARacingDisconnectLeft(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyA)
	if err := f.store.MarkDisconnected(ctx, keyA, t0, time.Time{}); err != nil { // the late write of another node's close
		t.Fatal(err)
	}
	res, err := f.svc.Reconcile(ctx)
	if err != nil || res.Repaired != 1 {
		t.Fatalf("reconcile = %+v, %v; want the state repaired", res, err)
	}
	if m := f.machine(t, keyA); m.State != domain.StateOnline {
		t.Fatalf("machine = %+v, want online", m)
	}
	if res, err := f.svc.Reconcile(ctx); err != nil || res.Changed() {
		t.Fatalf("second reconcile = %+v, %v; want nothing left to do", res, err)
	}
}

// Claims of a previous life under the same NodeID are released at Join,
// from that life's last heartbeat; a session of this boot is left alone.
func TestJoinReleasesThePreviousLifesClaims(t *testing.T) {
	f := newFixture(t, "node-a")
	online(t, f.svc.Open("ip"), keyA)
	f.clock.Advance(time.Minute) // node-a crashes; a minute later it starts again
	next, err := session.NewService(session.Config{NodeID: "node-a", NodeExpiry: 15 * time.Second}, f.store, storeAppender{f.store}, f.clock, f.events.Observe)
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetConnection(ctx, keyA); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("previous life's claim still there: %v", err)
	}
	if m := f.machine(t, keyA); m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0) {
		t.Fatalf("machine = %+v, want disconnected since the previous life's last heartbeat %v", m, t0)
	}
	ss := next.Open("ip")
	online(t, ss, keyA)
	if res, err := next.Reconcile(ctx); err != nil || res.Changed() {
		t.Fatalf("reconcile with the machine back = %+v, %v", res, err)
	}
}
