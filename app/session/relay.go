package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ddn/domain"
	"ddn/internal/periodic"
)

// UnregisterNotice is the type-3 body telling an agent its machine was
// unregistered, in the original node's words.
var UnregisterNotice = []byte(`{"unregister":{"message":"machine unregistered, notify from http api"}}`)

// Local is this node's side of its connections (the WebSocket adapter):
// what other nodes' commands act on.
type Local interface {
	// Notify sends a type-3 notify to the connection bound to key; false if none.
	Notify(ctx context.Context, key domain.MachineKey, body []byte) bool
	// Kick closes connection connID bound to key with reason; false if none.
	Kick(ctx context.Context, key domain.MachineKey, connID, reason string) bool
}

// SetLocal connects the service to this node's connections; call it once,
// before serving.
func (s *Service) SetLocal(l Local) { s.local = l }

// Notify sends body as a type-3 notify to key's connection, on whichever
// node holds it, and returns that node's id. A machine connected nowhere
// gives domain.ErrNotFound.
func (s *Service) Notify(ctx context.Context, key domain.MachineKey, body []byte) (string, error) {
	c, err := s.store.GetConnection(ctx, key)
	if errors.Is(err, domain.ErrNotFound) {
		return "", fmt.Errorf("notify %s: not connected: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("notify %s: %w: %w", key, domain.ErrStore, err)
	}
	if c.NodeID == s.cfg.NodeID {
		if s.local == nil || !s.local.Notify(ctx, key, body) {
			return "", fmt.Errorf("notify %s: connection gone: %w", key, domain.ErrNotFound)
		}
		return c.NodeID, nil
	}
	err = s.store.SendCommand(ctx, domain.Command{NodeID: c.NodeID, Kind: domain.CommandNotify, Key: key, ConnID: c.ConnID, Body: body, CreatedAt: s.clock.Now()})
	if err != nil {
		return "", fmt.Errorf("notify %s via node %s: %w: %w", key, c.NodeID, domain.ErrStore, err)
	}
	return c.NodeID, nil
}

// kick has the node holding connection c close it.
func (s *Service) kick(ctx context.Context, c domain.Connection, reason string) error {
	if c.NodeID == s.cfg.NodeID {
		if s.local != nil {
			s.local.Kick(ctx, c.Key, c.ConnID, reason)
		}
		return nil
	}
	return s.store.SendCommand(ctx, domain.Command{NodeID: c.NodeID, Kind: domain.CommandClose, Key: c.Key, ConnID: c.ConnID, Reason: reason, CreatedAt: s.clock.Now()})
}

// RunMailbox carries out the commands other nodes send to this node, every
// interval, until ctx ends.
func (s *Service) RunMailbox(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(ctx context.Context) {
		if err := s.ProcessMailbox(ctx); err != nil && s.OnError != nil && ctx.Err() == nil {
			s.OnError("process node commands", err)
		}
	})
}

// ProcessMailbox carries out the commands queued for this node once.
func (s *Service) ProcessMailbox(ctx context.Context) error {
	cmds, err := s.store.TakeCommands(ctx, s.cfg.NodeID)
	if s.local != nil {
		for _, c := range cmds {
			switch c.Kind {
			case domain.CommandNotify:
				s.local.Notify(ctx, c.Key, c.Body)
			case domain.CommandClose:
				s.local.Kick(ctx, c.Key, c.ConnID, c.Reason)
			}
		}
	}
	for _, c := range cmds {
		if c.Kind == domain.CommandForget {
			s.forgetHere(c.Key)
		}
	}
	if err != nil {
		return fmt.Errorf("take commands of node %s: %w", s.cfg.NodeID, err)
	}
	return nil
}

// registrationForgetter is a Registry that remembers answers (the chain's
// registration cache).
type registrationForgetter interface {
	Forget(key domain.MachineKey)
}

func (s *Service) forgetHere(key domain.MachineKey) {
	if f, ok := s.cfg.Registry.(registrationForgetter); ok {
		f.Forget(key)
	}
}

// ForgetRegistration drops what every live node of the cluster remembers
// of key's chain registration (an unregister through the API): this node
// at once, the others when they next read their mailbox. Without a
// remembering registry it does nothing.
func (s *Service) ForgetRegistration(ctx context.Context, key domain.MachineKey) error {
	if _, ok := s.cfg.Registry.(registrationForgetter); !ok {
		return nil
	}
	s.forgetHere(key)
	nodes, err := s.store.ListNodes(ctx)
	if err != nil {
		return fmt.Errorf("forget registration of %s: list nodes: %w: %w", key, domain.ErrStore, err)
	}
	now := s.clock.Now()
	var errs []error
	for _, n := range nodes {
		if n.ID == s.cfg.NodeID || now.Sub(n.HeartbeatAt) > s.cfg.NodeExpiry {
			continue
		}
		if err := s.store.SendCommand(ctx, domain.Command{NodeID: n.ID, Kind: domain.CommandForget, Key: key, CreatedAt: now}); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.ID, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("forget registration of %s: %w: %w", key, domain.ErrStore, errors.Join(errs...))
	}
	return nil
}
