// Package session holds the use cases of one node's connections: going online
// (claiming a machine cluster-wide), storing reports, and disconnecting. It is
// the domain's application layer, so it may use the ports.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ddn/app/liveness"
	"ddn/domain"
	"ddn/domain/score"
	"ddn/ports"
)

// ReportAppender stores one report durably before returning (the group-commit
// batcher in production, the store itself in simple setups).
type ReportAppender interface {
	Append(ctx context.Context, r domain.Report) error
}

// Config tunes the service; zero fields take the defaults below.
type Config struct {
	// NodeID names this node in connection documents and the nodes lease.
	NodeID string
	// NodeAddr and Version describe this node in its lease record.
	NodeAddr, Version string
	// NodeExpiry is how long a node's lease record may stay unchanged, on the
	// observer's clock, before the node is dead and its claims are stale.
	NodeExpiry time.Duration
	// RenewInterval is how often the lease is renewed (Run); default a third
	// of NodeExpiry.
	RenewInterval time.Duration
	// ReconcileInterval is how often the claims are reconciled (Run), and
	// again soon after a store error; default RenewInterval, at least 1s.
	ReconcileInterval time.Duration
	// FenceAfter is this node's own deadline: when no lease renewal sent in
	// the last FenceAfter has succeeded, the node refuses onlines and closes
	// its sessions (it fences itself) until a renewal succeeds again. It must
	// be shorter than NodeExpiry, after which others take over; default
	// NodeExpiry - RenewInterval (halfway between the two when that is not
	// longer than RenewInterval).
	FenceAfter time.Duration
	// Alone says the store is this process's own (memory://, the in-process
	// embedded store): no other node can take this node's machines over,
	// so it never fences itself, however late a renewal (a node saturated
	// by a storm of 20,000 agents would otherwise close them all).
	Alone bool
	// Liveness judges the other nodes' leases; share one with the sweeper.
	// Nil: the service keeps its own.
	Liveness *liveness.Tracker
	// TouchInterval is how often at most last_report_time is written per machine
	// when the reported content does not change.
	TouchInterval time.Duration
	// Effects, when set, records the side effects of going online and of a
	// machine's first info of each kind (the outbox).
	Effects ports.Effects
	// Catalog, when set, scores every new short-term info (its calc point);
	// an info it cannot score is refused with domain.ErrInvalidInfo (code 6).
	Catalog score.Catalog
	// StrictInfo refuses type-2 and type-4 reports the original node took
	// (GPU lists of different lengths, zero or negative numbers) with code 1.
	StrictInfo bool
	// Locator, when set, places each machine's client IP once per session;
	// short-term infos get its coordinates and region, bandwidth infos the
	// region name, machine_info its location. A failed lookup never fails a
	// report.
	Locator ports.Locator
	// Registry, when set (a chain is configured), must know a machine as
	// registered before it may go online; nil: every machine is registered.
	Registry ports.ChainRegistry
	// ReplaceDuplicates makes the newest connection win a machine held by a
	// live connection (DuplicateSession: replace); the old one is closed on
	// whichever node holds it. Off: the newcomer is refused (code 5).
	ReplaceDuplicates bool
}

// Defaults of Config.
const (
	DefaultNodeExpiry    = 15 * time.Second
	DefaultTouchInterval = time.Minute
)

// Service runs the connection use cases of one node.
type Service struct {
	cfg     Config
	store   ports.Store
	reports ReportAppender
	clock   ports.Clock
	observe func(domain.Event)
	// OnError observes failures that no caller can be told about (an event
	// that could not be published); it must be set before use if wanted.
	OnError func(op string, err error)
	// OnLocateFailed observes a client IP that could not be located (the
	// report goes on without a location); it must be set before use if wanted.
	OnLocateFailed func(key domain.MachineKey, ip string, err error)

	// OnFence observes the node fencing itself (true) and coming back (false).
	OnFence func(fenced bool)
	// OnReconcile observes each reconcile pass that changed something or failed.
	OnReconcile func(ReconcileResult, error)

	bootID    string
	startedAt time.Time
	seq       atomic.Uint64
	mu        sync.Mutex
	live      map[string]*Session
	// bound is the machine of every live bound session, by connection id:
	// what the reconciler compares with the store's claims.
	bound map[string]boundSession
	local Local
	keys  keyLocks
	lease leaseState
	nudge chan struct{}
}

// NewService wires the use cases to their ports. observe (nil: none) hears
// of every transition once it is stored, for logs and tests; side effects
// go through Config.Effects only.
func NewService(cfg Config, store ports.Store, reports ReportAppender, clock ports.Clock, observe func(domain.Event)) (*Service, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("session service: node id is empty")
	}
	if cfg.NodeExpiry <= 0 {
		cfg.NodeExpiry = DefaultNodeExpiry
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = DefaultTouchInterval
	}
	if cfg.RenewInterval <= 0 {
		cfg.RenewInterval = cfg.NodeExpiry / 3
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = max(cfg.RenewInterval, time.Second)
	}
	if cfg.FenceAfter <= 0 {
		// One renew interval before others may take over: as much room as
		// that leaves for a slow store (NodeExpiry - 2 RenewInterval).
		cfg.FenceAfter = cfg.NodeExpiry - cfg.RenewInterval
		if cfg.FenceAfter <= cfg.RenewInterval {
			cfg.FenceAfter = (cfg.RenewInterval + cfg.NodeExpiry) / 2
		}
	}
	if cfg.FenceAfter >= cfg.NodeExpiry || cfg.RenewInterval >= cfg.FenceAfter {
		return nil, fmt.Errorf("session service: want RenewInterval (%v) < FenceAfter (%v) < NodeExpiry (%v)",
			cfg.RenewInterval, cfg.FenceAfter, cfg.NodeExpiry)
	}
	if cfg.Liveness == nil {
		cfg.Liveness = liveness.New(cfg.NodeExpiry, clock)
	}
	var nonce [4]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("session service: boot id: %w", err)
	}
	return &Service{
		cfg: cfg, store: store, reports: reports, clock: clock, observe: observe,
		bootID:    hex.EncodeToString(nonce[:]),
		startedAt: clock.Now(),
		live:      map[string]*Session{},
		bound:     map[string]boundSession{},
		keys:      keyLocks{m: map[domain.MachineKey]*keyLock{}},
		nudge:     make(chan struct{}, 1),
	}, nil
}

// NodeID is the id this node claims machines under.
func (s *Service) NodeID() string { return s.cfg.NodeID }

// Live counts this node's open sessions (anonymous or bound).
func (s *Service) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// Open starts a session for a new connection from clientIP. The caller owns
// the session and must Close it when the connection ends.
func (s *Service) Open(clientIP string) *Session {
	ss := &Session{
		svc:      s,
		connID:   fmt.Sprintf("%s%d", s.connPrefix(), s.seq.Add(1)),
		clientIP: clientIP,
	}
	s.mu.Lock()
	s.live[ss.connID] = ss
	s.mu.Unlock()
	return ss
}

func (s *Service) isLive(connID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.live[connID]
	return ok
}

// claim inserts the connection document, taking over a stale holder once;
// with replace, a live holder is replaced (and closed) too.
func (s *Service) claim(ctx context.Context, c domain.Connection, replace bool) error {
	for range 3 {
		err := s.store.InsertConnection(ctx, c)
		if err == nil {
			return nil
		}
		if !errors.Is(err, domain.ErrMachineHeld) {
			return fmt.Errorf("claim %s: %w: %w", c.Key, domain.ErrStore, err)
		}
		holder, err := s.store.GetConnection(ctx, c.Key)
		if errors.Is(err, domain.ErrNotFound) {
			continue // the holder left between our insert and read
		}
		if err != nil {
			return fmt.Errorf("claim %s: read holder: %w: %w", c.Key, domain.ErrStore, err)
		}
		stale, err := s.stale(ctx, holder)
		if err != nil {
			return fmt.Errorf("claim %s: %w: %w", c.Key, domain.ErrStore, err)
		}
		if !stale && !replace {
			return fmt.Errorf("claim %s: %w", c.Key, domain.ErrMachineHeld)
		}
		deleted, err := s.store.DeleteConnection(ctx, c.Key, holder.ConnID)
		if err != nil {
			return fmt.Errorf("claim %s: remove holder %s: %w: %w", c.Key, holder.ConnID, domain.ErrStore, err)
		}
		if deleted && !stale {
			if err := s.kick(ctx, holder, "replaced by a newer connection"); err != nil && s.OnError != nil {
				s.OnError("close replaced connection", err)
			}
		}
	}
	return fmt.Errorf("claim %s: %w", c.Key, domain.ErrMachineHeld)
}

// stale tells whether a claim's connection is gone: closed on this node,
// held by a previous life of this node, or held by a node whose lease
// record stopped changing (or vanished).
func (s *Service) stale(ctx context.Context, holder domain.Connection) (bool, error) {
	if holder.NodeID == s.cfg.NodeID {
		if !s.ownBoot(holder.ConnID) {
			return true, nil
		}
		return !s.isLive(holder.ConnID), nil
	}
	node, err := s.store.GetNode(ctx, holder.NodeID)
	if errors.Is(err, domain.ErrNotFound) {
		s.cfg.Liveness.ObserveMissing(holder.NodeID)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read node %s: %w", holder.NodeID, err)
	}
	s.cfg.Liveness.ObserveOne(node)
	return !s.cfg.Liveness.Judge(holder.NodeID).Alive, nil
}

// connPrefix starts every connection id of this boot, so that a claim
// tells which life of the node made it.
func (s *Service) connPrefix() string { return s.cfg.NodeID + "-" + s.bootID + "-" }

// ownBoot tells whether connID is a connection of this boot of this node.
func (s *Service) ownBoot(connID string) bool { return strings.HasPrefix(connID, s.connPrefix()) }

// BootID names this life of the node (in its lease record and in every
// connection id it hands out).
func (s *Service) BootID() string { return s.bootID }

func (s *Service) observed(e domain.Event) {
	if s.observe != nil {
		s.observe(e)
	}
}
