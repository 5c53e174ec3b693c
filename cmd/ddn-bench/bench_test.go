package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"ddn/internal/ddnproc"
)

// runJSON runs ddn-bench with args plus -json and decodes its result.
func runJSON(t *testing.T, args ...string) Summary {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append(args, "-json", "-progress", "0"), &out, &errOut)
	if code != 0 {
		t.Fatalf("ddn-bench exited %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var s Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("result is not JSON: %v\n%s", err, out.String())
	}
	return s
}

// TestBenchAgainstRealNodes runs the load generator for a few seconds
// against a real ddn process on each store it can run here without MongoDB:
// every agent goes online and stays, reports are acknowledged, no errors.
func TestBenchAgainstRealNodes(t *testing.T) {
	bin := ddnproc.Build(t, "ddn")
	for _, store := range []struct{ name, env string }{
		{"memory", "DDN_MONGODB_URI=memory://"},
		{"embedded", "DDN_DATADIR=" + t.TempDir()},
	} {
		t.Run(store.name, func(t *testing.T) {
			n := ddnproc.Start(t, bin, t.TempDir(), ddnproc.FreeAddr(t), store.env, "DDN_NODEID=bench-"+store.name)
			s := runJSON(t, "-url", n.Addr, "-agents", "40", "-report-every", "200ms", "-ping-every", "300ms",
				"-ramp-up", "500ms", "-duration", "3s", "-prefix", "bench-"+store.name)
			t.Logf("%+v", s)
			if s.Onlines != 40 || s.HeldAtEnd != 40 || s.PeakHeld != 40 {
				t.Errorf("onlines %d, held %d, peak %d; want 40 each", s.Onlines, s.HeldAtEnd, s.PeakHeld)
			}
			// Every agent reports right after its online and waits for the
			// answer: at least one acknowledgement each (rates are for
			// benchmarks, not for this test).
			if s.ReportsAcked < 40 || s.ReportsSent-s.ReportsAcked > 40 {
				t.Errorf("%d of %d reports acknowledged; want every agent's, less at most one in flight each", s.ReportsAcked, s.ReportsSent)
			}
			if s.ErrorsTotal != 0 || len(s.Errors) != 0 {
				t.Errorf("errors: %v", s.Errors)
			}
			if s.AckLatency.Count != s.ReportsAcked || s.AckLatency.P99 <= 0 || s.AckLatency.P50 > s.AckLatency.P99 {
				t.Errorf("ack latency %+v does not describe %d acknowledgements", s.AckLatency, s.ReportsAcked)
			}
			if s.AllOnlineSeconds <= 0 || s.AllOnlineSeconds > s.ElapsedSeconds {
				t.Errorf("all online after %.3fs of %.3fs: want a time within the run", s.AllOnlineSeconds, s.ElapsedSeconds)
			}
			if s.OnlineLatency.Count != 40 {
				t.Errorf("online latency counted %d onlines, want 40", s.OnlineLatency.Count)
			}
			if got := strings.Count(n.Logs(), `"machine event"`); got == 0 {
				t.Errorf("the node logged no machine event; was it the node the bench talked to?")
			}
		})
	}
}

// TestBenchChurnAndRoundRobin spreads agents over two nodes and churns them:
// agents reconnect by themselves and keep being acknowledged.
func TestBenchChurnAndRoundRobin(t *testing.T) {
	bin := ddnproc.Build(t, "ddn")
	dir := t.TempDir()
	// A churned agent may come back before the node has released its
	// previous connection's claim (code 5 under reject); replace makes the
	// comeback deterministic, which is what this test is about.
	a := ddnproc.Start(t, bin, dir, ddnproc.FreeAddr(t), "DDN_MONGODB_URI=memory://", "DDN_NODEID=a", "DDN_DUPLICATESESSION=replace")
	b := ddnproc.Start(t, bin, dir, ddnproc.FreeAddr(t), "DDN_MONGODB_URI=memory://", "DDN_NODEID=b", "DDN_DUPLICATESESSION=replace")
	s := runJSON(t, "-url", a.Addr+","+b.Addr, "-agents", "20", "-kind", "bandwidth", "-report-every", "200ms",
		"-ramp-up", "200ms", "-duration", "3s", "-churn", "10", "-churn-pause", "300ms")
	t.Logf("%+v", s)
	if s.Churned == 0 || s.Onlines <= 20 {
		t.Errorf("churned %d, onlines %d: want reconnects after churn", s.Churned, s.Onlines)
	}
	if s.ReportsAcked == 0 || s.ErrorsTotal != 0 {
		t.Errorf("acknowledged %d, errors %v", s.ReportsAcked, s.Errors)
	}
	for _, n := range []*ddnproc.Node{a, b} {
		if !strings.Contains(n.Logs(), `"machine event"`) {
			t.Errorf("node %s saw no agent: round robin is broken", n.Addr)
		}
	}
}

// TestMeasureAfterLeavesOutTheStart: acknowledgements before -measure-after
// are not counted, and the rate is over the measured time only.
func TestMeasureAfterLeavesOutTheStart(t *testing.T) {
	bin := ddnproc.Build(t, "ddn")
	n := ddnproc.Start(t, bin, t.TempDir(), ddnproc.FreeAddr(t), "DDN_MONGODB_URI=memory://", "DDN_NODEID=measure")
	s := runJSON(t, "-url", n.Addr, "-agents", "5", "-report-every", "100ms", "-ramp-up", "100ms",
		"-duration", "3s", "-measure-after", "2s")
	t.Logf("%+v", s)
	if s.ReportsAcked == 0 || s.ReportsAcked*2 > s.ReportsSent {
		t.Errorf("%d of %d reports counted: want those of the last second only (about a third)", s.ReportsAcked, s.ReportsSent)
	}
	if s.AckLatency.Count != s.ReportsAcked {
		t.Errorf("latency of %d acknowledgements, %d counted", s.AckLatency.Count, s.ReportsAcked)
	}
	if s.MeasuredSeconds < 0.9 || s.MeasuredSeconds > s.ElapsedSeconds-1.9 {
		t.Errorf("measured over %.2fs of %.2fs: want the run after 2s", s.MeasuredSeconds, s.ElapsedSeconds)
	}
	if got := float64(s.ReportsAcked) / s.MeasuredSeconds; got != s.AckedPerSecond {
		t.Errorf("acknowledged/s %.2f, want %.2f (counted over the measured time)", s.AckedPerSecond, got)
	}
}

func TestBenchRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-url", "127.0.0.1:1", "-agents", "0"},
		{"-url", "127.0.0.1:1", "-kind", "gpu"},
		{"-url", "127.0.0.1:1", "-ramp-up", "2m", "-duration", "1m"},
		{"-url", "127.0.0.1:1", "-measure-after", "1m", "-duration", "1m"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "ddn-bench: -") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and the flag named", args, code, errOut.String())
		}
	}
}

// TestHelpNamesEveryFlag: -help exits 0, has the man sections and names
// each flag.
func TestHelpNamesEveryFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-help"}, &out, &errOut); code != 0 {
		t.Fatalf("-help exited %d: %s", code, errOut.String())
	}
	help := out.String()
	for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "FLAGS", "ENVIRONMENT", "EXAMPLES", "EXIT STATUS"} {
		if !strings.Contains(help, "\n"+section+"\n") && !strings.HasPrefix(help, section+"\n") {
			t.Errorf("help has no %s section", section)
		}
	}
	var cfg loadConfig
	var urls urlList
	var asJSON bool
	newFlags(&cfg, &urls, &asJSON).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "  -"+f.Name+" ") && !strings.Contains(help, "  -"+f.Name+"\n") {
			t.Errorf("help does not name -%s", f.Name)
		}
	})
}
