package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Config is what keeps one machine online.
type Config struct {
	// URLs of nodes (ws://host:port/websocket); tried in turn.
	URLs    []string
	Machine Machine
	// Report sends one report on the connection (type 2 or 4).
	Report func(ctx context.Context, c *Conn) error
	// ReportEvery and PingEvery pace reports and heartbeats (60s, 10s). A
	// ping not answered within PingEvery (no pong for about two PingEvery)
	// means the node is gone: the connection is dropped at once and the
	// next URL tried.
	ReportEvery, PingEvery time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting (1s, 1m).
	MinBackoff, MaxBackoff time.Duration
	// OnOnline, OnError and OnNotify observe the client (each may be nil).
	OnOnline func(url string)
	OnError  func(err error)
	OnNotify func(body []byte)
	// OnInfoRequest observes a type-5 request of the node, which the
	// client answers at once with Report (nothing without one).
	OnInfoRequest func(url string)
}

// Run keeps the machine online until ctx ends: connect, go online, report
// and ping on their intervals; on any failure reconnect to the next node
// after an exponential backoff with jitter, reset once online again.
func Run(ctx context.Context, cfg Config) error {
	if len(cfg.URLs) == 0 {
		return errors.New("agent: no node URL")
	}
	if cfg.ReportEvery <= 0 {
		cfg.ReportEvery = time.Minute
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = 10 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	backoff := cfg.MinBackoff
	for i := 0; ; i++ {
		online, err := session(ctx, cfg, cfg.URLs[i%len(cfg.URLs)])
		if ctx.Err() != nil {
			return nil
		}
		if cfg.OnError != nil && err != nil {
			cfg.OnError(err)
		}
		if online {
			backoff = cfg.MinBackoff
		}
		wait := time.Duration(float64(backoff) * (0.5 + rand.Float64()/2))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, cfg.MaxBackoff)
	}
}

// session runs one connection until it fails; it reports whether the
// machine went online on it.
func session(ctx context.Context, cfg Config, url string) (online bool, err error) {
	// A node that does not complete the handshake within two heartbeats is
	// as silent as one that stops answering pings.
	dialCtx, cancel := context.WithTimeout(ctx, min(10*time.Second, max(2*cfg.PingEvery, 2*time.Second)))
	c, err := Dial(dialCtx, url, cfg.OnNotify)
	cancel()
	if err != nil {
		return false, err
	}
	defer c.Close()
	// The heartbeat runs beside requests, so that a node that stops
	// answering is left within two heartbeats even while a request waits.
	silent := make(chan error, 1)
	pingCtx, stopPings := context.WithCancel(ctx)
	var pinger sync.WaitGroup
	pinger.Go(func() { heartbeat(pingCtx, c, cfg.PingEvery, url, silent) })
	defer func() { stopPings(); pinger.Wait() }()
	ended := func(err error) error {
		select {
		case s := <-silent:
			return s
		default:
			return err
		}
	}

	reqCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = c.Online(reqCtx, cfg.Machine)
	cancel()
	if err != nil {
		return false, ended(fmt.Errorf("online on %s: %w", url, err))
	}
	if cfg.OnOnline != nil {
		cfg.OnOnline(url)
	}
	report := func() error {
		if cfg.Report == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return cfg.Report(ctx, c)
	}
	if err := report(); err != nil {
		return true, ended(fmt.Errorf("report to %s: %w", url, err))
	}
	reports := time.NewTicker(cfg.ReportEvery)
	defer reports.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case err := <-silent:
			return true, err
		case <-c.Done():
			return true, ended(fmt.Errorf("connection to %s ended: %w", url, c.Err()))
		case <-reports.C:
			if err := report(); err != nil {
				return true, ended(fmt.Errorf("report to %s: %w", url, err))
			}
		case <-c.InfoRequested():
			// The node has no scored info of this machine: send it again now.
			if cfg.OnInfoRequest != nil {
				cfg.OnInfoRequest(url)
			}
			if err := report(); err != nil {
				return true, ended(fmt.Errorf("report to %s (asked for it): %w", url, err))
			}
		}
	}
}

// heartbeat pings every `every` until ctx ends; a ping whose pong does not
// come within `every` drops the connection and says so on silent.
func heartbeat(ctx context.Context, c *Conn, every time.Duration, url string, silent chan<- error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := c.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			silent <- fmt.Errorf("no pong from %s within %v: %w", url, every, err)
			c.abort()
			return
		}
	}
}
