package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	agentpkg "ddn/agent"
	"ddn/internal/ddnproc"
)

// Soak bounds. The load runs in two rounds; between and after them every
// agent leaves. After the second round the idle node may hold at most
// soakGoroutineSlack goroutines and soakHeapSlack bytes of live heap more
// than after the first (the store's connection pool and caches are warm by
// then, so growth is a leak); within the second round the goroutines at the
// end stay within soakGoroutineGrowth of the count after warm-up. (Not in
// the first: idle connections have no goroutine, so the few dozen of the
// store's pool, which fills during round 1, outweigh the connections'.)
const (
	soakGoroutineSlack  = 20
	soakGoroutineGrowth = 1.25
	soakHeapSlack       = 32 << 20
)

// runtimeStats are the node's figures read from /metrics.
type runtimeStats struct {
	goroutines, heap, connections float64
}

// nodeRuntime reads the node's goroutines, heap in use and open connections.
func nodeRuntime(t *testing.T, addr string) runtimeStats {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s runtimeStats
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "go_goroutines":
			s.goroutines = v
		case "go_memstats_heap_inuse_bytes":
			s.heap = v
		case "ddn_open_connections":
			s.connections = v
		}
	}
	return s
}

// idle waits until the node holds no connection and its goroutine count
// has settled, and returns its figures then.
func idle(t *testing.T, addr string) runtimeStats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	prev := nodeRuntime(t, addr)
	for {
		time.Sleep(500 * time.Millisecond)
		cur := nodeRuntime(t, addr)
		if cur.connections == 0 && cur.goroutines == prev.goroutines {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not idle 30s after the agents left: %+v", cur)
		}
		prev = cur
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSoak runs a real node on the embedded store under agents that come
// and go (each lives 2-6 s, then a new one takes its machine), plus
// connections that never go online, in two rounds, and asserts the node's
// goroutines and heap do not grow beyond the bounds above. DDN_SOAK_DURATION (default
// 25s) and DDN_SOAK_AGENTS (default 40) make it the long run of `task soak`.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	duration := 25 * time.Second
	if d, err := time.ParseDuration(os.Getenv("DDN_SOAK_DURATION")); err == nil && d > 0 {
		duration = d
	}
	agents := envInt("DDN_SOAK_AGENTS", 40)
	warmup := max(duration/10, 3*time.Second)

	bin := buildBinary(t)
	dir := t.TempDir()
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, dir, addr, "DDN_LOGLEVEL=warn", "DDN_DUPLICATESESSION=replace",
		"DDN_LIMITS_MAXCONNECTIONSPERIP=100000", "DDN_LIMITS_MAXANONYMOUS=100000", "DDN_OFFLINEGRACEPERIOD=2s")
	url := "ws://" + addr + "/websocket"
	var (
		onlines, reports atomic.Int64
		errMu            sync.Mutex
		errs             = map[string]int{}
	)
	onError := func(err error) {
		errMu.Lock()
		errs[err.Error()[:min(len(err.Error()), 60)]]++
		errMu.Unlock()
	}
	// round runs the churning load for d and returns the node's figures
	// after warm-up and at the end, then waits until every agent left.
	round := func(d time.Duration) (warm, end runtimeStats) {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range agents {
			machine := agentpkg.Machine{MachineID: fmt.Sprintf("soak-%d", i), Project: "deeplink"}
			wg.Go(func() {
				for ctx.Err() == nil { // churn: one agent after another for this machine
					life, cancel := context.WithTimeout(ctx, 2*time.Second+rand.N(4*time.Second))
					_ = agentpkg.Run(life, agentpkg.Config{
						URLs: []string{url}, Machine: machine, ReportEvery: time.Second, PingEvery: 2 * time.Second,
						MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
						OnOnline: func(string) { onlines.Add(1) }, OnError: onError,
						Report: func(ctx context.Context, c *agentpkg.Conn) error {
							err := c.ReportBandwidth(ctx, agentpkg.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 100, Bandwidth: 50, Wallet: "0xabc"})
							if err == nil {
								reports.Add(1)
							}
							return err
						},
					})
					cancel()
				}
			})
		}
		wg.Go(func() { // connections that never go online and vanish
			for ctx.Err() == nil {
				dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if c, _, err := websocket.Dial(dctx, url, nil); err == nil {
					_ = c.CloseNow()
				}
				cancel()
				time.Sleep(100 * time.Millisecond) // pacing only
			}
		})
		time.Sleep(warmup) // the load runs; figures are sampled after warm-up and at the end
		warm = nodeRuntime(t, addr)
		time.Sleep(d - warmup)
		end = nodeRuntime(t, addr)
		stop()
		wg.Wait()
		return warm, end
	}

	base := nodeRuntime(t, addr)
	warm1, end1 := round(duration / 2)
	idle1 := idle(t, addr)
	warm2, end2 := round(duration / 2)
	idle2 := idle(t, addr)
	t.Logf("%d agents, %v in two rounds: %d onlines, %d reports acknowledged", agents, duration, onlines.Load(), reports.Load())
	for _, s := range []struct {
		name string
		s    runtimeStats
	}{{"before", base}, {"round 1 warm", warm1}, {"round 1 end", end1}, {"idle 1", idle1}, {"round 2 warm", warm2}, {"round 2 end", end2}, {"idle 2", idle2}} {
		t.Logf("%-13s goroutines %5.0f  heap in use %6.1f MiB  connections %4.0f", s.name, s.s.goroutines, s.s.heap/(1<<20), s.s.connections)
	}
	errMu.Lock()
	t.Logf("agent errors (churn makes some): %v", errs)
	errMu.Unlock()

	if onlines.Load() < int64(agents) || reports.Load() < int64(agents) {
		t.Fatalf("load too light to mean anything: %d onlines, %d reports", onlines.Load(), reports.Load())
	}
	if idle2.goroutines > idle1.goroutines+soakGoroutineSlack {
		t.Errorf("goroutines leaked: %.0f idle after round 1, %.0f idle after round 2 (bound +%d)", idle1.goroutines, idle2.goroutines, soakGoroutineSlack)
	}
	if idle2.heap > idle1.heap+soakHeapSlack {
		t.Errorf("heap grew: %.1f MiB idle after round 1, %.1f MiB after round 2 (bound +%d MiB)", idle1.heap/(1<<20), idle2.heap/(1<<20), soakHeapSlack>>20)
	}
	if end2.goroutines > warm2.goroutines*soakGoroutineGrowth+soakGoroutineSlack {
		t.Errorf("round 2: goroutines grew under steady load: %.0f after warm-up, %.0f at the end (bound x%.2f +%d)", warm2.goroutines, end2.goroutines, soakGoroutineGrowth, soakGoroutineSlack)
	}
	n.Stop(t)
}
