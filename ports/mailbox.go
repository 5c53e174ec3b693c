package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// MailboxStore carries commands between nodes (collection `node_commands`).
type MailboxStore interface {
	// SendCommand queues a command for c.NodeID.
	SendCommand(ctx context.Context, c domain.Command) error
	// TakeCommands removes and returns the commands queued for nodeID, oldest first.
	TakeCommands(ctx context.Context, nodeID string) ([]domain.Command, error)
	// PruneCommands deletes commands queued before `before` that no node
	// took (their node is gone), and says how many.
	PruneCommands(ctx context.Context, before time.Time) (int64, error)
}
