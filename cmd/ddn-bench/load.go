package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"ddn/agent"
)

// loadConfig is one run of the load generator.
type loadConfig struct {
	URLs          []string
	Agents        int
	Kind          string // "shortterm" or "bandwidth"
	ReportEvery   time.Duration
	PingEvery     time.Duration
	RampUp        time.Duration
	Churn         float64 // disconnects (and reconnects) per second, fleet-wide
	ChurnPause    time.Duration
	Duration      time.Duration
	Prefix        string
	Project       string
	AnswerTimeout time.Duration
	DialTimeout   time.Duration
	// MeasureAfter leaves acknowledgements before this time since the
	// start out of the count, the rate and the latency.
	MeasureAfter time.Duration
	// Progress, when positive, prints a line to ProgressTo at that interval.
	Progress   time.Duration
	ProgressTo io.Writer
}

// runLoad simulates cfg.Agents agents until cfg.Duration has passed (or ctx
// ends), then closes every connection and returns what happened.
func runLoad(ctx context.Context, cfg loadConfig) Summary {
	report := reportFor(cfg.Kind)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	st := newStats(cfg.Agents, start)
	end := time.NewTimer(cfg.Duration)
	defer end.Stop()

	var wg sync.WaitGroup
	if cfg.Progress > 0 && cfg.ProgressTo != nil {
		wg.Go(func() { progress(runCtx, cfg, st, start) })
	}
	// One spawner paces the ramp-up; each agent is one goroutine.
	wg.Go(func() {
		step := time.Duration(0)
		if cfg.Agents > 1 {
			step = cfg.RampUp / time.Duration(cfg.Agents)
		}
		timer := time.NewTimer(0)
		defer timer.Stop()
		for i := range cfg.Agents {
			timer.Reset(time.Until(start.Add(time.Duration(i) * step)))
			select {
			case <-runCtx.Done():
				return
			case <-timer.C:
			}
			a := &simAgent{cfg: &cfg, st: st, url: cfg.URLs[i%len(cfg.URLs)], report: report,
				machine: agent.Machine{MachineID: fmt.Sprintf("%s-%06d", cfg.Prefix, i), Project: cfg.Project}}
			wg.Go(func() { a.run(runCtx) })
		}
	})
	select {
	case <-ctx.Done():
	case <-end.C:
	}
	// What is held is read before any agent starts closing.
	elapsed := time.Since(start)
	held := st.held.Load()
	cancel()
	wg.Wait()

	st.mu.Lock()
	errs, total := make(map[string]int64, len(st.errors)), int64(0)
	for k, v := range st.errors {
		errs[k] = v
		total += v
	}
	st.mu.Unlock()
	acked := st.acked.Load()
	measured := elapsed - cfg.MeasureAfter
	return Summary{
		Targets: cfg.URLs, Agents: cfg.Agents, Kind: cfg.Kind,
		ReportEvery: cfg.ReportEvery.String(), PingEvery: cfg.PingEvery.String(), RampUp: cfg.RampUp.String(),
		ChurnPerSecond: cfg.Churn, Duration: cfg.Duration.String(), ElapsedSeconds: elapsed.Seconds(),
		HeldAtEnd: held, PeakHeld: st.peak.Load(), AllOnlineSeconds: time.Duration(st.allOnline.Load()).Seconds(), Onlines: st.onlines.Load(), Churned: st.churned.Load(), Reconnects: st.reconnects.Load(),
		ReportsSent: st.sent.Load(), ReportsAcked: acked, AckedPerSecond: float64(acked) / measured.Seconds(), MeasuredSeconds: measured.Seconds(),
		AckLatency: st.ackLatency.summary(), OnlineLatency: st.onlineLatency.summary(),
		Errors: errs, ErrorsTotal: total,
	}
}

// reportFor is the report every agent of a kind sends: one shared body,
// not one per agent.
func reportFor(kind string) func(context.Context, *agent.Conn) error {
	const wallet = "0xbe9c5f5a4bd4a4f1f7b4e6e4b0c3a5e2d1f0a9b8"
	if kind == "bandwidth" {
		info := agent.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100, Wallet: wallet}
		return func(ctx context.Context, c *agent.Conn) error { return c.ReportBandwidth(ctx, info) }
	}
	info := agent.ShortTermInfo{
		CPUType: "13th Gen Intel(R) Core(TM) i5-13400F", CPURate: 2500,
		GPUNames: []string{"NVIDIA GeForce RTX 4060"}, GPUMemoryTotal: []int32{8188},
		MemoryTotal: 16, Wallet: wallet,
	}
	return func(ctx context.Context, c *agent.Conn) error { return c.ReportShortTerm(ctx, info) }
}

// progress prints a line per interval: connections held, acknowledgements
// per second in the interval, errors so far.
func progress(ctx context.Context, cfg loadConfig, st *stats, start time.Time) {
	t := time.NewTicker(cfg.Progress)
	defer t.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			acked := st.acked.Load()
			st.mu.Lock()
			errs := int64(0)
			for _, v := range st.errors {
				errs += v
			}
			st.mu.Unlock()
			fmt.Fprintf(cfg.ProgressTo, "%6.1fs  held %d  acked/s %.1f  errors %d\n",
				now.Sub(start).Seconds(), st.held.Load(), float64(acked-last)/now.Sub(lastAt).Seconds(), errs)
			last, lastAt = acked, now
		}
	}
}

// simAgent is one simulated machine: one goroutine, one connection (the
// agent library's, with its reader) at a time, one timer, no ticker.
type simAgent struct {
	cfg     *loadConfig
	st      *stats
	url     string
	machine agent.Machine
	report  func(context.Context, *agent.Conn) error
}

// run keeps the agent online until ctx ends: online, then reports and pings
// on their intervals; churn closes the connection after an exponentially
// distributed lifetime (so the fleet churns at cfg.Churn per second) and
// reconnects after cfg.ChurnPause; errors reconnect with exponential backoff.
func (a *simAgent) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	var retry *backoff.ExponentialBackOff
	for ctx.Err() == nil {
		end := a.session(ctx, timer)
		if ctx.Err() != nil {
			return
		}
		if end == sessionChurned {
			retry = nil
			if !sleep(a.cfg.ChurnPause) {
				return
			}
			continue
		}
		if retry == nil || end == sessionFailedOnline { // once online, backoff starts over
			retry = backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
				backoff.WithMaxInterval(10*time.Second), backoff.WithMaxElapsedTime(0))
		}
		a.st.reconnects.Add(1)
		if !sleep(retry.NextBackOff()) {
			return
		}
	}
}

// sessionEnd is how a connection ended.
type sessionEnd int

const (
	sessionFailed       sessionEnd = iota // before the machine went online
	sessionFailedOnline                   // after it went online
	sessionChurned                        // closed on purpose, to churn
	sessionStopped                        // the run ended
)

// call runs one request within the answer timeout.
func (a *simAgent) call(ctx context.Context, do func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.AnswerTimeout)
	defer cancel()
	return do(ctx)
}

// session runs one connection and says how it ended.
func (a *simAgent) session(ctx context.Context, timer *time.Timer) sessionEnd {
	cfg := a.cfg
	dialCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	c, err := agent.Dial(dialCtx, a.url, nil)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			a.st.fail(errorKind("dial", err))
		}
		return sessionFailed
	}
	defer func() { _ = c.Close() }()
	online := false
	fail := func(stage string, err error) sessionEnd {
		if ctx.Err() == nil {
			a.st.fail(errorKind(stage, err))
		}
		if online {
			return sessionFailedOnline
		}
		return sessionFailed
	}

	t0 := time.Now()
	if err := a.call(ctx, func(ctx context.Context) error { return c.Online(ctx, a.machine) }); err != nil {
		return fail("online", err)
	}
	a.st.onlineLatency.record(time.Since(t0))
	a.st.onlines.Add(1)
	online = true
	a.st.connected()
	defer a.st.held.Add(-1)

	now := time.Now()
	end := time.Time{}
	if cfg.Churn > 0 {
		mean := float64(cfg.Agents) / cfg.Churn // seconds each connection lives, on average
		end = now.Add(time.Duration(rand.ExpFloat64() * mean * float64(time.Second)))
	}
	nextReport, nextPing := now, now.Add(cfg.PingEvery)
	for {
		next := nextReport
		if nextPing.Before(next) {
			next = nextPing
		}
		if !end.IsZero() && end.Before(next) {
			next = end
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return sessionStopped
		case <-timer.C:
		}
		now := time.Now()
		if !end.IsZero() && !now.Before(end) {
			a.st.churned.Add(1)
			return sessionChurned
		}
		if !now.Before(nextPing) {
			if err := a.call(ctx, c.Ping); err != nil {
				return fail("ping", err)
			}
			nextPing = now.Add(cfg.PingEvery)
		}
		if !now.Before(nextReport) {
			a.st.sent.Add(1)
			err := a.call(ctx, func(ctx context.Context) error { return a.report(ctx, c) })
			var ce *agent.CodeError
			switch {
			case errors.As(err, &ce):
				a.st.fail(errorKind("report", err))
			case err != nil:
				return fail("report", err)
			case now.Sub(a.st.start) >= cfg.MeasureAfter:
				a.st.acked.Add(1)
				a.st.ackLatency.record(time.Since(now))
			}
			nextReport = nextReport.Add(cfg.ReportEvery)
			if nextReport.Before(now) { // fell behind: do not burst to catch up
				nextReport = now.Add(cfg.ReportEvery)
			}
		}
	}
}
