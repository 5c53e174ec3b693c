package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ddn/adapters/mongo"
	"ddn/domain"
	"ddn/internal/ddnproc"
)

// storeProcess is a `ddn store` the test can kill and start again on the
// same address and files.
type storeProcess struct {
	t         *testing.T
	bin, addr string
	dir       string
	cmd       *exec.Cmd
}

func (s *storeProcess) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "store", "-addr", s.addr, "-dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *storeProcess) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
}

// ready reports the node's /readyz status.
func ready(addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStoreKilledAndRestartedMidLoad: agents report while the embedded store
// is SIGKILLed and started again. While it is gone, reports answer code 4
// and /readyz says 503; the node recovers by itself when it is back; every
// acknowledged report is stored, and nothing else but the writes in flight
// at the moment of the kill.
func TestStoreKilledAndRestartedMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	st := &storeProcess{t: t, bin: bin, addr: ddnproc.FreeAddr(t), dir: filepath.Join(dir, "store")}
	st.start()
	t.Cleanup(func() { st.kill() })
	uri := "mongodb://" + st.addr + "/"
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, dir, addr, "DDN_MONGODB_URI="+uri, "DDN_HEARTBEATTIMEOUT=120s", "DDN_LOGLEVEL=warn",
		"DDN_NODELEASEEXPIRY=60s", "DDN_NODELEASERENEW=1s", "DDN_OFFLINEGRACEPERIOD=10m")

	const agents = 8
	var (
		wg          sync.WaitGroup
		stop        = make(chan struct{})
		code4       atomic.Int64
		mu          sync.Mutex
		acked       = map[string]int{}
		unexpected  []string
		afterReturn atomic.Int64 // acknowledgements after the store came back
		storeBack   atomic.Bool
	)
	for i := range agents {
		a := newAgent(t, fmt.Sprint("fault-", i))
		if err := a.online(addr); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer a.close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				code, err := a.call(ctx, 4, `{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"0xabc"}`)
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					unexpected = append(unexpected, fmt.Sprintf("%s: %v", a.id, err))
				case code == uint32(domain.CodeOK):
					acked[a.id]++
					if storeBack.Load() {
						afterReturn.Add(1)
					}
				case code == uint32(domain.CodeDatabase):
					code4.Add(1)
				default:
					unexpected = append(unexpected, fmt.Sprintf("%s: code %d", a.id, code))
				}
				mu.Unlock()
				if err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond) // pacing only
			}
		})
	}
	awaitCond(t, "reports before the fault", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) == agents })

	st.kill()
	awaitCond(t, "/readyz to report the store gone", func() bool { return ready(addr) == http.StatusServiceUnavailable })
	awaitCond(t, "code 4 answers while the store is gone", func() bool { return code4.Load() >= agents })

	st.start()
	awaitCond(t, "/readyz to recover", func() bool { return ready(addr) == http.StatusOK })
	storeBack.Store(true)
	awaitCond(t, "acknowledgements after the store came back", func() bool { return afterReturn.Load() >= 3*agents })
	close(stop)
	wg.Wait()

	if len(unexpected) > 0 {
		t.Fatalf("agents got answers other than 0 and 4: %v", unexpected)
	}
	ctx := context.Background()
	db, err := mongo.Open(ctx, mongo.Options{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	// A write in flight when the store dies is ambiguous: it may have been
	// applied with its answer lost, so the agent was told code 4 for a
	// report that is stored (it would send it again: at least once). Each
	// agent has at most one report in flight, so per machine the stored
	// count is the acknowledged count, or one more; never fewer.
	total, ambiguous := 0, 0
	for i := range agents {
		id := fmt.Sprint("fault-", i)
		rs, err := db.ListReports(ctx, domain.MachineKey{MachineID: id, Project: "deeplink"}, time.Time{}, time.Time{}, 0)
		if err != nil || len(rs) < acked[id] || len(rs) > acked[id]+1 {
			t.Errorf("%s: %d reports stored, %d acknowledged (%v); want every acknowledged one, plus at most the one in flight at the kill", id, len(rs), acked[id], err)
		}
		total += acked[id]
		ambiguous += len(rs) - acked[id]
	}
	t.Logf("%d reports acknowledged, all stored; %d answered code 4 while the store was gone, of which %d had reached the store before it died",
		total, code4.Load(), ambiguous)
	n.Stop(t)
}

// awaitCond polls cond until it holds, failing the test after a minute.
func awaitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !ddnproc.Eventually(time.Minute, 20*time.Millisecond, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}
