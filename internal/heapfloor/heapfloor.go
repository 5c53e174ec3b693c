// Package heapfloor keeps the garbage collector's heap goal at or above a
// floor, so that a node whose live heap is a few MiB does not collect many
// times a second under load (each collection also scans every goroutine's
// stack: one per connection).
package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The runtime's heap goal is live + (live + roots) × GOGC / 100, the roots
// being the scannable stacks and globals (these metrics give the three), and
// at least minimumPer100 × GOGC / 100 (4 MiB at the default GOGC of 100).
const (
	minimumPer100 = 4 << 20

	liveMetric    = "/gc/heap/live:bytes"
	stacksMetric  = "/gc/scan/stack:bytes"
	globalsMetric = "/gc/scan/globals:bytes"
)

// keeper re-tunes the GC percent after every collection until stopped.
type keeper struct {
	floor uint64
	base  int // the percent in force when Keep was called (GOGC)

	mu      sync.Mutex // orders tune and stop
	stopped bool
	sample  []metrics.Sample
}

// sentinel is the object whose cleanup marks the end of a collection. It
// holds a pointer so that it is never batched with others by the runtime's
// tiny allocator (whose objects may never be collected alone).
type sentinel struct{ _ *byte }

// Keep raises the GC percent after each collection as far as needed for the
// next heap goal to be at least floor bytes, and never below the percent in
// force when it is called (GOGC, default 100); once the live heap is past
// the floor it leaves that percent as it was. A memory limit (GOMEMLIMIT)
// still bounds the heap. floor 0, or GOGC=off, does nothing. stop restores
// the percent and ends the tuning.
func Keep(floor uint64) (stop func()) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if floor == 0 || base < 0 {
		return func() {}
	}
	k := &keeper{floor: floor, base: base, sample: []metrics.Sample{{Name: liveMetric}, {Name: stacksMetric}, {Name: globalsMetric}}}
	k.mu.Lock()
	k.tune()
	k.mu.Unlock()
	k.arm()
	return k.stop
}

// percent is the GC percent that puts the next goal at floor for a live
// heap of live bytes and roots bytes of stacks and globals, and never less
// than base. For a heap so small that the runtime's minimum goal (which
// grows with the percent) would pass the floor, it is the percent whose
// minimum is the floor.
func percent(live, roots, floor uint64, base int) int {
	if live == 0 || live >= floor {
		return base
	}
	p := min((floor-live)*100/(live+roots), floor*100/minimumPer100)
	return max(base, int(p))
}

// arm registers a cleanup on a fresh sentinel: it runs once the collection
// that finds the sentinel unreachable is over, tunes, and arms again.
func (k *keeper) arm() {
	runtime.AddCleanup(new(sentinel), func(k *keeper) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.stopped {
			return
		}
		k.tune()
		k.arm()
	}, k)
}

// tune sets the percent for the live heap of the last collection; k.mu held.
func (k *keeper) tune() {
	metrics.Read(k.sample)
	var v [3]uint64
	for i, s := range k.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	debug.SetGCPercent(percent(v[0], v[1]+v[2], k.floor, k.base))
}

func (k *keeper) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.stopped {
		k.stopped = true
		debug.SetGCPercent(k.base)
	}
}
