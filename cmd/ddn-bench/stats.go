package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"

	"ddn/agent"
)

// latency is a concurrency-safe latency histogram. HDR histograms record in
// O(1) into fixed memory (about 100 KB here, whatever the number of
// samples) with 3 significant digits from 1 µs to 2 min, so percentiles stay
// exact enough at 20,000 agents without keeping every sample.
type latency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLatency() *latency {
	return &latency{h: hdrhistogram.New(1, int64(2*time.Minute/time.Microsecond), 3)}
}

func (l *latency) record(d time.Duration) {
	us := max(d.Microseconds(), 1)
	l.mu.Lock()
	_ = l.h.RecordValue(min(us, l.h.HighestTrackableValue()))
	l.mu.Unlock()
}

// LatencySummary is a latency distribution in milliseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func (l *latency) summary() LatencySummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return LatencySummary{
		Count: l.h.TotalCount(),
		P50:   ms(l.h.ValueAtQuantile(50)),
		P95:   ms(l.h.ValueAtQuantile(95)),
		P99:   ms(l.h.ValueAtQuantile(99)),
		Max:   ms(l.h.Max()),
		Mean:  l.h.Mean() / 1000,
	}
}

// stats are what the simulated agents count while the load runs.
type stats struct {
	held, peak, onlines, churned, reconnects atomic.Int64
	sent, acked                              atomic.Int64
	ackLatency, onlineLatency                *latency
	// target and start date allOnline: the time from start until target
	// connections were first held at once (the end of an online storm).
	target    int64
	start     time.Time
	allOnline atomic.Int64 // nanoseconds; 0 until reached

	mu     sync.Mutex
	errors map[string]int64
}

func newStats(target int, start time.Time) *stats {
	return &stats{ackLatency: newLatency(), onlineLatency: newLatency(), errors: map[string]int64{},
		target: int64(target), start: start}
}

func (s *stats) connected() {
	n := s.held.Add(1)
	if n == s.target {
		s.allOnline.CompareAndSwap(0, int64(max(time.Since(s.start), 1)))
	}
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// fail counts an error under a short kind: "code_5" for a node answer,
// "dial", "timeout", "closed", "write" or "protocol" for the transport.
func (s *stats) fail(kind string) {
	s.mu.Lock()
	s.errors[kind]++
	s.mu.Unlock()
}

// errorKind names err for the error table.
func errorKind(stage string, err error) string {
	var ce *agent.CodeError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("code_%d", ce.Code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return stage + "_timeout"
	case websocket.CloseStatus(err) != -1, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return stage + "_closed"
	default:
		return stage
	}
}

// Summary is the result of a run; -json prints it as it is.
type Summary struct {
	Targets        []string `json:"targets"`
	Agents         int      `json:"agents"`
	Kind           string   `json:"kind"`
	ReportEvery    string   `json:"report_every"`
	PingEvery      string   `json:"ping_every"`
	RampUp         string   `json:"ramp_up"`
	ChurnPerSecond float64  `json:"churn_per_second"`
	Duration       string   `json:"duration"`
	ElapsedSeconds float64  `json:"elapsed_seconds"`
	HeldAtEnd      int64    `json:"connections_held"`
	PeakHeld       int64    `json:"connections_peak"`
	// AllOnlineSeconds is when every agent was first online at once, from
	// the start of the run (0: never); with -ramp-up 0 it is the length of
	// an online storm.
	AllOnlineSeconds float64 `json:"all_online_seconds"`
	Onlines          int64   `json:"onlines"`
	Churned          int64   `json:"churned"`
	Reconnects       int64   `json:"reconnects"`
	ReportsSent      int64   `json:"reports_sent"`
	ReportsAcked     int64   `json:"reports_acknowledged"`
	AckedPerSecond   float64 `json:"acknowledged_per_second"`
	// MeasuredSeconds is the time the acknowledgements were counted over
	// (the run after -measure-after).
	MeasuredSeconds float64          `json:"measured_seconds"`
	AckLatency      LatencySummary   `json:"ack_latency"`
	OnlineLatency   LatencySummary   `json:"online_latency"`
	Errors          map[string]int64 `json:"errors"`
	ErrorsTotal     int64            `json:"errors_total"`
}

// writeText prints s for a person.
func (s Summary) writeText(w io.Writer) {
	lat := func(l LatencySummary) string {
		if l.Count == 0 {
			return "(none)"
		}
		return fmt.Sprintf("p50 %.2fms  p95 %.2fms  p99 %.2fms  max %.2fms  (n=%d)", l.P50, l.P95, l.P99, l.Max, l.Count)
	}
	fmt.Fprintf(w, "ddn-bench: %d %s agents against %s for %s (ramp-up %s, reports every %s, pings every %s, churn %g/s)\n",
		s.Agents, s.Kind, strings.Join(s.Targets, ", "), s.Duration, s.RampUp, s.ReportEvery, s.PingEvery, s.ChurnPerSecond)
	fmt.Fprintf(w, "connections held      %d at the end (peak %d; %d onlines, %d churned, %d reconnects after errors)\n",
		s.HeldAtEnd, s.PeakHeld, s.Onlines, s.Churned, s.Reconnects)
	if s.AllOnlineSeconds > 0 {
		fmt.Fprintf(w, "all online            after %.2fs\n", s.AllOnlineSeconds)
	}
	fmt.Fprintf(w, "online latency        %s\n", lat(s.OnlineLatency))
	fmt.Fprintf(w, "reports acknowledged  %d of %d sent, %.1f/s over %.1fs\n", s.ReportsAcked, s.ReportsSent, s.AckedPerSecond, s.MeasuredSeconds)
	fmt.Fprintf(w, "ack latency           %s\n", lat(s.AckLatency))
	if len(s.Errors) == 0 {
		fmt.Fprintln(w, "errors                none")
		return
	}
	fmt.Fprintf(w, "errors                %d\n", s.ErrorsTotal)
	for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
		fmt.Fprintf(w, "  %-20s %d\n", k, s.Errors[k])
	}
}
