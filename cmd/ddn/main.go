// Command ddn runs a Distributed Detection Node: machines keep a WebSocket
// open to it, it stores what they report and tells who needs to know when
// they come and go. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `NAME
  ddn - Distributed Detection Node: machines online, their reports, the fleet

SYNOPSIS
  ddn [-config FILE]       run the node
  ddn store [flags]        serve the embedded store for several local nodes
  ddn store duplicates|merge [-config FILE]
                           list or merge machine keys stored twice (original databases)
  ddn healthcheck [flags]  exit 0 when the local node answers /healthz
  ddn -version | -help

DESCRIPTION
  Machines keep a WebSocket open to the node; an open, heart-beating
  connection is what online means. The node stores what they report,
  keeps every machine's presence, and exposes the fleet to Prometheus.
  Several nodes over one database behave as one cluster.

  Without -config the node starts on its embedded default: an embedded
  Mongo-compatible store under ./ddn-data, listening on 0.0.0.0:9521, no
  chain, no geolocation, no webhook. A bad configuration stops startup with
  one line naming the key.

  Endpoints on Addr:
    GET /websocket            machine agents (PROTOCOL.md)
    GET /healthz, /readyz     liveness, readiness (store reachable)
    GET /metrics/prometheus   fleet metrics; GET /metrics: the node's own
    GET /api/openapi.json     the whole HTTP API: query, management, cluster

  SIGINT or SIGTERM drains (connections closed with 1001, machines marked
  disconnected, writes flushed) within ShutdownTimeout, then exits.

  Sub-commands have their own help: ddn store -help, ddn healthcheck -help.

FLAGS
`

const usageTail = `
ENVIRONMENT
  Every configuration key can be set as DDN_<SECTION>_<KEY> in upper case
  and wins over the file: DDN_ADDR, DDN_LOGLEVEL, DDN_NODEID, DDN_DATADIR,
  DDN_MONGODB_URI, DDN_MONGODB_DATABASE, DDN_ADMIN_TOKEN, ... (README.md,
  "Configuration", lists every key). Secrets are redacted in logs.

EXAMPLES
  ddn                                            # embedded store, :9521
  ddn -config /etc/ddn/config.json               # the original node's file
  DDN_MONGODB_URI=mongodb://127.0.0.1:27017/ DDN_ADDR=127.0.0.1:9521 ddn
  DDN_MONGODB_URI=memory:// ddn                  # nothing persists (benchmarks)

EXIT STATUS
  0  drained and stopped after SIGINT or SIGTERM (or -version, -help)
  1  startup failed (configuration, store, listener) or the server failed
  2  bad flags
`

// nodeFlags declares the flags of ddn itself.
func nodeFlags(configPath *string, showVersion *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("ddn", flag.ContinueOnError)
	fs.StringVar(configPath, "config", "", "JSON configuration `file` (the original node's format works unchanged)")
	fs.BoolVar(showVersion, "version", false, "print the version and exit")
	return fs
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "store" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runStore(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return runHealthcheck(context.Background(), args[1:], stdout, stderr)
	}
	configPath, showVersion := new(string), new(bool)
	fs := nodeFlags(configPath, showVersion)
	fs.SetOutput(stderr)
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
		fmt.Fprint(w, usageTail)
	}
	fs.Usage = func() {} // printed below, to stdout for -help and stderr for mistakes
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		printUsage(stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ddn: unexpected argument %q (see ddn -help)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *configPath, stderr); err != nil {
		fmt.Fprintf(stderr, "ddn: %v\n", err)
		return 1
	}
	return 0
}
