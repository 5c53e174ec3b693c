package session

import (
	"context"
	"fmt"
	"time"

	"ddn/domain"
)

// NodeStatus is one node as the cluster sees it.
type NodeStatus struct {
	ID          string    `json:"id"`
	Addr        string    `json:"addr"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	Alive       bool      `json:"alive"`
	Connections int       `json:"connections"`
}

// ClusterNodes lists every node with its liveness (its lease record changed
// within NodeExpiry, as this node observed it) and the machines it holds.
func (s *Service) ClusterNodes(ctx context.Context) ([]NodeStatus, error) {
	nodes, err := s.store.ListNodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster nodes: %w: %w", domain.ErrStore, err)
	}
	conns, err := s.store.ListConnections(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("cluster nodes: %w: %w", domain.ErrStore, err)
	}
	held := map[string]int{}
	for _, c := range conns {
		held[c.NodeID]++
	}
	s.cfg.Liveness.Observe(nodes)
	out := make([]NodeStatus, len(nodes))
	for i, n := range nodes {
		out[i] = NodeStatus{ID: n.ID, Addr: n.Addr, Version: n.Version, StartedAt: n.StartedAt, HeartbeatAt: n.HeartbeatAt,
			Alive: s.cfg.Liveness.Judge(n.ID).Alive, Connections: held[n.ID]}
	}
	return out, nil
}
