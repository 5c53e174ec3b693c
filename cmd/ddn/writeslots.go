package main

import (
	"strconv"
	"strings"

	"ddn/config"
)

// embeddedWriteSlots is how many onlines and machine_info content changes
// run against the embedded store at once. Its engine serializes writes, so
// more in flight only lengthens each one's wait inside the store (where
// the operation timeout runs) without finishing the storm sooner; measured
// with deploy/perf.sh storm-embedded (docs/performance.md).
const embeddedWriteSlots = 4

// storeWriteSlots is session.Config.MaxConcurrentWrites for the configured
// store: bounded on the embedded store, unbounded on MongoDB and memory://.
func storeWriteSlots(cfg *config.Config) int {
	if cfg.StoreKind() == "embedded" {
		return embeddedWriteSlots
	}
	return 0
}

// embeddedPoolSize caps the driver's connection pool to the embedded store.
// Its engine serializes writes, so connections beyond a few only wait; and
// each one is a pair of goroutines in the node (driver and in-process
// server) kept while idle, so an uncapped pool grows with every burst of
// disconnects (seen in TestSoak once onlines were bounded by the write
// slots and the pool no longer reached its size in the first burst).
const embeddedPoolSize = 16

// embeddedStoreURI is the embedded store's URI with the pool capped.
func embeddedStoreURI(uri string) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "maxPoolSize=" + strconv.Itoa(embeddedPoolSize)
}
