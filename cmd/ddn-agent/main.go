// Command ddn-agent is the reference machine agent of ddn: it keeps one
// machine online on a node, reports the machine's facts on an interval and
// comes back by itself when the node restarts. Operators run it as it is or
// start their own agent from it. See README.md, "The agent".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"ddn/agent"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `NAME
  ddn-agent - keep this machine online on ddn and report its facts

SYNOPSIS
  ddn-agent -url ADDR[,ADDR...] -machine-id ID -wallet ADDRESS [flags]
  ddn-agent -facts     print what would be reported and exit

DESCRIPTION
  Connects to a ddn node over WebSocket, goes online as the machine
  (machine id, project, container id, staking type), then sends the
  machine's facts right away and every -interval: with -kind shortterm
  (type 2, GPU machines) the CPU model and MHz, the memory, and each GPU's
  name and memory; with -kind bandwidth (type 4) the CPU cores, the memory,
  -disk-gb and -bandwidth-mbps. It pings the node every -ping-every (the
  node closes a connection silent for 30 s); a node that does not answer
  a ping within -ping-every (no pong for about twice -ping-every: stopped,
  hung, or cut off) is left at once for the next -url.

  Facts come from the machine: /proc/cpuinfo (model name, cpu MHz,
  processors; MHz from cpufreq where cpuinfo has none), /proc/meminfo
  (MemTotal), and "nvidia-smi --query-gpu=name,memory.total
  --format=csv,noheader,nounits" when nvidia-smi is on the PATH. Memory is
  reported in GB (GiB, rounded). A flag overrides any fact.

  When the connection fails or the node goes away (restart, drain, network)
  the agent reconnects by itself, to the next -url in turn, after an
  exponential backoff with jitter from -min-backoff up to -max-backoff,
  reset once online again. It runs until SIGINT or SIGTERM.

FLAGS
`

const usageTail = `
ENVIRONMENT
  Every flag can be set in the environment as DDN_AGENT_<FLAG>, upper case
  with - as _; a flag on the command line wins:
%s
EXAMPLES
  # a GPU machine, facts read from the machine
  ddn-agent -url ddn.example.com:9521 -machine-id 123456789 -wallet 0xYourWallet

  # a bandwidth-mining machine behind two nodes, from the environment
  DDN_AGENT_URL=wss://ddn-a.example.com,wss://ddn-b.example.com \
  DDN_AGENT_MACHINE_ID=bw-001 DDN_AGENT_KIND=bandwidth \
  DDN_AGENT_DISK_GB=500 DDN_AGENT_BANDWIDTH_MBPS=100 \
  DDN_AGENT_WALLET=0xYourWallet ddn-agent

  # check what would be reported
  ddn-agent -facts -kind shortterm

EXIT STATUS
  0  stopped by SIGINT or SIGTERM (or -facts, -version, -help)
  1  the machine's facts could not be read
  2  bad flags or environment, or a fact the kind needs is missing
`

// urlList is a repeatable, comma-separated -url flag.
type urlList []string

func (u *urlList) String() string { return strings.Join(*u, ",") }

func (u *urlList) Set(v string) error {
	*u = (*u)[:0]
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*u = append(*u, agent.NodeURL(s))
		}
	}
	return nil
}

// options are the agent's flags.
type options struct {
	URLs                    urlList
	MachineID, Project      string
	ContainerID, Wallet     string
	StakingType             int
	Kind                    string
	Interval, PingEvery     time.Duration
	MinBackoff, MaxBackoff  time.Duration
	DiskGB                  int64
	BandwidthMbps           int
	CPUType                 string
	CPUMHz, CPUCores, MemGB int64
	GPUs, NvidiaSMI         string
	LogLevel                string
	Facts, Version          bool
}

// newFlags declares every flag of ddn-agent into o.
func newFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("ddn-agent", flag.ContinueOnError)
	fs.Var(&o.URLs, "url", "node `address`es, tried in turn: host:port, http(s)://host:port or ws(s)://host:port/websocket")
	fs.StringVar(&o.MachineID, "machine-id", "", "the machine's `id` (required)")
	fs.StringVar(&o.Project, "project", "deeplink", "the machine's `project`")
	fs.StringVar(&o.ContainerID, "container-id", "", "the machine's container `id`, if any")
	fs.IntVar(&o.StakingType, "staking-type", 0, "staking `type`: 0 short-term, 1 long-term, 2 free")
	fs.StringVar(&o.Wallet, "wallet", "", "the owner's wallet `address` (required to report)")
	fs.StringVar(&o.Kind, "kind", "shortterm", "report `kind`: shortterm (type 2, GPU machine) or bandwidth (type 4)")
	fs.DurationVar(&o.Interval, "interval", time.Minute, "report `interval`")
	fs.DurationVar(&o.PingEvery, "ping-every", 10*time.Second, "heartbeat (WebSocket ping) `interval`; keep it well under the node's 30 s. A ping unanswered within it drops the node")
	fs.DurationVar(&o.MinBackoff, "min-backoff", time.Second, "first wait before reconnecting (`duration`)")
	fs.DurationVar(&o.MaxBackoff, "max-backoff", time.Minute, "longest wait before reconnecting (`duration`)")
	fs.Int64Var(&o.DiskGB, "disk-gb", 0, "disk offered, in `GB` (bandwidth kind, required there)")
	fs.IntVar(&o.BandwidthMbps, "bandwidth-mbps", 0, "bandwidth offered, in whole `Mbps` (bandwidth kind, required there)")
	fs.StringVar(&o.CPUType, "cpu-type", "", "CPU `model` (default: from /proc/cpuinfo)")
	fs.Int64Var(&o.CPUMHz, "cpu-mhz", 0, "CPU frequency in `MHz` (default: from /proc/cpuinfo or cpufreq)")
	fs.Int64Var(&o.CPUCores, "cpu-cores", 0, "logical CPU `cores` (default: from /proc/cpuinfo)")
	fs.Int64Var(&o.MemGB, "memory-gb", 0, "memory in `GB` (default: MemTotal of /proc/meminfo)")
	fs.StringVar(&o.GPUs, "gpus", "", "GPUs as `NAME:MIB,NAME:MIB`, memory in MiB as nvidia-smi prints it (default: from nvidia-smi)")
	fs.StringVar(&o.NvidiaSMI, "nvidia-smi", "nvidia-smi", "nvidia-smi `command`; empty: do not look for GPUs")
	fs.StringVar(&o.LogLevel, "log-level", "info", "`level`: debug, info, warn, error")
	fs.BoolVar(&o.Facts, "facts", false, "print the machine's facts and the report they make as JSON, and exit")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	return fs
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "DDN_AGENT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, defaultSources)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, src factSources) int {
	var o options
	fs := newFlags(&o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stdout)
			return 0
		}
		fmt.Fprintf(stderr, "ddn-agent: %v (see ddn-agent -help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ddn-agent: unexpected argument %q (see ddn-agent -help)\n", fs.Arg(0))
		return 2
	}
	if err := applyEnv(fs, getenv); err != nil {
		fmt.Fprintf(stderr, "ddn-agent: %v\n", err)
		return 2
	}
	if o.Version {
		fmt.Fprintln(stdout, version)
		return 0
	}
	src.NvidiaSMI = o.NvidiaSMI
	f, err := collectFacts(ctx, src)
	if err != nil {
		fmt.Fprintf(stderr, "ddn-agent: %v\n", err)
		return 1
	}
	if err := o.override(&f); err != nil {
		fmt.Fprintf(stderr, "ddn-agent: %v\n", err)
		return 2
	}
	if o.Facts {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"facts": f, "kind": o.Kind, "report": o.report(f)})
		return 0
	}
	if err := o.validate(f); err != nil {
		fmt.Fprintf(stderr, "ddn-agent: %v\n", err)
		return 2
	}
	log, err := newLogger(o.LogLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ddn-agent: -log-level: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	keepOnline(ctx, o, f, log)
	return 0
}

func printUsage(fs *flag.FlagSet, w io.Writer) {
	fs.SetOutput(w)
	fmt.Fprint(w, usage)
	fs.PrintDefaults()
	var env strings.Builder
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(&env, "    %-28s -%s\n", envName(f.Name), f.Name) })
	fmt.Fprintf(w, usageTail, env.String())
}

// applyEnv sets each flag not given on the command line from its
// DDN_AGENT_* variable.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// override replaces collected facts with the ones given as flags.
func (o options) override(f *facts) error {
	if o.CPUType != "" {
		f.CPUType = o.CPUType
	}
	if o.CPUMHz > 0 {
		f.CPUMHz = o.CPUMHz
	}
	if o.CPUCores > 0 {
		f.CPUCores = o.CPUCores
	}
	if o.MemGB > 0 {
		f.MemoryGB = o.MemGB
	}
	if o.GPUs != "" {
		names, mem, err := parseGPUFlag(o.GPUs)
		if err != nil {
			return fmt.Errorf("-gpus: %w", err)
		}
		f.GPUNames, f.GPUMemoryMiB = names, mem
	}
	return nil
}

// validate refuses what the node would refuse, naming the flag to set.
func (o options) validate(f facts) error {
	switch {
	case len(o.URLs) == 0:
		return errors.New("-url (DDN_AGENT_URL): at least one node address is required")
	case o.MachineID == "":
		return errors.New("-machine-id (DDN_AGENT_MACHINE_ID) is required")
	case o.Project == "":
		return errors.New("-project (DDN_AGENT_PROJECT) must not be empty")
	case o.Wallet == "":
		return errors.New("-wallet (DDN_AGENT_WALLET) is required")
	case o.StakingType < 0 || o.StakingType > 2:
		return fmt.Errorf("-staking-type: %d is not 0, 1 or 2", o.StakingType)
	case o.Interval <= 0 || o.PingEvery <= 0:
		return errors.New("-interval and -ping-every must be positive")
	case o.MinBackoff <= 0 || o.MaxBackoff < o.MinBackoff:
		return errors.New("-min-backoff must be positive and at most -max-backoff")
	case f.MemoryGB <= 0:
		return errors.New("memory unknown: set -memory-gb")
	}
	switch o.Kind {
	case "shortterm":
		switch {
		case f.CPUType == "":
			return errors.New("CPU model unknown: set -cpu-type")
		case f.CPUMHz <= 0:
			return errors.New("CPU frequency unknown: set -cpu-mhz")
		case len(f.GPUNames) == 0:
			return errors.New("no GPU found (nvidia-smi absent or silent): set -gpus, or use -kind bandwidth")
		}
	case "bandwidth":
		switch {
		case f.CPUCores <= 0:
			return errors.New("CPU cores unknown: set -cpu-cores")
		case o.DiskGB <= 0:
			return errors.New("-disk-gb (DDN_AGENT_DISK_GB) is required with -kind bandwidth")
		case o.BandwidthMbps <= 0:
			return errors.New("-bandwidth-mbps (DDN_AGENT_BANDWIDTH_MBPS) is required with -kind bandwidth")
		}
	default:
		return fmt.Errorf("-kind: %q is neither shortterm nor bandwidth", o.Kind)
	}
	return nil
}

// report is the body the agent sends for its kind.
func (o options) report(f facts) any {
	if o.Kind == "bandwidth" {
		return agent.BandwidthInfo{CPUCores: int32(f.CPUCores), MemoryTotal: f.MemoryGB, HDD: o.DiskGB, Bandwidth: int32(o.BandwidthMbps), Wallet: o.Wallet}
	}
	mem := make([]int32, len(f.GPUMemoryMiB))
	for i, m := range f.GPUMemoryMiB {
		mem[i] = int32(m)
	}
	return agent.ShortTermInfo{CPUType: f.CPUType, CPURate: int32(f.CPUMHz), GPUNames: f.GPUNames, GPUMemoryTotal: mem, MemoryTotal: f.MemoryGB, Wallet: o.Wallet}
}

// keepOnline runs the agent until ctx ends.
func keepOnline(ctx context.Context, o options, f facts, log *zap.Logger) {
	body := o.report(f)
	first := true
	cfg := agent.Config{
		URLs: o.URLs,
		Machine: agent.Machine{MachineID: o.MachineID, Project: o.Project, ContainerID: o.ContainerID,
			StakingType: int64(o.StakingType)},
		ReportEvery: o.Interval, PingEvery: o.PingEvery,
		MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff,
		Report: func(ctx context.Context, c *agent.Conn) error {
			var err error
			switch b := body.(type) {
			case agent.BandwidthInfo:
				err = c.ReportBandwidth(ctx, b)
			case agent.ShortTermInfo:
				err = c.ReportShortTerm(ctx, b)
			}
			if err != nil {
				return err
			}
			if first {
				log.Info("report stored", zap.String("kind", o.Kind))
				first = false
			} else {
				log.Debug("report stored", zap.String("kind", o.Kind))
			}
			return nil
		},
		OnOnline: func(url string) {
			first = true
			log.Info("online", zap.String("node", url), zap.String("machine_id", o.MachineID), zap.String("project", o.Project))
		},
		OnError: func(err error) { log.Warn("connection lost; reconnecting", zap.Error(err)) },
		OnNotify: func(b []byte) {
			log.Warn("notify from the node", zap.ByteString("body", b))
		},
		OnInfoRequest: func(url string) {
			log.Info("the node asked for the machine info (type 5); sending it again", zap.String("node", url))
		},
	}
	log.Info("starting ddn-agent", zap.String("version", version), zap.Strings("nodes", o.URLs), zap.String("kind", o.Kind),
		zap.Duration("interval", o.Interval), zap.Any("facts", f))
	_ = agent.Run(ctx, cfg)
	log.Info("stopped")
}

// newLogger writes human-readable lines to stderr: an agent's log is read
// by the machine's operator.
func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lvl)), nil
}
