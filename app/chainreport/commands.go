package chainreport

import (
	"context"
	"errors"
	"fmt"

	"ddn/app/transition"
	"ddn/domain"
	"ddn/ports"
)

// commandTypes are the report types of the operator's contract commands.
var commandTypes = map[domain.EventKind]domain.ReportType{
	domain.EventContractRegister:   domain.ReportMachineRegister,
	domain.EventContractUnregister: domain.ReportMachineUnregister,
	domain.EventContractOnline:     domain.ReportMachineOnline,
	domain.EventContractOffline:    domain.ReportMachineOffline,
	// A reconnect's catch-up is delivered like an operator's online.
	domain.EventChainOnline: domain.ReportMachineOnline,
}

// Actions maps the names of the contract endpoints to their event kinds.
var Actions = map[string]domain.EventKind{
	"register":   domain.EventContractRegister,
	"unregister": domain.EventContractUnregister,
	"online":     domain.EventContractOnline,
	"offline":    domain.EventContractOffline,
}

// deliverCommand sends an operator's command unless the chain is already
// in the state it asks for (so a retry after an unseen receipt is a no-op).
func (d *Deliverer) deliverCommand(ctx context.Context, e domain.Event, tp domain.ReportType) error {
	st, err := d.chain.MachineState(ctx, e.Key, e.StakingType)
	if err != nil {
		return fmt.Errorf("chain %s of %s: read machine state: %w: %w", e.Kind, e.Key, domain.ErrChain, err)
	}
	done := (tp == domain.ReportMachineRegister && st.Registered) || (tp == domain.ReportMachineUnregister && !st.Registered) ||
		(tp == domain.ReportMachineOnline && st.Online) || (tp == domain.ReportMachineOffline && !st.Online)
	if done {
		return d.skip(e, "the chain is already in that state")
	}
	if err := d.chain.Report(ctx, tp, e.Key, e.StakingType); err != nil {
		return fmt.Errorf("chain %s of %s: %w: %w", e.Kind, e.Key, domain.ErrChain, err)
	}
	return nil
}

// Commands are the operator's contract management use cases: each command
// is queued in the outbox (delivered to the chain with retries, on any
// node, never lost); unregister also tells the machine and forgets it.
type Commands struct {
	effects ports.Effects
	store   ports.QueryStore
	clock   ports.Clock
	nodeID  string
	// notify sends the unregister notice to the machine's connection,
	// wherever it is; domain.ErrNotFound when it is not connected.
	notify func(ctx context.Context, key domain.MachineKey) (string, error)
}

// NewCommands wires the contract commands.
func NewCommands(effects ports.Effects, store ports.QueryStore, clock ports.Clock, nodeID string,
	notify func(ctx context.Context, key domain.MachineKey) (string, error)) *Commands {
	return &Commands{effects: effects, store: store, clock: clock, nodeID: nodeID, notify: notify}
}

// Result says what a command did.
type Result struct {
	// EntryID names the outbox entry that carries the transaction.
	EntryID string `json:"entry_id"`
	// Notified is the node that sent the unregister notice ("" when the
	// machine was not connected); Removed whether its record was deleted.
	Notified string `json:"notified_node,omitempty"`
	Removed  bool   `json:"removed,omitempty"`
}

// Run queues the command named action ("register", "unregister", "online",
// "offline") for a machine.
func (c *Commands) Run(ctx context.Context, action string, key domain.MachineKey, st domain.StakingType) (Result, error) {
	kind, ok := Actions[action]
	if !ok {
		return Result{}, &domain.FieldError{Field: "action", Reason: fmt.Sprintf("%q is not register, unregister, online or offline", action)}
	}
	// The original's contract routes require both, in this order and words.
	switch {
	case key.Project == "":
		return Result{}, &domain.TextError{Err: domain.ErrInvalidParam, Text: "empty project name"}
	case key.MachineID == "":
		return Result{}, &domain.TextError{Err: domain.ErrInvalidParam, Text: "empty machine id"}
	}
	if err := st.Validate(); err != nil {
		return Result{}, err
	}
	e := domain.Event{Kind: kind, Key: key, StakingType: st, NodeID: c.nodeID, At: c.clock.Now()}
	entry, err := transition.Apply(ctx, c.effects, e, nil)
	res := Result{EntryID: entry.ID}
	switch {
	case errors.Is(err, domain.ErrDuplicate):
	case errors.Is(err, transition.ErrUnsettled):
		return res, fmt.Errorf("%s %s: %w", action, key, err)
	case err != nil:
		return Result{}, fmt.Errorf("%s %s: %w", action, key, err)
	}
	if kind != domain.EventContractUnregister {
		return res, nil
	}
	node, err := c.notify(ctx, key)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return res, fmt.Errorf("unregister %s: notify: %w", key, err)
	default:
		res.Notified = node
	}
	gone, err := c.store.DeleteMachine(ctx, key)
	if err != nil {
		return res, fmt.Errorf("unregister %s: remove machine: %w: %w", key, domain.ErrStore, err)
	}
	res.Removed = gone.Found
	return res, nil
}
