package ddnproc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"ddn/adapters/mongo"
	"ddn/domain"
	"ddn/ports"
)

// Cluster looks at a running ddn cluster from the outside, the way an
// operator can: the shared store, and each node's admin API. It checks the
// cluster invariant the fault tests end on.
type Cluster struct {
	store *mongo.Store
	// Addrs are the nodes' listeners; a node that does not answer its API
	// (killed, stopped) is not live and serves no socket.
	Addrs []string
	// AdminToken opens GET /api/v0/admin/sessions.
	AdminToken string
	client     *http.Client
}

// OpenCluster connects to the store at storeURI (closed when the test ends).
func OpenCluster(t testing.TB, storeURI, adminToken string, addrs ...string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := mongo.Open(ctx, mongo.Options{URI: storeURI})
	if err != nil {
		t.Fatalf("open the cluster's store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return &Cluster{store: st, Addrs: addrs, AdminToken: adminToken, client: &http.Client{Timeout: 2 * time.Second}}
}

// Store is the cluster's store, for a test's own reads.
func (c *Cluster) Store() ports.Store { return c.store }

// socket is one open socket bound to a machine, on one node.
type socket struct {
	node, connID string
}

// sessions asks one node which of its sockets are bound to a machine; ok is
// false when the node does not answer (it is not live).
func (c *Cluster) sessions(ctx context.Context, addr string) (map[domain.MachineKey]socket, bool) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v0/admin/sessions", nil)
	if err != nil {
		return nil, false
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var body struct {
		NodeID   string `json:"node_id"`
		Sessions []struct {
			MachineID   string `json:"machine_id"`
			Project     string `json:"project"`
			ContainerID string `json:"container_id"`
			ConnID      string `json:"conn_id"`
		} `json:"sessions"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil, false
	}
	out := map[domain.MachineKey]socket{}
	for _, s := range body.Sessions {
		out[domain.MachineKey{MachineID: s.MachineID, Project: s.Project, ContainerID: s.ContainerID}] = socket{node: body.NodeID, connID: s.ConnID}
	}
	return out, true
}

// Violations checks the cluster invariant on the machines only selects
// (nil: every machine in the store) and describes each breach:
//
//   - a machine whose socket is open on a live node is online, with exactly
//     one claim, and that claim is this socket's;
//   - a machine is open on at most one live node;
//   - a machine with no socket anywhere is disconnected or offline, and
//     nothing claims it.
//
// It reads the nodes before the store, so a socket that opens between the
// two reads is not seen as open; call it once the faults have healed and
// the agents are steady (AwaitInvariant polls).
func (c *Cluster) Violations(ctx context.Context, only func(domain.MachineKey) bool) ([]string, error) {
	if only == nil {
		only = func(domain.MachineKey) bool { return true }
	}
	var out []string
	open := map[domain.MachineKey]socket{}
	for _, addr := range c.Addrs {
		ss, live := c.sessions(ctx, addr)
		if !live {
			continue
		}
		for k, s := range ss {
			if !only(k) {
				continue
			}
			if other, dup := open[k]; dup {
				out = append(out, fmt.Sprintf("%s: open on two nodes (%s and %s)", k, other.node, s.node))
			}
			open[k] = s
		}
	}
	claims, err := c.store.ListConnections(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	claimed := map[domain.MachineKey][]domain.Connection{}
	for _, cl := range claims {
		if only(cl.Key) {
			claimed[cl.Key] = append(claimed[cl.Key], cl)
		}
	}
	machines, err := c.store.ListMachines(ctx, domain.MachineFilter{})
	if err != nil {
		return nil, fmt.Errorf("list machines: %w", err)
	}
	known := map[domain.MachineKey]bool{}
	for _, m := range machines {
		if !only(m.Key) {
			continue
		}
		known[m.Key] = true
		cl := claimed[m.Key]
		if s, ok := open[m.Key]; ok {
			switch {
			case m.State != domain.StateOnline:
				out = append(out, fmt.Sprintf("%s: socket open on %s, state %q", m.Key, s.node, m.State))
			case len(cl) != 1:
				out = append(out, fmt.Sprintf("%s: socket open on %s, %d claims", m.Key, s.node, len(cl)))
			case cl[0].ConnID != s.connID || cl[0].NodeID != s.node:
				out = append(out, fmt.Sprintf("%s: socket %s open on %s, claim held by %s on %s", m.Key, s.connID, s.node, cl[0].ConnID, cl[0].NodeID))
			}
			continue
		}
		if m.State != domain.StateDisconnected && m.State != domain.StateOffline {
			out = append(out, fmt.Sprintf("%s: no socket anywhere, state %q", m.Key, m.State))
		}
		for _, x := range cl {
			out = append(out, fmt.Sprintf("%s: no socket anywhere, claimed by %s on %s", m.Key, x.ConnID, x.NodeID))
		}
	}
	for k, s := range open {
		if !known[k] {
			out = append(out, fmt.Sprintf("%s: socket open on %s, no machine record", k, s.node))
		}
	}
	slices.Sort(out)
	return out, nil
}

// AwaitInvariant polls Violations until there are none, failing the test
// with the last ones if that takes longer than within.
func (c *Cluster) AwaitInvariant(t testing.TB, within time.Duration, only func(domain.MachineKey) bool) {
	t.Helper()
	var last []string
	var lastErr error
	ok := Eventually(within, 200*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		last, lastErr = c.Violations(ctx, only)
		return lastErr == nil && len(last) == 0
	})
	if !ok {
		t.Fatalf("cluster invariant does not hold after %v (%v):\n%s", within, lastErr, joinLines(last))
	}
}

func joinLines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += "  " + l + "\n"
	}
	return out
}
