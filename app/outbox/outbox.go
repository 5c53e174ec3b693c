// Package outbox makes the side effects of presence transitions (chain
// reports, webhook calls) durable: an entry is recorded, under the
// transition's identity, before the state change; confirmed after it; and
// delivered by whichever node claims it, with retries, until every target
// has it or it is dead-lettered. A node that crashes mid-way leaves a
// pending entry that any node later checks against machine_info.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"ddn/domain"
	"ddn/internal/periodic"
	"ddn/ports"
)

// Config tunes the outbox; zero fields take the defaults.
type Config struct {
	// NodeID names this node in claims.
	NodeID string
	// Targets are the sinks new entries are delivered to (e.g. "log", "webhook", "chain").
	Targets []string
	// MaxAttempts dead-letters an entry after this many failed attempts (10).
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential retry delay (1s, 5m).
	BaseBackoff, MaxBackoff time.Duration
	// ClaimLease is how long one node owns an attempt before another may
	// retry it (30s), each timing it on its own clock.
	ClaimLease time.Duration
	// PendingAfter is how old a pending entry must be before it is checked
	// against the store as the leftover of a crash (30s).
	PendingAfter time.Duration
	// BatchSize caps the entries one pass delivers (100); Run follows a
	// full pass with the next at once.
	BatchSize int
	// Concurrency is how many entries one pass delivers at once (1). The
	// entries of one machine are still delivered one after the other, in
	// their order, so an online and the offline after it never race.
	Concurrency int
	// After makes a target follow another one (target -> the one it
	// follows): it is called only once that one delivered, and settled
	// without a call when that one had nothing to do (domain.ErrNoEffect).
	// The webhook follows the chain this way, as the original notified
	// only after the chain's report.
	After map[string]string
	// Regardless lets a target go on, for the event kinds listed, once the
	// target it follows was given up (MaxAttempts failed attempts): the
	// webhook hears of an offline whose penalty transaction failed, with
	// no transaction hash, as the current original tells its backend. The
	// given-up target is listed in the entry's GaveUp, the followers get
	// MaxAttempts more attempts, and the entry ends dead (the chain never
	// had it).
	Regardless map[string][]domain.EventKind
}

// Outbox records and delivers side effects.
type Outbox struct {
	cfg        Config
	store      ports.Store
	clock      ports.Clock
	deliverers map[string]ports.Deliverer
	// OnDelivery observes each delivery attempt to a target (metrics, logs).
	OnDelivery func(target string, e domain.Event, err error)
	// jitter returns a factor in [0.5, 1) applied to backoff delays.
	jitter func() float64

	// mu guards next and polled: what Run knows without asking the store.
	mu sync.Mutex
	// next is the earliest time an entry this node confirmed, scheduled or
	// retried is due (zero: none known).
	next time.Time
	// polled is when Run last polled the store.
	polled time.Time

	// claimsMu guards seen and pruned.
	claimsMu sync.Mutex
	// seen is, by try, the last claim round this node found taken and
	// when it first found it so, on its own clock.
	seen map[tryKey]seenClaim
	// pruned is when seen was last rid of old tries.
	pruned time.Time
}

// seenClaim is a claim round of one try and when this node first met it.
type seenClaim struct {
	round int
	since time.Time
}

// pollEvery is how many intervals apart Run polls the store whatever this
// node knows: entries it did not touch (another node's left behind, a
// crash's leftover) are found within that.
const pollEvery = 10

// New returns an outbox delivering to the given targets.
func New(cfg Config, store ports.Store, clock ports.Clock, deliverers map[string]ports.Deliverer) *Outbox {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = 30 * time.Second
	}
	if cfg.PendingAfter <= 0 {
		cfg.PendingAfter = 30 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	return &Outbox{cfg: cfg, store: store, clock: clock, deliverers: deliverers,
		jitter: func() float64 { return 0.5 + rand.Float64()/2 }, seen: map[tryKey]seenClaim{}}
}

// EntryID is the identity of a transition's side effects: recording it twice
// fails, which is how concurrent nodes agree on who performs a transition.
func EntryID(e domain.Event) string {
	at := e.At
	if !e.Since.IsZero() {
		at = e.Since
	}
	return fmt.Sprintf("%s|%s|%s|%s|%d", e.Kind, e.Key.Project, e.Key.MachineID, e.Key.ContainerID, at.UnixMilli())
}

// Record writes e's side effects as pending, before the state change. An
// error matching domain.ErrDuplicate means another node owns the transition.
func (o *Outbox) Record(ctx context.Context, e domain.Event) (domain.OutboxEntry, error) {
	now := o.clock.Now()
	entry := domain.OutboxEntry{ID: EntryID(e), Event: e, Targets: slices.Clone(o.cfg.Targets), Status: domain.OutboxPending,
		CreatedAt: now, NextAttemptAt: now}
	if err := o.store.InsertOutbox(ctx, entry); err != nil {
		if errors.Is(err, domain.ErrDuplicate) {
			return entry, err
		}
		return entry, fmt.Errorf("record %s: %w: %w", entry.ID, domain.ErrStore, err)
	}
	return entry, nil
}

// Schedule records e as due at `at` (a side effect decided by a delivery,
// such as the rent re-check of an offline). An error matching
// domain.ErrDuplicate means it is recorded already.
func (o *Outbox) Schedule(ctx context.Context, e domain.Event, at time.Time) error {
	entry := domain.OutboxEntry{ID: EntryID(e), Event: e, Targets: slices.Clone(o.cfg.Targets), Status: domain.OutboxReady,
		CreatedAt: o.clock.Now(), NextAttemptAt: at}
	if len(entry.Targets) == 0 {
		entry.Status, entry.DoneAt = domain.OutboxDone, entry.CreatedAt
	}
	if err := o.store.InsertOutbox(ctx, entry); err != nil {
		if errors.Is(err, domain.ErrDuplicate) {
			return err
		}
		return fmt.Errorf("schedule %s: %w: %w", entry.ID, domain.ErrStore, err)
	}
	o.expect(entry)
	return nil
}

// Confirm makes a recorded entry due: its state change happened.
func (o *Outbox) Confirm(ctx context.Context, entry domain.OutboxEntry) error {
	entry.Status, entry.NextAttemptAt = domain.OutboxReady, o.clock.Now()
	if len(entry.Targets) == 0 {
		entry.Status, entry.DoneAt = domain.OutboxDone, entry.NextAttemptAt
	}
	if err := o.store.UpdateOutbox(ctx, entry); err != nil {
		return fmt.Errorf("confirm %s: %w: %w", entry.ID, domain.ErrStore, err)
	}
	o.expect(entry)
	return nil
}

// expect notes when a ready entry this node wrote is due, so that Run
// passes then without waiting for its next poll of the store.
func (o *Outbox) expect(e domain.OutboxEntry) {
	if e.Status == domain.OutboxReady {
		o.expectAt(e.NextAttemptAt)
	}
}

// watched is an outbox store whose writes tell the outbox of the entries
// they make due.
type watched struct {
	ports.OutboxStore
	o *Outbox
}

// Watch returns store such that an entry made due through it (an
// operator's retry, on the admin API) is delivered at this node's next
// interval, not at its next poll.
func (o *Outbox) Watch(store ports.OutboxStore) ports.OutboxStore { return watched{store, o} }

// UpdateOutbox implements ports.OutboxStore.
func (w watched) UpdateOutbox(ctx context.Context, e domain.OutboxEntry) error {
	if err := w.OutboxStore.UpdateOutbox(ctx, e); err != nil {
		return err
	}
	w.o.expect(e)
	return nil
}

// expectAt makes Run pass at the first interval from at.
func (o *Outbox) expectAt(at time.Time) {
	o.mu.Lock()
	if o.next.IsZero() || at.Before(o.next) {
		o.next = at
	}
	o.mu.Unlock()
}

// passDue tells whether a pass is due at now (something this node wrote
// is due) and whether it is a poll (the last was pollEvery intervals ago):
// only a poll looks for stale pending entries, since this node settles its
// own as it records them. It counts a pass as starting, so that what is
// noted meanwhile stays for the next one.
func (o *Outbox) passDue(now time.Time, every time.Duration) (pass, poll bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	poll = o.polled.IsZero() || now.Sub(o.polled) >= pollEvery*every
	if !poll && (o.next.IsZero() || now.Before(o.next)) {
		return false, false
	}
	o.next = time.Time{}
	if poll {
		o.polled = now
	}
	return true, poll
}

// Cancel drops a recorded entry: its state change did not happen.
func (o *Outbox) Cancel(ctx context.Context, entry domain.OutboxEntry) error {
	entry.Status, entry.DoneAt = domain.OutboxCancelled, o.clock.Now()
	if err := o.store.UpdateOutbox(ctx, entry); err != nil {
		return fmt.Errorf("cancel %s: %w: %w", entry.ID, domain.ErrStore, err)
	}
	return nil
}

// Pass counts what one dispatch pass did.
type Pass struct {
	Recovered, Cancelled, Delivered, Retried, Dead int
	// Full says the pass found BatchSize entries due: more may be waiting.
	Full bool
}

// Dispatch settles stale pending entries, then delivers due ones.
func (o *Outbox) Dispatch(ctx context.Context) (Pass, error) { return o.dispatch(ctx, true) }

// dispatch is Dispatch, settling stale pending entries first only when
// recover is set.
func (o *Outbox) dispatch(ctx context.Context, recover bool) (Pass, error) {
	var p Pass
	var errRecover error
	if recover {
		errRecover = o.recover(ctx, &p)
	}
	due, err := o.store.DueOutbox(ctx, o.clock.Now(), o.cfg.BatchSize)
	if err != nil {
		return p, errors.Join(errRecover, fmt.Errorf("outbox: list due: %w", err))
	}
	p.Full = len(due) >= o.cfg.BatchSize
	errs := o.deliverAll(ctx, due, &p)
	return p, errors.Join(append(errs, errRecover)...)
}

// drain runs passes back to back while each finds a full batch and settles
// some of it, handing each to observe: a backlog (the onlines of a storm)
// goes at the targets' own pace, not BatchSize an interval. A full batch of
// entries all busy elsewhere (another node's claims) ends it. With recover,
// the first pass also settles stale pending entries.
func (o *Outbox) drain(ctx context.Context, recover bool, observe func(Pass, error)) {
	for {
		p, err := o.dispatch(ctx, recover)
		recover = false
		if observe != nil && ctx.Err() == nil {
			observe(p, err)
		}
		if !p.Full || p.Delivered+p.Retried+p.Dead == 0 || ctx.Err() != nil {
			return
		}
	}
}

// deliverAll runs one attempt of each due entry: one after the other with
// Concurrency 1, else the machines' entries on Concurrency workers, each
// machine's entries in order on one worker. It returns when every attempt
// ended.
func (o *Outbox) deliverAll(ctx context.Context, due []domain.OutboxEntry, p *Pass) []error {
	var errs []error
	if o.cfg.Concurrency == 1 {
		for _, e := range due {
			if err := o.deliver(ctx, e, p); err != nil {
				errs = append(errs, err)
			}
		}
		return errs
	}
	var order []domain.MachineKey
	byMachine := map[domain.MachineKey][]domain.OutboxEntry{}
	for _, e := range due {
		if _, ok := byMachine[e.Event.Key]; !ok {
			order = append(order, e.Event.Key)
		}
		byMachine[e.Event.Key] = append(byMachine[e.Event.Key], e)
	}
	queue := make(chan []domain.OutboxEntry)
	var mu sync.Mutex
	var workers sync.WaitGroup
	for range min(o.cfg.Concurrency, len(order)) {
		workers.Go(func() {
			for entries := range queue {
				for _, e := range entries {
					var one Pass
					err := o.deliver(ctx, e, &one)
					mu.Lock()
					p.add(one)
					if err != nil {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, k := range order {
		queue <- byMachine[k]
	}
	close(queue)
	workers.Wait()
	return errs
}

// add counts another pass's work into p.
func (p *Pass) add(q Pass) {
	p.Recovered += q.Recovered
	p.Cancelled += q.Cancelled
	p.Delivered += q.Delivered
	p.Retried += q.Retried
	p.Dead += q.Dead
}

// recover settles pending entries left by a node that stopped between
// recording and confirming: the store says whether the transition happened.
func (o *Outbox) recover(ctx context.Context, p *Pass) error {
	pending, err := o.store.ListOutbox(ctx, domain.OutboxFilter{Status: domain.OutboxPending, Limit: o.cfg.BatchSize})
	if err != nil {
		return fmt.Errorf("outbox: list pending: %w", err)
	}
	now := o.clock.Now()
	var errs []error
	for _, e := range pending {
		if now.Sub(e.CreatedAt) < o.cfg.PendingAfter {
			continue
		}
		ok, err := o.happened(ctx, e.Event)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			err, p.Recovered = o.Confirm(ctx, e), p.Recovered+1
		} else {
			err, p.Cancelled = o.Cancel(ctx, e), p.Cancelled+1
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// happened tells whether the transition of e is in machine_info, finishing
// an offline flip that was recorded but not applied.
func (o *Outbox) happened(ctx context.Context, e domain.Event) (bool, error) {
	m, err := o.store.GetMachine(ctx, e.Key)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("outbox: check %s: %w", e.Key, err)
	}
	same := func(a, b time.Time) bool { return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond)) }
	switch e.Kind {
	case domain.EventOnline:
		// Whether the machine was offline before is gone with the crashed
		// node; an online that happened is delivered (at least once: its
		// receivers treat a repeated online as a no-op).
		return same(m.LastOnlineTime, e.At), nil
	case domain.EventOffline:
		if same(m.LastOfflineTime, e.At) {
			return true, nil
		}
		if m.State == domain.StateDisconnected && same(m.LastDisconnectTime, e.Since) {
			ok, err := o.store.MarkOffline(ctx, e.Key, m.LastDisconnectTime, e.At)
			if err != nil {
				return false, fmt.Errorf("outbox: finish offline of %s: %w", e.Key, err)
			}
			return ok, nil
		}
	case domain.EventShortTermInfo:
		return m.ShortTerm != nil, nil
	case domain.EventBandwidthInfo:
		return m.Bandwidth != nil, nil
	}
	return false, nil
}

// deliver runs one attempt of an entry if this node wins its claim.
//
// A claim names one try of the entry: its attempt count and the
// NextAttemptAt the store holds, which every node reads alike, plus a
// round. Round 0 is anyone's to claim; round n+1 only for a node that has
// seen round n taken for a whole ClaimLease on its own clock (its
// claimant crashed or lost the store), while a claimant's attempt ends
// one ClaimLease after its claim on its own clock. No wall-clock reading
// is compared across nodes, so clocks that disagree by any amount never
// let two nodes run the same try; only their rates must agree. Every
// outcome of a try writes a new NextAttemptAt or attempt count (or ends
// the entry), so the next try starts again at round 0.
func (o *Outbox) deliver(ctx context.Context, e domain.OutboxEntry, p *Pass) error {
	now := o.clock.Now()
	try := tryOf(e)
	round, ok := o.turn(try, now)
	if !ok {
		return nil // another node's claim, not yet a ClaimLease old here
	}
	won, err := o.store.ClaimOutbox(ctx, e.ID, e.Attempts, try.claimRound(round), o.cfg.NodeID)
	if err != nil {
		return err
	}
	if !won {
		o.taken(try, round, now)
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, o.cfg.ClaimLease)
	defer cancel()
	// Another node may have finished this try under an earlier round.
	cur, err := o.store.GetOutbox(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("outbox: reread %s: %w", e.ID, err)
	}
	if cur.Status != domain.OutboxReady || cur.Attempts != e.Attempts || !cur.NextAttemptAt.Equal(e.NextAttemptAt) {
		return nil
	}
	var failures []string
	deferred := true // every failure was domain.ErrNotNow
	for _, target := range o.ordered(cur.Targets) {
		if slices.Contains(cur.Delivered, target) || slices.Contains(cur.Skipped, target) || slices.Contains(cur.GaveUp, target) {
			continue
		}
		if lead, ok := o.cfg.After[target]; ok && slices.Contains(cur.Targets, lead) {
			switch {
			case slices.Contains(cur.GaveUp, lead):
				// Told regardless (Config.Regardless), without a transaction.
			case slices.Contains(cur.Skipped, lead):
				cur.Skipped = append(cur.Skipped, target)
				continue
			case !slices.Contains(cur.Delivered, lead):
				// The target it follows failed in this attempt: so does this one.
				failures = append(failures, target+": waits for "+lead)
				deferred = false
				continue
			}
		}
		err := o.deliverTo(dctx, target, &cur)
		if o.OnDelivery != nil {
			o.OnDelivery(target, cur.Event, err)
		}
		if errors.Is(err, domain.ErrNoEffect) {
			cur.Skipped = append(cur.Skipped, target)
			continue
		}
		if err != nil {
			failures = append(failures, target+": "+err.Error())
			deferred = deferred && errors.Is(err, domain.ErrNotNow)
			continue
		}
		cur.Delivered = append(cur.Delivered, target)
	}
	now = o.clock.Now()
	switch {
	case len(failures) == 0 && len(cur.GaveUp) > 0:
		// The followers went on; the given-up target keeps the entry dead
		// for an operator, with its last error.
		cur.Status, cur.DoneAt = domain.OutboxDead, now
		p.Dead++
	case len(failures) == 0:
		cur.Status, cur.DoneAt, cur.LastError = domain.OutboxDone, now, ""
		p.Delivered++
	case deferred:
		// Another node is doing it (e.g. holds the chain sender lease): not
		// an attempt that failed. The same attempt is tried again a
		// ClaimLease later, by any node (a new NextAttemptAt: a new try).
		cur.LastError = strings.Join(failures, "; ")
		cur.NextAttemptAt = now.Add(o.cfg.ClaimLease)
		p.Retried++
	default:
		cur.Attempts++
		cur.LastError = strings.Join(failures, "; ")
		limit, n := o.cfg.MaxAttempts, cur.Attempts
		if len(cur.GaveUp) > 0 {
			// The followers' own attempts, backing off from the start.
			limit, n = 2*o.cfg.MaxAttempts, cur.Attempts-o.cfg.MaxAttempts
		}
		switch {
		case cur.Attempts < limit:
			cur.NextAttemptAt = now.Add(o.backoff(n))
			p.Retried++
		case o.giveUp(&cur):
			cur.NextAttemptAt = now
			p.Retried++
		default:
			cur.Status, cur.DoneAt = domain.OutboxDead, now
			p.Dead++
		}
	}
	if err := o.store.UpdateOutbox(ctx, cur); err != nil {
		return fmt.Errorf("outbox: save attempt of %s: %w", cur.ID, err)
	}
	o.expect(cur)
	return nil
}

// maxRounds bounds the claim rounds of one try (claimRound packs the round
// under the try's millisecond): a thousand claimants that each crashed
// holding it, 8 hours at the default ClaimLease.
const maxRounds = 1000

// tryKey names one try of an entry: its attempt count and its
// NextAttemptAt in milliseconds (what the store keeps of a time).
type tryKey struct {
	id      string
	attempt int
	dueMs   int64
}

func tryOf(e domain.OutboxEntry) tryKey {
	return tryKey{id: e.ID, attempt: e.Attempts, dueMs: e.NextAttemptAt.UnixMilli()}
}

// claimRound is the number ClaimOutbox names round `round` of the try by,
// with its attempt count: the try's millisecond, then the round.
func (k tryKey) claimRound(round int) int64 { return k.dueMs*maxRounds + int64(round) }

// turn gives the round of try this node may claim at now: 0 for a try it
// has not seen claimed, the next round once the last one it saw taken has
// been so for a ClaimLease on this node's clock; ok is false meanwhile.
func (o *Outbox) turn(try tryKey, now time.Time) (round int, ok bool) {
	o.claimsMu.Lock()
	defer o.claimsMu.Unlock()
	s, seen := o.seen[try]
	switch {
	case !seen:
		return 0, true
	case now.Sub(s.since) >= o.cfg.ClaimLease && s.round+1 < maxRounds:
		return s.round + 1, true
	}
	return 0, false
}

// taken notes that round of try was found claimed at now, keeping the
// first time each round was met. Once a lease it forgets the tries met
// more than four leases ago: one still due only waits a lease again.
func (o *Outbox) taken(try tryKey, round int, now time.Time) {
	o.claimsMu.Lock()
	defer o.claimsMu.Unlock()
	if s, seen := o.seen[try]; !seen || s.round < round {
		o.seen[try] = seenClaim{round: round, since: now}
	}
	if now.Sub(o.pruned) >= o.cfg.ClaimLease {
		o.pruned = now
		for t, s := range o.seen {
			if now.Sub(s.since) > 4*o.cfg.ClaimLease {
				delete(o.seen, t)
			}
		}
	}
}

// deliverTo runs one target's delivery of the entry's event; a target
// that sends a transaction hands its hash to the entry's event, for the
// targets that follow it.
func (o *Outbox) deliverTo(ctx context.Context, target string, cur *domain.OutboxEntry) error {
	d, ok := o.deliverers[target]
	if !ok {
		return fmt.Errorf("no deliverer for target %q on node %s", target, o.cfg.NodeID)
	}
	td, ok := d.(ports.TxDeliverer)
	if !ok {
		return d.Deliver(ctx, cur.Event)
	}
	hash, err := td.DeliverTx(ctx, cur.Event)
	if err == nil && hash != "" {
		cur.Event.ReportTxHash = hash
	}
	return err
}

// giveUp lists in GaveUp the targets, failed for good, whose followers go
// on regardless for this event kind (Config.Regardless); it tells whether
// there was any.
func (o *Outbox) giveUp(cur *domain.OutboxEntry) bool {
	if len(cur.GaveUp) > 0 {
		return false
	}
	settled := func(t string) bool {
		return slices.Contains(cur.Delivered, t) || slices.Contains(cur.Skipped, t)
	}
	for target, kinds := range o.cfg.Regardless {
		lead, ok := o.cfg.After[target]
		if !ok || !slices.Contains(kinds, cur.Event.Kind) || !slices.Contains(cur.Targets, target) ||
			!slices.Contains(cur.Targets, lead) || settled(target) || settled(lead) || slices.Contains(cur.GaveUp, lead) {
			continue
		}
		cur.GaveUp = append(cur.GaveUp, lead)
	}
	return len(cur.GaveUp) > 0
}

// ordered puts every target after the one it follows (Config.After), else
// keeping the entry's order.
func (o *Outbox) ordered(targets []string) []string {
	if len(o.cfg.After) == 0 {
		return targets
	}
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		if lead, ok := o.cfg.After[t]; !ok || !slices.Contains(targets, lead) {
			out = append(out, t)
		}
	}
	for _, t := range targets {
		if lead, ok := o.cfg.After[t]; ok && slices.Contains(targets, lead) {
			out = append(out, t)
		}
	}
	return out
}

// backoff is the delay before retry number n (from 1): exponential from
// BaseBackoff, capped at MaxBackoff, with jitter so nodes do not retry in step.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.cfg.BaseBackoff << min(n-1, 30)
	if d <= 0 || d > o.cfg.MaxBackoff {
		d = o.cfg.MaxBackoff
	}
	return time.Duration(float64(d) * o.jitter())
}

// Run dispatches until ctx ends: at each interval when something this node
// confirmed, scheduled or retried is due, and every pollEvery intervals
// whatever it knows, that pass also settling stale pending entries (the
// store's scans of the outbox are not free: on the embedded store each
// reads every entry). A pass that finds a full batch is followed by the
// next at once (drain).
func (o *Outbox) Run(ctx context.Context, every time.Duration, observe func(Pass, error)) {
	periodic.Run(ctx, every, func(ctx context.Context) { o.tick(ctx, every, observe) })
}

// tick is one interval of Run.
func (o *Outbox) tick(ctx context.Context, every time.Duration, observe func(Pass, error)) {
	pass, poll := o.passDue(o.clock.Now(), every)
	if !pass {
		return
	}
	o.drain(ctx, poll, func(p Pass, err error) {
		if err != nil {
			// The store failed mid-pass: what the pass left is tried
			// again at the next interval.
			o.expectAt(o.clock.Now())
		}
		if observe != nil {
			observe(p, err)
		}
	})
}
