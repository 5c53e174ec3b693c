package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"ddn/domain"
)

// CountMachines implements ports.QueryStore.
func (s *Store) CountMachines(_ context.Context) ([]domain.MachineCount, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	type cell struct {
		project string
		state   domain.State
	}
	counts := map[cell]int64{}
	for _, m := range s.machines {
		counts[cell{m.Key.Project, m.State}]++
	}
	out := make([]domain.MachineCount, 0, len(counts))
	for c, n := range counts {
		out = append(out, domain.MachineCount{Project: c.project, State: c.state, Count: n})
	}
	slices.SortFunc(out, func(a, b domain.MachineCount) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.State, b.State))
	})
	return out, nil
}

// CountReports implements ports.QueryStore.
func (s *Store) CountReports(_ context.Context, since time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.reports {
		if !r.Timestamp.Before(since) {
			n++
		}
	}
	return n, nil
}

// DeleteMachine implements ports.QueryStore.
func (s *Store) DeleteMachine(_ context.Context, key domain.MachineKey) (domain.MachineDeletion, error) {
	if err := s.lock(); err != nil {
		return domain.MachineDeletion{}, err
	}
	defer s.mu.Unlock()
	var d domain.MachineDeletion
	_, d.Found = s.machines[key]
	delete(s.machines, key)
	s.machineOrder.Delete(key)
	_, d.Connection = s.connections[key]
	delete(s.connections, key)
	s.connOrder.Delete(key)
	delete(s.presence, key)
	kept := s.reports[:0]
	for _, r := range s.reports {
		if r.Key == key {
			d.Reports++
			continue
		}
		kept = append(kept, r)
	}
	s.reports = kept
	return d, nil
}

// PutMachine implements ports.QueryStore.
func (s *Store) PutMachine(_ context.Context, m domain.Machine) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.machines[m.Key] = cloneMachine(m)
	s.machineOrder.ReplaceOrInsert(m.Key)
	return nil
}

// ImportReports implements ports.QueryStore.
func (s *Store) ImportReports(_ context.Context, rs []domain.Report) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	type id struct {
		key domain.MachineKey
		ms  int64
	}
	seen := map[id]bool{}
	for _, r := range s.reports {
		seen[id{r.Key, r.Timestamp.UnixMilli()}] = true
	}
	var n int64
	for _, r := range rs {
		k := id{r.Key, r.Timestamp.UnixMilli()}
		if seen[k] {
			continue
		}
		seen[k] = true
		s.reports = append(s.reports, cloneReport(r))
		n++
	}
	return n, nil
}

// ScanReports implements ports.QueryStore; fn runs outside the lock.
func (s *Store) ScanReports(_ context.Context, from, to time.Time, fn func(domain.Report) error) error {
	if err := s.lock(); err != nil {
		return err
	}
	var match []domain.Report
	for _, r := range s.reports {
		if (from.IsZero() || !r.Timestamp.Before(from)) && (to.IsZero() || r.Timestamp.Before(to)) {
			match = append(match, cloneReport(r))
		}
	}
	s.mu.Unlock()
	for _, r := range match {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
