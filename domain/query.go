package domain

// MachineCount is one cell of the fleet's census, so /api/v0/stats needs no
// scan of machine_info in the node.
type MachineCount struct {
	Project string
	State   State
	Count   int64
}

// MachineDeletion says what forgetting a machine removed, so the operator
// sees whether it existed and whether it was still claimed by a connection.
type MachineDeletion struct {
	Found      bool
	Reports    int64
	Connection bool
}

// MachineFilter narrows ListMachines; zero fields match everything.
type MachineFilter struct {
	Project string
	State   State
	// Limit caps the result; 0 means no cap.
	Limit int
	// After, when set, starts the list after this key (a page cursor); the
	// order is project, machine_id, container_id.
	After *MachineKey
}
