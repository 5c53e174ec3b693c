package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		live, roots, floor uint64
		base, want         int
	}{
		{0, mib, 64 * mib, 100, 100},            // no collection yet: the runtime's own start
		{4 * mib, 0, 64 * mib, 100, 1500},       // 4 MiB + 4 MiB × 15 = 64 MiB
		{4 * mib, 2 * mib, 64 * mib, 100, 1000}, // 4 MiB + (4 + 2) MiB × 10 = 64 MiB
		{4 * mib, 0, 64 * mib, 2000, 2000},      // GOGC already asks for more
		{64 * mib, 0, 64 * mib, 100, 100},       // at the floor
		{300 * mib, 0, 64 * mib, 50, 50},        // past it: GOGC as set
		{1, 0, 64 * mib, 100, 1600},             // a tiny heap: the runtime's minimum goal, 4 MiB × 16, is the floor
		{mib, 0, 8 * mib, 50, 200},              // the same with a small floor: 4 MiB × 2
	}
	for _, tt := range tests {
		if got := percent(tt.live, tt.roots, tt.floor, tt.base); got != tt.want {
			t.Errorf("percent(%d, %d, %d, %d) = %d, want %d", tt.live, tt.roots, tt.floor, tt.base, got, tt.want)
		}
	}
}

// read returns one runtime metric.
func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitFor runs collections until cond holds: the tuning happens in a
// cleanup the runtime runs after a collection, on its own goroutine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s (GC percent %d, live heap %d B, goal %d B)",
				what, read("/gc/gogc:percent"), read(liveMetric), read("/gc/heap/goal:bytes"))
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
}

// withGOGC sets the GC percent for one test and restores it after.
func withGOGC(t *testing.T, percent int) {
	old := debug.SetGCPercent(percent)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// cycles counts the collections while 1 GiB of short-lived garbage is made.
func cycles() uint64 {
	before := read("/gc/cycles/total:gc-cycles")
	var keep []byte
	for range 1 << 14 {
		keep = make([]byte, 64<<10)
	}
	runtime.KeepAlive(keep)
	return read("/gc/cycles/total:gc-cycles") - before
}

func TestKeepHoldsTheGoalAtTheFloorAndStopRestoresGOGC(t *testing.T) {
	withGOGC(t, 100)
	without := cycles()
	const floor = 256 << 20
	stop := Keep(floor)
	waitFor(t, "goal raised to the floor", func() bool { return read("/gc/heap/goal:bytes") >= floor*9/10 })
	if goal := read("/gc/heap/goal:bytes"); goal > floor*3/2 {
		t.Errorf("heap goal = %d B, want about the floor (%d B), not far past it", goal, uint64(floor))
	}
	with := cycles()
	stop()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Errorf("GC percent after stop = %d, want GOGC's 100 back", p)
	}
	// 1 GiB of garbage over a live heap of a few MiB: a collection every
	// few MiB without the floor, about one per 256 MiB with it.
	t.Logf("collections for 1 GiB of garbage: %d without the floor, %d with it", without, with)
	if with < 2 || with > 8 || with*4 > without {
		t.Errorf("collections with a 256 MiB floor = %d (without: %d), want 2 to 8 and at most a quarter", with, without)
	}
}

func TestKeepStepsBackOncePastTheFloor(t *testing.T) {
	withGOGC(t, 100)
	const floor = 16 << 20
	stop := Keep(floor)
	defer stop()
	waitFor(t, "percent raised for a small heap", func() bool { return read("/gc/gogc:percent") > 100 })
	live := make([]byte, 4*floor) // the live heap grows past the floor
	waitFor(t, "percent back to GOGC once the live heap is past the floor", func() bool { return read("/gc/gogc:percent") == 100 })
	runtime.KeepAlive(live)
}

func TestKeepLeavesGOGCOffAndAZeroFloorAlone(t *testing.T) {
	withGOGC(t, -1)
	stop := Keep(256 << 20)
	runtime.GC()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GC percent with GOGC=off = %d, want it left off", p)
	}
	stop()
	debug.SetGCPercent(100)
	stop = Keep(0)
	runtime.GC()
	stop()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Errorf("GC percent with floor 0 = %d, want 100 untouched", p)
	}
}
