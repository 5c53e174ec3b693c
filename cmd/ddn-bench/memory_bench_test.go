package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"ddn/agent"
	"ddn/internal/ddnproc"
)

// BenchmarkHeldAgentMemory measures what one held simulated agent costs
// ddn-bench in Go heap and goroutine stacks (kernel socket buffers aside),
// with 1,000 agents online on a real node on memory://:
//
//	go test -run '^$' -bench HeldAgentMemory -benchtime 1x ./cmd/ddn-bench
func BenchmarkHeldAgentMemory(b *testing.B) {
	n := ddnproc.Start(b, ddnproc.Build(b, "ddn"), b.TempDir(), ddnproc.FreeAddr(b), "DDN_MONGODB_URI=memory://", "DDN_LOGLEVEL=warn",
		"DDN_LIMITS_MAXCONNECTIONSPERIP=0") // every agent connects from 127.0.0.1
	const agents = 1000
	cfg := loadConfig{URLs: []string{agent.NodeURL(n.Addr)}, Agents: agents, Kind: "shortterm",
		ReportEvery: time.Hour, PingEvery: 10 * time.Second, AnswerTimeout: 30 * time.Second, DialTimeout: 10 * time.Second}
	report := reportFor(cfg.Kind)
	for i := 0; b.Loop(); i++ {
		st := newStats(agents, time.Now())
		ctx, cancel := context.WithCancel(context.Background())
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var wg sync.WaitGroup
		for j := range agents {
			a := &simAgent{cfg: &cfg, st: st, url: cfg.URLs[0], report: report,
				machine: agent.Machine{MachineID: fmt.Sprintf("mem-%d-%06d", i, j), Project: "deeplink"}}
			wg.Go(func() { a.run(ctx) })
		}
		deadline := time.Now().Add(time.Minute)
		for st.held.Load() < agents || st.acked.Load() < agents {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d agents online, %d reports acknowledged", st.held.Load(), agents, st.acked.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
		b.ReportMetric(float64(used)/agents, "bytes/agent")
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/agents, "stack-bytes/agent")
		cancel()
		wg.Wait()
	}
}
