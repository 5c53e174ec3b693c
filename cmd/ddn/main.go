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

const usage = `ddn - Distributed Detection Node

Usage:
  ddn [-config FILE]     run the node
  ddn store [flags]      serve the embedded store for several local nodes
                         (ddn store -help)
  ddn -version           print the version and exit
  ddn -help              print this help

Without -config the node starts on its embedded default: an embedded
Mongo-compatible store under ./ddn-data, listening on 0.0.0.0:9521, no chain,
no geolocation, no webhook. Every configuration key can be set in the
environment as DDN_<SECTION>_<KEY>, e.g. DDN_ADDR=127.0.0.1:9521 or
DDN_MONGODB_URI=mongodb://127.0.0.1:27017/.

Endpoints on Addr:
  GET /websocket            machine agents (PROTOCOL.md)
  GET /healthz, /readyz     liveness, readiness (store reachable)
  GET /metrics/prometheus   fleet metrics; GET /metrics: the node's own
  GET /api/openapi.json     the whole HTTP API: query, management, cluster

Signals: SIGINT or SIGTERM drains (connections closed, machines marked
disconnected, writes flushed) within ShutdownTimeout, then exits.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "store" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runStore(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ddn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON configuration `file` (the original node's format works unchanged)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
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
