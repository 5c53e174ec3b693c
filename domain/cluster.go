package domain

import "time"

// Connection is a live connection's claim on a machine (machine_connection).
type Connection struct {
	Key      MachineKey
	NodeID   string
	ConnID   string
	ClientIP string
	AddTime  time.Time
}

// Node is a ddn node's membership record and lease (nodes). Liveness is
// judged by whether (BootID, Seq) keeps changing, timed on the observer's
// own clock; HeartbeatAt is the writer's wall clock, for people only.
type Node struct {
	ID          string
	Addr        string
	Version     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	// BootID names the process life that wrote the record; Seq counts its
	// renewals (1, 2, ...).
	BootID string
	Seq    uint64
}

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
	Key       MachineKey
	ConnID    string
	Body      []byte
	Reason    string
	CreatedAt time.Time
}
