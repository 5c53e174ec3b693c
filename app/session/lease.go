package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"ddn/domain"
	"ddn/internal/periodic"
)

// leaseState is this node's view of its own lease.
type leaseState struct {
	mu  sync.Mutex
	seq uint64
	// renewedAt is when the latest successful renewal was sent, on this
	// node's clock: the store holds a record at least that fresh.
	renewedAt time.Time
	// acted: the fence was carried out (the sessions were closed) and the
	// lease has not been renewed since.
	acted bool
	// prevLife is the record a previous boot under this NodeID left, read
	// at Join; its claims are released with its last heartbeat.
	prevLife *domain.Node
	// owed are machines whose disconnect the store did not take (their
	// claim was deleted, the state write failed), with when they closed.
	owed map[domain.MachineKey]time.Time
}

// boundSession is what the reconciler knows of a live bound session.
type boundSession struct {
	key      domain.MachineKey
	staking  domain.StakingType
	clientIP string
	since    time.Time
	// fenced: the fence closed this session; until its connection has
	// ended it is not claimed again for a machine that went offline.
	fenced bool
}

// RenewLease writes this node's record with the next renewal count; while
// the count keeps changing, other nodes treat this node's claims as live.
func (s *Service) RenewLease(ctx context.Context) error {
	s.lease.mu.Lock()
	s.lease.seq++
	seq := s.lease.seq
	s.lease.mu.Unlock()
	sent := s.clock.Now()
	n := domain.Node{ID: s.cfg.NodeID, Addr: s.cfg.NodeAddr, Version: s.cfg.Version, StartedAt: s.startedAt,
		HeartbeatAt: sent, BootID: s.bootID, Seq: seq}
	if err := s.store.UpsertNode(ctx, n); err != nil {
		return fmt.Errorf("renew lease of node %s: %w: %w", s.cfg.NodeID, domain.ErrStore, err)
	}
	s.lease.mu.Lock()
	if sent.After(s.lease.renewedAt) {
		s.lease.renewedAt = sent
	}
	back := s.lease.acted && !s.fencedLocked(s.clock.Now())
	if back {
		s.lease.acted = false
	}
	s.lease.mu.Unlock()
	if back {
		if s.OnFence != nil {
			s.OnFence(false)
		}
		s.nudgeReconcile()
	}
	return nil
}

// ReleaseLease removes this node's record at the end of a drain.
func (s *Service) ReleaseLease(ctx context.Context) error {
	if err := s.store.DeleteNode(ctx, s.cfg.NodeID); err != nil {
		return fmt.Errorf("release lease of node %s: %w: %w", s.cfg.NodeID, domain.ErrStore, err)
	}
	return nil
}

// Join makes this boot the node's life in the cluster: it remembers the
// lease record a previous boot under the same NodeID left, renews the
// lease, and releases that boot's claims (Reconcile). Call it once, before
// serving and before any RenewLease (which would overwrite the previous
// life's record); only a failed renewal is an error (the reconciler retries
// the rest).
func (s *Service) Join(ctx context.Context) error {
	prev, err := s.store.GetNode(ctx, s.cfg.NodeID)
	switch {
	case err == nil && prev.BootID != s.bootID:
		s.lease.mu.Lock()
		s.lease.prevLife = &prev
		s.lease.mu.Unlock()
	case err != nil && !errors.Is(err, domain.ErrNotFound):
		return fmt.Errorf("join: read the lease of node %s: %w: %w", s.cfg.NodeID, domain.ErrStore, err)
	}
	if err := s.RenewLease(ctx); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	res, err := s.Reconcile(ctx)
	if s.OnReconcile != nil && (err != nil || res.Changed()) {
		s.OnReconcile(res, err)
	}
	return nil
}

// Fenced tells whether this node has fenced itself: it has held a lease
// (Join renewed it), and no renewal sent within the last FenceAfter has
// succeeded. A fenced node refuses onlines.
func (s *Service) Fenced() bool {
	s.lease.mu.Lock()
	defer s.lease.mu.Unlock()
	return s.fencedLocked(s.clock.Now())
}

func (s *Service) fencedLocked(now time.Time) bool {
	return !s.cfg.Alone && !s.lease.renewedAt.IsZero() && now.Sub(s.lease.renewedAt) > s.cfg.FenceAfter
}

// refuseIfFenced is the online's check: a fenced node claims nothing, since
// other nodes may be about to take its claims over.
func (s *Service) refuseIfFenced(key domain.MachineKey) error {
	if s.Fenced() {
		return fmt.Errorf("online %s: node %s fenced, its lease not renewed within %v: %w", key, s.cfg.NodeID, s.cfg.FenceAfter, domain.ErrStore)
	}
	return nil
}

// CheckFence carries out the fence when it is due: once per loss of the
// lease, every bound session is closed, so that the agents reconnect to a
// node that holds its lease before any node may take their claims over
// (FenceAfter < NodeExpiry). It reports whether the node is fenced.
func (s *Service) CheckFence(ctx context.Context) bool {
	s.lease.mu.Lock()
	fenced := s.fencedLocked(s.clock.Now())
	act := fenced && !s.lease.acted
	if act {
		s.lease.acted = true
	}
	s.lease.mu.Unlock()
	if !act {
		return fenced
	}
	if s.OnFence != nil {
		s.OnFence(true)
	}
	s.mu.Lock()
	bound := maps.Clone(s.bound)
	for connID, b := range bound {
		b.fenced = true
		s.bound[connID] = b
	}
	s.mu.Unlock()
	for connID, b := range bound {
		s.kickSession(ctx, b.key, connID, "node lost its lease")
	}
	return true
}

func (s *Service) kickSession(ctx context.Context, key domain.MachineKey, connID, reason string) {
	if s.local != nil {
		s.local.Kick(ctx, key, connID, reason)
	}
}

// nudgeReconcile asks Run's reconciler for a pass soon (after a store error).
func (s *Service) nudgeReconcile() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// owe remembers a disconnect the store did not take.
func (s *Service) owe(key domain.MachineKey, at time.Time) {
	s.lease.mu.Lock()
	defer s.lease.mu.Unlock()
	if s.lease.owed == nil {
		s.lease.owed = map[domain.MachineKey]time.Time{}
	}
	s.lease.owed[key] = at
	s.nudgeReconcile()
}

// ReconcileResult counts what one reconcile pass changed.
type ReconcileResult struct {
	// Released: claims of this node that no live session of this boot backs
	// (a previous life's, or a session whose close the store missed).
	Released int
	// Reclaimed: live sessions whose claim was gone, claimed again.
	Reclaimed int
	// Closed: live sessions closed because another live connection holds
	// their machine.
	Closed int
	// Repaired: machines of live sessions found disconnected (a disconnect
	// that raced a reconnect) and set online again, or owed disconnects
	// written.
	Repaired int
}

// Changed tells whether the pass changed anything.
func (r ReconcileResult) Changed() bool { return r != ReconcileResult{} }

// Reconcile makes the store's claims of this node match its live sessions:
// a claim no live session of this boot backs is released (for a previous
// life's, from its last heartbeat); a live session whose claim is gone is
// claimed again, or closed when another live connection holds its machine;
// a machine of a live session that a racing disconnect left disconnected is
// set online again. A fenced node skips the pass. Errors on single machines
// do not stop the pass.
func (s *Service) Reconcile(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	if s.Fenced() {
		return res, nil
	}
	claims, err := s.store.ListConnections(ctx, s.cfg.NodeID)
	if err != nil {
		return res, fmt.Errorf("reconcile: list claims of node %s: %w: %w", s.cfg.NodeID, domain.ErrStore, err)
	}
	// The common pass finds every claim backed by its live session and
	// every session by its claim; it only counts them (thousands of
	// sessions, every few seconds: no copy of the session table).
	var stale []domain.Connection
	var unclaimed []liveSession
	s.mu.Lock()
	held := 0
	for _, c := range claims {
		if _, ok := s.backedLocked(c); ok {
			held++
			continue
		}
		stale = append(stale, c)
	}
	if held < len(s.bound) {
		claimed := make(map[string]bool, held)
		for _, c := range claims {
			if _, ok := s.backedLocked(c); ok {
				claimed[c.ConnID] = true
			}
		}
		for connID, b := range s.bound {
			if !claimed[connID] {
				unclaimed = append(unclaimed, liveSession{connID, b})
			}
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, c := range stale {
		released, err := s.releaseClaim(ctx, c)
		if err != nil {
			errs = append(errs, err)
		} else if released {
			res.Released++
		}
	}
	slices.SortFunc(unclaimed, func(a, b liveSession) int { return strings.Compare(a.connID, b.connID) })
	for _, l := range unclaimed {
		reclaimed, closed, err := s.restore(ctx, l.connID, l.session)
		switch {
		case err != nil:
			errs = append(errs, err)
		case reclaimed:
			res.Reclaimed++
		case closed:
			res.Closed++
		}
	}
	repaired, err := s.repair(ctx, claims, held)
	res.Repaired += repaired
	if err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// backedLocked gives the live session claim c belongs to: the session of
// its connection, bound to its machine. The caller holds s.mu.
func (s *Service) backedLocked(c domain.Connection) (boundSession, bool) {
	b, ok := s.bound[c.ConnID]
	return b, ok && b.key == c.Key
}

// liveSession is a bound session of this node, by its connection id.
type liveSession struct {
	connID  string
	session boundSession
}

// releaseClaim releases claim c of this node if no live session of this
// boot backs it.
func (s *Service) releaseClaim(ctx context.Context, c domain.Connection) (bool, error) {
	unlock := s.keys.lock(c.Key)
	defer unlock()
	since := s.clock.Now()
	if s.ownBoot(c.ConnID) {
		s.mu.Lock()
		_, ok := s.backedLocked(c)
		s.mu.Unlock()
		if ok {
			return false, nil // bound since the list was read
		}
	} else {
		s.lease.mu.Lock()
		if p := s.lease.prevLife; p != nil && !p.HeartbeatAt.IsZero() {
			since = p.HeartbeatAt // the previous life ended with its last heartbeat
		}
		s.lease.mu.Unlock()
	}
	deleted, err := s.store.DeleteConnection(ctx, c.Key, c.ConnID)
	if err != nil {
		return false, fmt.Errorf("reconcile: release %s of %s: %w: %w", c.Key, c.ConnID, domain.ErrStore, err)
	}
	if !deleted {
		return false, nil
	}
	ok, err := s.store.MarkDisconnectedBy(ctx, c.Key, s.cfg.NodeID, since)
	if err != nil {
		s.owe(c.Key, since)
		return true, fmt.Errorf("reconcile: mark %s disconnected: %w: %w", c.Key, domain.ErrStore, err)
	}
	if ok {
		s.observed(domain.Event{Kind: domain.EventDisconnected, Key: c.Key, NodeID: s.cfg.NodeID, At: since, Previous: domain.StateOnline})
	}
	return true, nil
}

// restore claims again the machine of live session connID whose claim is
// gone, or closes the session when another live connection holds it.
func (s *Service) restore(ctx context.Context, connID string, b boundSession) (reclaimed, closed bool, err error) {
	unlock := s.keys.lock(b.key)
	defer unlock()
	s.mu.Lock()
	cur, ok := s.bound[connID]
	s.mu.Unlock()
	if !ok || cur.key != b.key {
		return false, false, nil // closed since the list was read
	}
	holder, err := s.store.GetConnection(ctx, b.key)
	switch {
	case err == nil && holder.ConnID == connID:
		return false, false, nil
	case err == nil:
		stale, err := s.stale(ctx, holder)
		if err != nil {
			return false, false, fmt.Errorf("reconcile: holder of %s: %w: %w", b.key, domain.ErrStore, err)
		}
		if !stale {
			s.kickSession(ctx, b.key, connID, "machine held by another connection")
			return false, true, nil
		}
	case !errors.Is(err, domain.ErrNotFound):
		return false, false, fmt.Errorf("reconcile: claim on %s: %w: %w", b.key, domain.ErrStore, err)
	}
	if cur.fenced {
		// The fence closed this session and its connection has not ended
		// yet (the agent may be gone for good): it brings back a machine
		// that is only disconnected, never one that went offline.
		m, err := s.store.GetMachine(ctx, b.key)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return false, false, fmt.Errorf("reconcile: read %s: %w: %w", b.key, domain.ErrStore, err)
		}
		if err != nil || m.State == domain.StateOffline {
			return false, false, nil
		}
	}
	now := s.clock.Now()
	prev, err := s.bindClaim(ctx, domain.Connection{Key: b.key, NodeID: s.cfg.NodeID, ConnID: connID, ClientIP: b.clientIP, AddTime: now},
		b.staking, nil, false, now)
	if errors.Is(err, domain.ErrMachineHeld) {
		s.kickSession(ctx, b.key, connID, "machine held by another connection")
		return false, true, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("reconcile: claim %s again: %w", b.key, err)
	}
	s.observed(domain.Event{Kind: domain.EventOnline, Key: b.key, StakingType: b.staking, NodeID: s.cfg.NodeID, At: now, Previous: prev.State})
	return true, false, nil
}

// repair writes the disconnects the store owes, and sets online again the
// machines of live sessions holding their claim that a disconnect racing
// their reconnect left disconnected.
func (s *Service) repair(ctx context.Context, claims []domain.Connection, held int) (int, error) {
	repaired := 0
	var errs []error
	s.lease.mu.Lock()
	owed := maps.Clone(s.lease.owed)
	s.lease.mu.Unlock()
	for key, at := range owed {
		done, err := s.payOwed(ctx, key, at)
		if err != nil {
			errs = append(errs, err)
		} else if done {
			repaired++
		}
	}
	if held == 0 {
		return repaired, errors.Join(errs...)
	}
	machines, err := s.store.ListMachines(ctx, domain.MachineFilter{State: domain.StateDisconnected})
	if err != nil {
		return repaired, errors.Join(append(errs, fmt.Errorf("reconcile: list disconnected machines: %w: %w", domain.ErrStore, err))...)
	}
	if len(machines) == 0 {
		return repaired, errors.Join(errs...)
	}
	disconnected := make(map[domain.MachineKey]bool, len(machines))
	for _, m := range machines {
		disconnected[m.Key] = true
	}
	// The sessions whose claim the pass found held, of those machines.
	var racing []liveSession
	s.mu.Lock()
	for _, c := range claims {
		if b, ok := s.backedLocked(c); ok && disconnected[c.Key] {
			racing = append(racing, liveSession{c.ConnID, b})
		}
	}
	s.mu.Unlock()
	for _, l := range racing {
		done, err := s.setOnlineAgain(ctx, l.connID, l.session)
		if err != nil {
			errs = append(errs, err)
		} else if done {
			repaired++
		}
	}
	return repaired, errors.Join(errs...)
}

func (s *Service) payOwed(ctx context.Context, key domain.MachineKey, at time.Time) (bool, error) {
	unlock := s.keys.lock(key)
	defer unlock()
	s.mu.Lock()
	taken := false
	for _, b := range s.bound {
		taken = taken || b.key == key
	}
	s.mu.Unlock()
	if !taken {
		if _, err := s.store.MarkDisconnectedBy(ctx, key, s.cfg.NodeID, at); err != nil {
			return false, fmt.Errorf("reconcile: mark %s disconnected: %w: %w", key, domain.ErrStore, err)
		}
	}
	s.lease.mu.Lock()
	if s.lease.owed[key].Equal(at) {
		delete(s.lease.owed, key)
	}
	s.lease.mu.Unlock()
	return !taken, nil
}

func (s *Service) setOnlineAgain(ctx context.Context, connID string, b boundSession) (bool, error) {
	unlock := s.keys.lock(b.key)
	defer unlock()
	s.mu.Lock()
	_, ok := s.bound[connID]
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	holder, err := s.store.GetConnection(ctx, b.key)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil // the next pass claims it again
	}
	if err != nil {
		return false, fmt.Errorf("reconcile: claim on %s: %w: %w", b.key, domain.ErrStore, err)
	}
	if holder.ConnID != connID {
		return false, nil
	}
	m, err := s.store.GetMachine(ctx, b.key)
	if err != nil {
		return false, fmt.Errorf("reconcile: read %s: %w: %w", b.key, domain.ErrStore, err)
	}
	if m.State != domain.StateDisconnected {
		return false, nil
	}
	now := s.clock.Now()
	if _, _, err := s.store.MarkOnline(ctx, b.key, b.staking, s.cfg.NodeID, now); err != nil {
		return false, fmt.Errorf("reconcile: mark %s online: %w: %w", b.key, domain.ErrStore, err)
	}
	s.observed(domain.Event{Kind: domain.EventOnline, Key: b.key, StakingType: b.staking, NodeID: s.cfg.NodeID, At: now, Previous: domain.StateDisconnected})
	return true, nil
}

// Run keeps this node's lease and claims true until ctx ends: it renews the
// lease every RenewInterval (and observes the other nodes' leases), checks
// the fence several times per interval, and reconciles every
// ReconcileInterval and soon after a store error. Call Join first.
func (s *Service) Run(ctx context.Context) {
	every := s.cfg.RenewInterval
	check := min(max(every/4, 10*time.Millisecond), time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { periodic.Run(ctx, every, s.renewPass) })
	wg.Go(func() { periodic.Run(ctx, check, func(ctx context.Context) { s.CheckFence(ctx) }) })
	wg.Go(func() { s.reconcileLoop(ctx, s.cfg.ReconcileInterval) })
	wg.Wait()
}

func (s *Service) renewPass(ctx context.Context) {
	// A node that wakes past its deadline (stopped, stalled) fences before
	// it renews: the sessions it held may be another node's by now.
	s.CheckFence(ctx)
	// A renewal answered after the fence deadline is worth nothing more.
	rctx, cancel := context.WithTimeout(ctx, s.cfg.FenceAfter)
	err := s.RenewLease(rctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && s.OnError != nil {
			s.OnError("renew node lease", err)
		}
		return
	}
	if nodes, err := s.store.ListNodes(ctx); err == nil {
		s.cfg.Liveness.Observe(nodes)
	}
}

func (s *Service) reconcileLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.nudge:
		}
		res, err := s.Reconcile(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.OnReconcile != nil && (err != nil || res.Changed()) {
			s.OnReconcile(res, err)
		}
		// A nudge right after a pass waits a little: a store that keeps
		// failing is not hammered.
		select {
		case <-ctx.Done():
			return
		case <-time.After(every / 4):
		}
	}
}

// SessionInfo is one live bound session of this node.
type SessionInfo struct {
	MachineID   string    `json:"machine_id"`
	Project     string    `json:"project"`
	ContainerID string    `json:"container_id"`
	ConnID      string    `json:"conn_id"`
	Since       time.Time `json:"since"`
}

// Sessions lists this node's live bound sessions (its open sockets that
// went online), ordered by machine.
func (s *Service) Sessions() []SessionInfo {
	s.mu.Lock()
	out := make([]SessionInfo, 0, len(s.bound))
	for connID, b := range s.bound {
		out = append(out, SessionInfo{MachineID: b.key.MachineID, Project: b.key.Project, ContainerID: b.key.ContainerID, ConnID: connID, Since: b.since})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b SessionInfo) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.MachineID, b.MachineID), cmp.Compare(a.ContainerID, b.ContainerID))
	})
	return out
}

// keyLocks serialises, on this node, the claim-and-state steps of one
// machine (online, close, reconcile), so that a disconnect and a reconnect
// of the same machine on this node never interleave.
type keyLocks struct {
	mu sync.Mutex
	m  map[domain.MachineKey]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int
}

func (k *keyLocks) lock(key domain.MachineKey) func() {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
