// Package memory holds in-memory fakes of the outbound ports: for the domain's
// unit tests, and (the store) selectable at run time as `memory://` for demos
// and benchmarks of the node itself. Nothing persists.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/btree"

	"ddn/domain"
	"ddn/ports"
)

// Store is the in-memory fake of ports.Store; safe for concurrent use.
type Store struct {
	mu          sync.Mutex
	connections map[domain.MachineKey]domain.Connection
	nodes       map[string]domain.Node
	machines    map[domain.MachineKey]domain.Machine
	// connOrder and machineOrder hold the keys of connections and machines
	// in key order, so that listings (the reconciler's every few seconds,
	// a page of the machine list) need no sort of the whole fleet.
	connOrder    *btree.BTreeG[domain.MachineKey]
	machineOrder *btree.BTreeG[domain.MachineKey]
	reports      []domain.Report
	outbox       map[string]domain.OutboxEntry
	outboxIdx    outboxIndex
	claims       map[string]string
	claimedAt    map[string]time.Time
	mailbox      []domain.Command
	presence     map[domain.MachineKey][]domain.PresenceChange
	// failWith, when set, makes every call fail (store-down tests).
	failWith error
}

var _ ports.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		connections:  map[domain.MachineKey]domain.Connection{},
		nodes:        map[string]domain.Node{},
		machines:     map[domain.MachineKey]domain.Machine{},
		connOrder:    btree.NewG(btreeDegree, lessKey),
		machineOrder: btree.NewG(btreeDegree, lessKey),
		outbox:       map[string]domain.OutboxEntry{},
		claims:       map[string]string{},
		claimedAt:    map[string]time.Time{},
		presence:     map[domain.MachineKey][]domain.PresenceChange{},
	}
}

// FailWith makes every later call return err (nil restores service); it
// simulates a store that is down.
func (s *Store) FailWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = err
}

func (s *Store) lock() error {
	s.mu.Lock()
	if s.failWith != nil {
		err := s.failWith
		s.mu.Unlock()
		return fmt.Errorf("memory store: %w", err)
	}
	return nil
}

// InsertConnection implements ports.ConnectionStore.
func (s *Store) InsertConnection(_ context.Context, c domain.Connection) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, held := s.connections[c.Key]; held {
		return fmt.Errorf("insert connection %s: %w", c.Key, domain.ErrMachineHeld)
	}
	s.connections[c.Key] = c
	s.connOrder.ReplaceOrInsert(c.Key)
	return nil
}

// GetConnection implements ports.ConnectionStore.
func (s *Store) GetConnection(_ context.Context, key domain.MachineKey) (domain.Connection, error) {
	if err := s.lock(); err != nil {
		return domain.Connection{}, err
	}
	defer s.mu.Unlock()
	c, ok := s.connections[key]
	if !ok {
		return domain.Connection{}, fmt.Errorf("connection %s: %w", key, domain.ErrNotFound)
	}
	return c, nil
}

// DeleteConnection implements ports.ConnectionStore.
func (s *Store) DeleteConnection(_ context.Context, key domain.MachineKey, connID string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	c, ok := s.connections[key]
	if !ok || c.ConnID != connID {
		return false, nil
	}
	delete(s.connections, key)
	s.connOrder.Delete(key)
	return true, nil
}

// ListConnections implements ports.ConnectionStore.
func (s *Store) ListConnections(_ context.Context, nodeID string) ([]domain.Connection, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]domain.Connection, 0, len(s.connections))
	s.connOrder.Ascend(func(key domain.MachineKey) bool {
		if c := s.connections[key]; nodeID == "" || c.NodeID == nodeID {
			out = append(out, c)
		}
		return true
	})
	return out, nil
}

// UpsertNode implements ports.NodeStore.
func (s *Store) UpsertNode(_ context.Context, n domain.Node) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.nodes[n.ID] = n
	return nil
}

// GetNode implements ports.NodeStore.
func (s *Store) GetNode(_ context.Context, id string) (domain.Node, error) {
	if err := s.lock(); err != nil {
		return domain.Node{}, err
	}
	defer s.mu.Unlock()
	n, ok := s.nodes[id]
	if !ok {
		return domain.Node{}, fmt.Errorf("node %s: %w", id, domain.ErrNotFound)
	}
	return n, nil
}

// ListNodes implements ports.NodeStore.
func (s *Store) ListNodes(_ context.Context) ([]domain.Node, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]domain.Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b domain.Node) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteNode implements ports.NodeStore.
func (s *Store) DeleteNode(_ context.Context, id string) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.nodes, id)
	return nil
}

// GetMachine implements ports.MachineStore.
func (s *Store) GetMachine(_ context.Context, key domain.MachineKey) (domain.Machine, error) {
	if err := s.lock(); err != nil {
		return domain.Machine{}, err
	}
	defer s.mu.Unlock()
	m, ok := s.machines[key]
	if !ok {
		return domain.Machine{}, fmt.Errorf("machine %s: %w", key, domain.ErrNotFound)
	}
	return cloneMachine(m), nil
}

// MarkOnline implements ports.MachineStore.
func (s *Store) MarkOnline(_ context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (domain.Machine, bool, error) {
	if err := s.lock(); err != nil {
		return domain.Machine{}, false, err
	}
	defer s.mu.Unlock()
	prev, found := s.machines[key]
	m := cloneMachine(prev)
	if !found {
		m = domain.Machine{Key: key, RegisterTime: at}
		s.machineOrder.ReplaceOrInsert(key)
	}
	m.StakingType, m.State, m.NodeID, m.LastOnlineTime = st, domain.StateOnline, nodeID, at
	s.machines[key] = m
	s.recordPresence(key, at, domain.StateOnline, "", nodeID)
	return cloneMachine(prev), found, nil
}

// MarkDisconnected implements ports.MachineStore.
func (s *Store) MarkDisconnected(_ context.Context, key domain.MachineKey, at, lastReport time.Time) error {
	return s.update(key, func(m *domain.Machine) {
		m.State, m.LastDisconnectTime = domain.StateDisconnected, at
		if !lastReport.IsZero() {
			m.LastReportTime = lastReport
		}
		s.recordPresence(key, at, domain.StateDisconnected, domain.ReasonDisconnected, m.NodeID)
	})
}

// MarkDisconnectedBy implements ports.MachineStore.
func (s *Store) MarkDisconnectedBy(_ context.Context, key domain.MachineKey, nodeID string, at time.Time) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	m, ok := s.machines[key]
	if !ok || m.State != domain.StateOnline || m.NodeID != nodeID {
		return false, nil
	}
	m.State, m.LastDisconnectTime = domain.StateDisconnected, at
	s.machines[key] = m
	s.recordPresence(key, at, domain.StateDisconnected, domain.ReasonNodeLost, nodeID)
	return true, nil
}

// MarkOffline implements ports.MachineStore.
func (s *Store) MarkOffline(_ context.Context, key domain.MachineKey, since, at time.Time) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	m, ok := s.machines[key]
	if !ok || m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(since) {
		return false, nil
	}
	m.State, m.LastOfflineTime = domain.StateOffline, at
	s.machines[key] = m
	s.recordPresence(key, at, domain.StateOffline, domain.ReasonOffline, "")
	return true, nil
}

// SetShortTermInfo implements ports.MachineStore.
func (s *Store) SetShortTermInfo(_ context.Context, key domain.MachineKey, info domain.ShortTermInfo, reportAt time.Time) error {
	return s.update(key, func(m *domain.Machine) {
		c := cloneShortTerm(info)
		m.ShortTerm, m.LastReportTime = &c, reportAt
	})
}

// SetBandwidthInfo implements ports.MachineStore.
func (s *Store) SetBandwidthInfo(_ context.Context, key domain.MachineKey, info domain.BandwidthInfo, reportAt time.Time) error {
	return s.update(key, func(m *domain.Machine) { m.Bandwidth, m.LastReportTime = &info, reportAt })
}

// TouchLastReports implements ports.MachineStore.
func (s *Store) TouchLastReports(_ context.Context, keys []domain.MachineKey, at time.Time) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, key := range keys {
		if m, ok := s.machines[key]; ok && at.After(m.LastReportTime) {
			m.LastReportTime = at
			s.machines[key] = m
		}
	}
	return nil
}

// update changes a machine in place, creating it like an upsert would.
func (s *Store) update(key domain.MachineKey, change func(*domain.Machine)) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, ok := s.machines[key]
	if !ok {
		m = domain.Machine{Key: key}
		s.machineOrder.ReplaceOrInsert(key)
	}
	change(&m)
	s.machines[key] = m
	return nil
}

// ListMachines implements ports.MachineStore.
func (s *Store) ListMachines(_ context.Context, f domain.MachineFilter) ([]domain.Machine, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var keys []domain.MachineKey
	match := func(m domain.Machine) bool {
		return (f.Project == "" || m.Key.Project == f.Project) && (f.State == "" || m.State == f.State) &&
			(f.After == nil || compareKeys(m.Key, *f.After) > 0)
	}
	if f.Limit <= 0 && f.After == nil {
		// A whole listing (the reconciler's disconnected machines, the
		// fleet snapshot): one pass over the map, then the matches sorted.
		for _, m := range s.machines {
			if match(m) {
				keys = append(keys, m.Key)
			}
		}
		slices.SortFunc(keys, compareKeys)
	} else {
		// A page: walk the keys in order from the cursor until it is full.
		visit := func(key domain.MachineKey) bool {
			if match(s.machines[key]) {
				keys = append(keys, key)
			}
			return f.Limit <= 0 || len(keys) < f.Limit
		}
		if f.After != nil {
			s.machineOrder.AscendGreaterOrEqual(*f.After, visit)
		} else {
			s.machineOrder.Ascend(visit)
		}
	}
	// Only the page is copied: a page of 100 of 10,000 machines sorts keys,
	// not whole records.
	out := make([]domain.Machine, len(keys))
	for i, k := range keys {
		out[i] = cloneMachine(s.machines[k])
	}
	return out, nil
}

// AppendReports implements ports.ReportStore.
func (s *Store) AppendReports(_ context.Context, rs []domain.Report) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, r := range rs {
		s.reports = append(s.reports, cloneReport(r))
	}
	return nil
}

// ListReports implements ports.ReportStore.
func (s *Store) ListReports(_ context.Context, key domain.MachineKey, from, to time.Time, limit int) ([]domain.Report, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []domain.Report
	for _, r := range s.reports {
		if r.Key == key && (from.IsZero() || !r.Timestamp.Before(from)) && (to.IsZero() || r.Timestamp.Before(to)) {
			out = append(out, cloneReport(r))
		}
	}
	slices.SortStableFunc(out, func(a, b domain.Report) int { return b.Timestamp.Compare(a.Timestamp) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PruneReports implements ports.ReportStore.
func (s *Store) PruneReports(_ context.Context, before time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	kept := s.reports[:0]
	for _, r := range s.reports {
		if !r.Timestamp.Before(before) {
			kept = append(kept, r)
		}
	}
	n := int64(len(s.reports) - len(kept))
	s.reports = kept
	s.prunePresence(before)
	return n, nil
}

// Ping implements ports.Store.
func (s *Store) Ping(context.Context) error {
	if err := s.lock(); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close implements ports.Store.
func (s *Store) Close(context.Context) error { return nil }

func lessKey(a, b domain.MachineKey) bool { return compareKeys(a, b) < 0 }

func compareKeys(a, b domain.MachineKey) int {
	return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.MachineID, b.MachineID), cmp.Compare(a.ContainerID, b.ContainerID))
}

func cloneShortTerm(i domain.ShortTermInfo) domain.ShortTermInfo {
	i.GPUNames = slices.Clone(i.GPUNames)
	i.GPUMemoryTotal = slices.Clone(i.GPUMemoryTotal)
	return i
}

func cloneMachine(m domain.Machine) domain.Machine {
	if m.ShortTerm != nil {
		c := cloneShortTerm(*m.ShortTerm)
		m.ShortTerm = &c
	}
	if m.Bandwidth != nil {
		c := *m.Bandwidth
		m.Bandwidth = &c
	}
	if m.Location != nil {
		c := *m.Location
		m.Location = &c
	}
	return m
}

func cloneReport(r domain.Report) domain.Report {
	if r.ShortTerm != nil {
		c := cloneShortTerm(*r.ShortTerm)
		r.ShortTerm = &c
	}
	if r.Bandwidth != nil {
		c := *r.Bandwidth
		r.Bandwidth = &c
	}
	return r
}

// ListUnclassified implements ports.LegacyStore.
func (s *Store) ListUnclassified(_ context.Context, limit int) ([]domain.Machine, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []domain.Machine
	for _, m := range s.machines {
		if m.State == domain.StateUnknown {
			out = append(out, cloneMachine(m))
		}
	}
	slices.SortFunc(out, func(a, b domain.Machine) int { return compareKeys(a.Key, b.Key) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ClassifyMachines implements ports.LegacyStore.
func (s *Store) ClassifyMachines(_ context.Context, ps []domain.LegacyPresence) (int, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for _, p := range ps {
		m, ok := s.machines[p.Key]
		if !ok || m.State != domain.StateUnknown {
			continue
		}
		m.State = p.State
		switch p.State {
		case domain.StateDisconnected:
			m.LastDisconnectTime = p.Since
		case domain.StateOnline:
			m.NodeID = p.NodeID
		}
		s.machines[p.Key] = m
		n++
	}
	return n, nil
}
