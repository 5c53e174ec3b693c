package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ddn/internal/ddnproc"
)

// eventually polls cond until it holds or 20 s have passed.
func eventually(t *testing.T, what string, cond func() bool, logs ...func() string) {
	t.Helper()
	if !ddnproc.Eventually(20*time.Second, 20*time.Millisecond, cond) {
		for _, l := range logs {
			t.Log(l())
		}
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestAgentSurvivesANodeRestart runs the command against a real ddn process
// on the embedded store, restarts the node (SIGTERM: it drains and closes
// the agent's connection), and expects the agent to come back online on the
// new process by itself and report again.
func TestAgentSurvivesANodeRestart(t *testing.T) {
	bin := ddnproc.Build(t, "ddn")
	dataDir, addr := t.TempDir(), ddnproc.FreeAddr(t)
	start := func() *ddnproc.Node {
		return ddnproc.Start(t, bin, dataDir, addr, "DDN_DATADIR="+dataDir, "DDN_NODEID=agent-test")
	}
	n := start()

	dir := fixture(t, map[string]string{"cpuinfo": cpuinfoX86, "meminfo": meminfo, "nvidia-smi": fakeNvidiaSMI})
	src := factSources{CPUInfo: filepath.Join(dir, "cpuinfo"), MemInfo: filepath.Join(dir, "meminfo")}
	log := &ddnproc.Log{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"-url", addr, "-machine-id", "agent-e2e", "-wallet", "0xabc",
			"-nvidia-smi", filepath.Join(dir, "nvidia-smi"), "-interval", "200ms", "-ping-every", "100ms",
			"-min-backoff", "50ms", "-max-backoff", "200ms", "-log-level", "debug"}, func(string) string { return "" }, log, log, src)
	}()
	defer func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("agent exited %d after its context ended", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop within 10s of its context ending")
		}
	}()

	onlineOn := func(n *ddnproc.Node) func() bool {
		return func() bool {
			return strings.Contains(n.Logs(), `"event":"online","machine":"deeplink/agent-e2e"`)
		}
	}
	reportedOn := func(n *ddnproc.Node) func() bool {
		return func() bool {
			return strings.Contains(n.Logs(), `"event":"short_term_info","machine":"deeplink/agent-e2e"`)
		}
	}
	eventually(t, "the agent online on the node", onlineOn(n), log.String, n.Logs)
	eventually(t, "the agent's facts stored", reportedOn(n), log.String, n.Logs)
	if got := strings.Count(log.String(), "report stored"); got == 0 {
		t.Fatalf("the agent logged no stored report:\n%s", log.String())
	}
	n.Stop(t)
	eventually(t, "the agent to notice", func() bool { return strings.Contains(log.String(), "connection lost; reconnecting") }, log.String)

	n2 := start()
	eventually(t, "the agent back online on the restarted node", onlineOn(n2), log.String, n2.Logs)
	before := strings.Count(log.String(), "report stored")
	eventually(t, "reports stored after the restart", func() bool { return strings.Count(log.String(), "report stored") >= before+3 }, log.String)
	if got := strings.Count(log.String(), "\tonline\t"); got < 2 {
		t.Errorf("agent logged %d onlines, want at least 2:\n%s", got, log.String())
	}
	for _, want := range []string{"13th Gen Intel(R) Core(TM) i5-13400F", "NVIDIA GeForce RTX 3090"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("agent did not log the fact %q", want)
		}
	}
}

// TestEnvironmentAndFlags: every flag reads DDN_AGENT_*; the command line wins.
func TestEnvironmentAndFlags(t *testing.T) {
	dir := fixture(t, map[string]string{"cpuinfo": cpuinfoX86, "meminfo": meminfo})
	src := factSources{CPUInfo: filepath.Join(dir, "cpuinfo"), MemInfo: filepath.Join(dir, "meminfo")}
	env := map[string]string{
		"DDN_AGENT_KIND": "bandwidth", "DDN_AGENT_DISK_GB": "500", "DDN_AGENT_BANDWIDTH_MBPS": "100",
		"DDN_AGENT_WALLET": "0xenv", "DDN_AGENT_MEMORY_GB": "64", "DDN_AGENT_CPU_CORES": "8",
		"DDN_AGENT_NVIDIA_SMI": "",
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-facts", "-disk-gb", "1000"}, func(k string) string { return env[k] }, &out, &errOut, src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Kind   string `json:"kind"`
		Report struct {
			CPUCores    int64   `json:"cpu_cores"`
			MemoryTotal int64   `json:"memory_total"`
			HDD         int64   `json:"hdd"`
			Bandwidth   float64 `json:"bandwidth"`
			Wallet      string  `json:"wallet"`
		} `json:"report"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	r := got.Report
	if got.Kind != "bandwidth" || r.CPUCores != 8 || r.MemoryTotal != 64 || r.HDD != 1000 || r.Bandwidth != 100 || r.Wallet != "0xenv" {
		t.Errorf("report from env and flags: %s", out.String())
	}

	errOut.Reset()
	env["DDN_AGENT_INTERVAL"] = "soon"
	if code := run(context.Background(), []string{"-facts"}, func(k string) string { return env[k] }, &out, &errOut, src); code != 2 ||
		!strings.Contains(errOut.String(), `DDN_AGENT_INTERVAL="soon"`) {
		t.Errorf("bad env value: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"-url", "127.0.0.1:1", "-wallet", "w"}, func(string) string { return "" }, &out, &errOut, src); code != 2 ||
		!strings.Contains(errOut.String(), "-machine-id") {
		t.Errorf("missing machine id: exit %d, %q", code, errOut.String())
	}
}

// TestHelpNamesEveryFlag: -help exits 0 and documents each flag and its
// environment variable.
func TestHelpNamesEveryFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-help"}, func(string) string { return "" }, &out, &errOut, defaultSources); code != 0 {
		t.Fatalf("-help exited %d: %s", code, errOut.String())
	}
	help := out.String()
	for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "FLAGS", "ENVIRONMENT", "EXAMPLES", "EXIT STATUS"} {
		if !strings.Contains(help, "\n"+section+"\n") && !strings.HasPrefix(help, section+"\n") {
			t.Errorf("help has no %s section", section)
		}
	}
	var o options
	newFlags(&o).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "  -"+f.Name+" ") && !strings.Contains(help, "  -"+f.Name+"\n") {
			t.Errorf("help does not name -%s", f.Name)
		}
		if !strings.Contains(help, envName(f.Name)) {
			t.Errorf("help does not name %s", envName(f.Name))
		}
	})
}

// TestBinaryConfiguredByEnvironment runs the built ddn-agent the way an
// operator's service manager does (environment only), against a real node,
// and stops it with SIGTERM: it reports real facts and exits 0.
func TestBinaryConfiguredByEnvironment(t *testing.T) {
	agentBin, ddnBin := ddnproc.Build(t, "ddn-agent"), ddnproc.Build(t, "ddn")
	n := ddnproc.Start(t, ddnBin, t.TempDir(), ddnproc.FreeAddr(t), "DDN_MONGODB_URI=memory://", "DDN_NODEID=env-test")
	cmd := exec.Command(agentBin)
	cmd.Env = append(os.Environ(), "DDN_AGENT_URL=http://"+n.Addr, "DDN_AGENT_MACHINE_ID=env-agent", "DDN_AGENT_PROJECT=envproj",
		"DDN_AGENT_WALLET=0xenv", "DDN_AGENT_KIND=bandwidth", "DDN_AGENT_DISK_GB=250", "DDN_AGENT_BANDWIDTH_MBPS=40",
		"DDN_AGENT_INTERVAL=200ms", "DDN_AGENT_PING_EVERY=100ms")
	agent := ddnproc.StartProcess(t, cmd, nil, 0)
	log := agent.Log
	eventually(t, "the agent's bandwidth report stored", func() bool {
		return strings.Contains(n.Logs(), `"event":"bandwidth_info","machine":"envproj/env-agent"`)
	}, log.String, n.Logs)
	agent.StopWithin(t, 10*time.Second)
	if !strings.Contains(log.String(), "stopped") || !strings.Contains(log.String(), "version") {
		t.Errorf("agent log:\n%s", log.String())
	}
	eventually(t, "the node to see the agent leave", func() bool {
		return strings.Contains(n.Logs(), `"event":"disconnected","machine":"envproj/env-agent"`)
	}, n.Logs)
}
