package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// CommandKind names what a node asks another node to do to a connection it holds.
type CommandKind string

// Commands between nodes.
const (
	// CommandNotify: send a type-3 notify with Body to the machine's connection.
	CommandNotify CommandKind = "notify"
	// CommandClose: close the machine's connection ConnID (replaced by a newer one).
	CommandClose CommandKind = "close"
	// CommandForget: drop what the node remembers of the machine's chain
	// registration (it was unregistered through another node).
	CommandForget CommandKind = "forget"
)

// Command is a message to the node holding a connection, whichever node
// received the request that caused it.
type Command struct {
	ID        string
	NodeID    string
	Kind      CommandKind
	Key       domain.MachineKey
	ConnID    string
	Body      []byte
	Reason    string
	CreatedAt time.Time
}

// MailboxStore carries commands between nodes (collection `node_commands`).
type MailboxStore interface {
	// SendCommand queues a command for c.NodeID.
	SendCommand(ctx context.Context, c Command) error
	// TakeCommands removes and returns the commands queued for nodeID, oldest first.
	TakeCommands(ctx context.Context, nodeID string) ([]Command, error)
	// PruneCommands deletes commands queued before `before` that no node
	// took (their node is gone), and says how many.
	PruneCommands(ctx context.Context, before time.Time) (int64, error)
}
