package main

import "ddn/config"

// embeddedWriteSlots is how many onlines and machine_info content changes
// run against the embedded store at once. Its engine serializes writes, so
// more in flight only lengthens each one's wait inside the store (where
// the operation timeout runs) without finishing the storm sooner; measured
// with deploy/perf.sh storm-embedded (BENCHMARKS.md).
const embeddedWriteSlots = 4

// storeWriteSlots is session.Config.MaxConcurrentWrites for the configured
// store: bounded on the embedded store, unbounded on MongoDB and memory://.
func storeWriteSlots(cfg *config.Config) int {
	if cfg.StoreKind() == "embedded" {
		return embeddedWriteSlots
	}
	return 0
}
