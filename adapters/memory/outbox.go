package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/btree"

	"ddn/domain"
)

// outboxAge orders entries oldest first as the Mongo adapter does: by
// created_at, then _id.
type outboxAge struct {
	created time.Time
	id      string
}

func (a outboxAge) less(b outboxAge) bool {
	if c := a.created.Compare(b.created); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

// outboxDue orders ready entries by when they are due, so a dispatch pass
// walks only the due ones.
type outboxDue struct {
	at  time.Time
	age outboxAge
}

func (a outboxDue) less(b outboxDue) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.age.less(b.age)
}

// outboxIndex keeps the outbox ordered by age, by status and (ready entries)
// by due time: the node's dispatch pass runs every second over an outbox
// that holds an entry per machine that ever went online, and must cost what
// is pending or due, not what is done. The zero value is ready to use.
type outboxIndex struct {
	all      *btree.BTreeG[outboxAge]
	byStatus map[domain.OutboxStatus]*btree.BTreeG[outboxAge]
	due      *btree.BTreeG[outboxDue]
}

// btreeDegree is the fan-out of the index's trees (google/btree suggests
// small tens for in-memory trees).
const btreeDegree = 32

func ageOf(e domain.OutboxEntry) outboxAge { return outboxAge{created: e.CreatedAt, id: e.ID} }

func (x *outboxIndex) init() {
	if x.all != nil {
		return
	}
	x.all = btree.NewG(btreeDegree, outboxAge.less)
	x.byStatus = map[domain.OutboxStatus]*btree.BTreeG[outboxAge]{}
	x.due = btree.NewG(btreeDegree, outboxDue.less)
}

// status returns the tree of one status, creating it on first use.
func (x *outboxIndex) status(st domain.OutboxStatus) *btree.BTreeG[outboxAge] {
	x.init()
	t, ok := x.byStatus[st]
	if !ok {
		t = btree.NewG(btreeDegree, outboxAge.less)
		x.byStatus[st] = t
	}
	return t
}

func (x *outboxIndex) add(e domain.OutboxEntry) {
	x.init()
	age := ageOf(e)
	x.all.ReplaceOrInsert(age)
	x.status(e.Status).ReplaceOrInsert(age)
	if e.Status == domain.OutboxReady {
		x.due.ReplaceOrInsert(outboxDue{at: e.NextAttemptAt, age: age})
	}
}

func (x *outboxIndex) remove(e domain.OutboxEntry) {
	x.init()
	age := ageOf(e)
	x.all.Delete(age)
	x.status(e.Status).Delete(age)
	if e.Status == domain.OutboxReady {
		x.due.Delete(outboxDue{at: e.NextAttemptAt, age: age})
	}
}

// count is how many entries have status st.
func (x *outboxIndex) count(st domain.OutboxStatus) int {
	if t, ok := x.byStatus[st]; ok {
		return t.Len()
	}
	return 0
}

func cloneEntry(e domain.OutboxEntry) domain.OutboxEntry {
	e.Targets = slices.Clone(e.Targets)
	e.Delivered = slices.Clone(e.Delivered)
	e.Skipped = slices.Clone(e.Skipped)
	e.GaveUp = slices.Clone(e.GaveUp)
	return e
}

// InsertOutbox implements ports.OutboxStore.
func (s *Store) InsertOutbox(_ context.Context, e domain.OutboxEntry) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.outbox[e.ID]; ok {
		return fmt.Errorf("outbox entry %s: %w", e.ID, domain.ErrDuplicate)
	}
	e = cloneEntry(e)
	s.outbox[e.ID] = e
	s.outboxIdx.add(e)
	return nil
}

// GetOutbox implements ports.OutboxStore.
func (s *Store) GetOutbox(_ context.Context, id string) (domain.OutboxEntry, error) {
	if err := s.lock(); err != nil {
		return domain.OutboxEntry{}, err
	}
	defer s.mu.Unlock()
	e, ok := s.outbox[id]
	if !ok {
		return domain.OutboxEntry{}, fmt.Errorf("outbox entry %s: %w", id, domain.ErrNotFound)
	}
	return cloneEntry(e), nil
}

// UpdateOutbox implements ports.OutboxStore.
func (s *Store) UpdateOutbox(_ context.Context, e domain.OutboxEntry) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.outbox[e.ID]
	if !ok {
		return fmt.Errorf("outbox entry %s: %w", e.ID, domain.ErrNotFound)
	}
	e = cloneEntry(e)
	s.outboxIdx.remove(old)
	s.outbox[e.ID] = e
	s.outboxIdx.add(e)
	return nil
}

// ListOutbox implements ports.OutboxStore; with a status it walks only the
// entries of that status.
func (s *Store) ListOutbox(_ context.Context, f domain.OutboxFilter) ([]domain.OutboxEntry, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	s.outboxIdx.init()
	tree := s.outboxIdx.all
	if f.Status != "" {
		tree = s.outboxIdx.status(f.Status)
	}
	var out []domain.OutboxEntry
	tree.Ascend(func(age outboxAge) bool {
		out = append(out, cloneEntry(s.outbox[age.id]))
		return f.Limit <= 0 || len(out) < f.Limit
	})
	return out, nil
}

// DueOutbox implements ports.OutboxStore. A pass costs about the entries
// it returns: when few entries are due it walks the due-time index and sorts
// them by age; when many are (the backlog after a reconnect storm, drained
// limit entries a pass) it walks the ready entries oldest first and stops
// at limit instead of sorting the whole backlog every pass.
func (s *Store) DueOutbox(_ context.Context, now time.Time, limit int) ([]domain.OutboxEntry, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	s.outboxIdx.init()
	probe := -1 // no limit: collect every due entry
	if limit > 0 {
		probe = 4 * limit
	}
	var due []outboxAge
	s.outboxIdx.due.Ascend(func(d outboxDue) bool {
		if d.at.After(now) || len(due) == probe {
			return false
		}
		due = append(due, d.age)
		return true
	})
	if len(due) == probe {
		due = due[:0]
		s.outboxIdx.status(domain.OutboxReady).Ascend(func(age outboxAge) bool {
			if !s.outbox[age.id].NextAttemptAt.After(now) {
				due = append(due, age)
			}
			return len(due) < limit
		})
	} else {
		slices.SortFunc(due, func(a, b outboxAge) int {
			return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.id, b.id))
		})
	}
	if limit > 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]domain.OutboxEntry, 0, len(due))
	for _, age := range due {
		out = append(out, cloneEntry(s.outbox[age.id]))
	}
	return out, nil
}

// ClaimOutbox implements ports.OutboxStore.
func (s *Store) ClaimOutbox(_ context.Context, id string, attempt int, round int64, owner string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	claim := fmt.Sprintf("%s|%d|%d", id, attempt, round)
	if _, taken := s.claims[claim]; taken {
		return false, nil
	}
	s.claims[claim] = owner
	s.claimedAt[claim] = time.Now()
	return true, nil
}

// CountOutbox implements ports.OutboxStore; the index keeps the counts.
func (s *Store) CountOutbox(context.Context) (map[domain.OutboxStatus]int64, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := map[domain.OutboxStatus]int64{}
	for st, t := range s.outboxIdx.byStatus {
		if t.Len() > 0 {
			out[st] = int64(t.Len())
		}
	}
	return out, nil
}

// PruneOutbox implements ports.OutboxStore; it walks the done and cancelled
// entries only.
func (s *Store) PruneOutbox(_ context.Context, before time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var gone []domain.OutboxEntry
	for _, st := range []domain.OutboxStatus{domain.OutboxDone, domain.OutboxCancelled} {
		s.outboxIdx.status(st).Ascend(func(age outboxAge) bool {
			if e := s.outbox[age.id]; e.DoneAt.Before(before) {
				gone = append(gone, e)
			}
			return true
		})
	}
	for _, e := range gone {
		s.outboxIdx.remove(e)
		delete(s.outbox, e.ID)
	}
	for claim, at := range s.claimedAt {
		if at.Before(before) {
			delete(s.claims, claim)
			delete(s.claimedAt, claim)
		}
	}
	return int64(len(gone)), nil
}
