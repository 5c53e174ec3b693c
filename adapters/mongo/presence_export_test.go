package mongo

// SetMaxPresenceChanges lowers the cap of a machine's presence history for
// a test and returns how to restore it.
func SetMaxPresenceChanges(n int) (restore func()) {
	old := maxPresenceChanges
	maxPresenceChanges = n
	return func() { maxPresenceChanges = old }
}
