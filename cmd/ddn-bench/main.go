// Command ddn-bench is the load generator of ddn: it simulates many agents
// against one or several nodes and prints what the nodes sustained. Every
// benchmark and soak test of the node starts from it. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"ddn/agent"
)

const usage = `NAME
  ddn-bench - load generator for ddn: many simulated agents, one report

SYNOPSIS
  ddn-bench -url ADDR[,ADDR...] [-agents N] [-duration D] [flags]

DESCRIPTION
  Simulates -agents machines, each with its own WebSocket, against the nodes
  given with -url (round robin over the list). Each agent goes online
  (type 1), sends a report (type 2 with -kind shortterm, type 4 with
  -kind bandwidth) right away and then every -report-every, waiting for its
  acknowledgement, and sends a WebSocket ping every -ping-every. Agents
  start evenly over -ramp-up. With -churn R the fleet disconnects and
  reconnects R agents per second on average (each connection lives an
  exponentially distributed time; it reconnects after -churn-pause). An
  agent whose connection fails reconnects with exponential backoff.

  The run stops by itself after -duration (ramp-up included), closes every
  connection and prints: connections held at the end and at the peak, the
  online latency, reports acknowledged per second, the acknowledgement
  latency (p50, p95, p99, max; an HDR histogram, 3 significant digits), and
  errors by kind: code_N for a node answer with code N, and dial, online,
  ping or report failures of the transport (_timeout, _closed).

  ddn-bench connects only to the addresses given with -url. Point it at
  nodes you run; in tests, at 127.0.0.1. Each agent is one goroutine and one
  socket, a few KB each: 20,000 agents need about 20,000 file descriptors
  (Go raises the soft limit to the hard limit; check ulimit -Hn) and, against
  one address, a wide ephemeral port range
  (/proc/sys/net/ipv4/ip_local_port_range).

FLAGS
`

const usageTail = `
ENVIRONMENT
  None: everything is a flag.

EXAMPLES
  # 2,000 GPU agents on one local node for a minute, reports every 10 s
  ddn-bench -url 127.0.0.1:9521 -agents 2000 -ramp-up 20s -duration 1m

  # three nodes, bandwidth reports every second, 5 reconnects per second
  ddn-bench -url 127.0.0.1:9521,127.0.0.1:9522,127.0.0.1:9523 \
    -agents 5000 -kind bandwidth -report-every 1s -churn 5 -duration 2m

  # machine-readable result
  ddn-bench -url 127.0.0.1:9521 -agents 100 -duration 10s -json > result.json

EXIT STATUS
  0  the run completed (errors, if any, are in the result)
  1  no agent went online at all
  2  bad flags
`

// urlList is a repeatable, comma-separated -url flag.
type urlList []string

func (u *urlList) String() string { return strings.Join(*u, ",") }

func (u *urlList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*u = append(*u, agent.NodeURL(s))
		}
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// newFlags declares every flag of ddn-bench into cfg.
func newFlags(cfg *loadConfig, urls *urlList, asJSON *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("ddn-bench", flag.ContinueOnError)
	fs.Var(urls, "url", "node `address`es, comma-separated or repeated: host:port, http(s)://host:port or ws(s)://host:port/websocket")
	fs.IntVar(&cfg.Agents, "agents", 100, "`number` of simulated agents (one connection each)")
	fs.StringVar(&cfg.Kind, "kind", "shortterm", "report `kind`: shortterm (type 2, GPU machine) or bandwidth (type 4)")
	fs.DurationVar(&cfg.ReportEvery, "report-every", 10*time.Second, "report `interval` of each agent")
	fs.DurationVar(&cfg.PingEvery, "ping-every", 10*time.Second, "heartbeat (WebSocket ping) `interval` of each agent")
	fs.DurationVar(&cfg.RampUp, "ramp-up", 5*time.Second, "`time` over which agents start, evenly spaced")
	fs.Float64Var(&cfg.Churn, "churn", 0, "disconnects and reconnects per `second`, fleet-wide (0: none)")
	fs.DurationVar(&cfg.ChurnPause, "churn-pause", time.Second, "`time` a churned agent stays away before reconnecting")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "`time` the run lasts, ramp-up included; then every connection is closed")
	fs.StringVar(&cfg.Prefix, "prefix", fmt.Sprintf("bench-%04x", rand.IntN(1<<16)), "machine id `prefix`; agent i is PREFIX-00000i")
	fs.StringVar(&cfg.Project, "project", "deeplink", "`project` of the simulated machines")
	fs.DurationVar(&cfg.AnswerTimeout, "answer-timeout", 30*time.Second, "`time` to wait for an answer before counting a timeout")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", 10*time.Second, "`time` to connect and upgrade")
	fs.DurationVar(&cfg.MeasureAfter, "measure-after", 0, "count acknowledgements and their latency only from this `time` after the start (0: the whole run); leaves out the ramp-up and the first reports")
	fs.DurationVar(&cfg.Progress, "progress", 5*time.Second, "print a progress line to stderr at this `interval` (0: off)")
	fs.BoolVar(asJSON, "json", false, "print the result as JSON")
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg loadConfig
	var urls urlList
	var asJSON bool
	fs := newFlags(&cfg, &urls, &asJSON)
	fs.SetOutput(io.Discard)
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
		fmt.Fprint(w, usageTail)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "ddn-bench: %v (see ddn-bench -help)\n", err)
		return 2
	}
	cfg.URLs = urls
	if err := validate(cfg, fs.NArg()); err != nil {
		fmt.Fprintf(stderr, "ddn-bench: %v (see ddn-bench -help)\n", err)
		return 2
	}
	cfg.ProgressTo = stderr
	s := runLoad(ctx, cfg)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	} else {
		s.writeText(stdout)
	}
	if s.Onlines == 0 {
		return 1
	}
	return 0
}

// validate rejects a configuration that cannot run, naming the flag.
func validate(cfg loadConfig, extraArgs int) error {
	switch {
	case extraArgs > 0:
		return errors.New("unexpected arguments")
	case len(cfg.URLs) == 0:
		return errors.New("-url: at least one node address is required")
	case cfg.Agents <= 0:
		return fmt.Errorf("-agents: %d is not positive", cfg.Agents)
	case cfg.Kind != "shortterm" && cfg.Kind != "bandwidth":
		return fmt.Errorf("-kind: %q is neither shortterm nor bandwidth", cfg.Kind)
	case cfg.ReportEvery <= 0:
		return errors.New("-report-every: must be positive")
	case cfg.PingEvery <= 0:
		return errors.New("-ping-every: must be positive")
	case cfg.Duration <= 0:
		return errors.New("-duration: must be positive")
	case cfg.MeasureAfter < 0 || cfg.MeasureAfter >= cfg.Duration:
		return fmt.Errorf("-measure-after: %s must be at least 0 and shorter than -duration %s", cfg.MeasureAfter, cfg.Duration)
	case cfg.RampUp < 0 || cfg.RampUp >= cfg.Duration:
		return fmt.Errorf("-ramp-up: %s must be at least 0 and shorter than -duration %s", cfg.RampUp, cfg.Duration)
	case cfg.Churn < 0:
		return errors.New("-churn: must not be negative")
	case cfg.ChurnPause < 0:
		return errors.New("-churn-pause: must not be negative")
	case cfg.AnswerTimeout <= 0 || cfg.DialTimeout <= 0:
		return errors.New("-answer-timeout and -dial-timeout: must be positive")
	case cfg.Prefix == "" || cfg.Project == "":
		return errors.New("-prefix and -project: must not be empty")
	}
	return nil
}
