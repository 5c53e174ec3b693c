package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"

	"ddn/adapters/embedded"
	"ddn/config"
	"ddn/internal/heapfloor"
)

const storeUsage = `NAME
  ddn store - serve the embedded store for several local nodes

SYNOPSIS
  ddn store [-addr 127.0.0.1:27017] [-dir ./ddn-data] [-min-heap-bytes N]
  ddn store duplicates [-config FILE]          (ddn store duplicates -help)
  ddn store merge [-config FILE] [-dry-run]

DESCRIPTION
  Runs the embedded Mongo-compatible store (FerretDB on SQLite, pure Go) on
  its own, so that several ddn processes on this machine share it as one
  cluster: start each node with DDN_MONGODB_URI=mongodb://ADDR/ and its own
  DDN_ADDR and DDN_NODEID. For trials only: in production the nodes share a
  MongoDB 7 replica set. Stops on SIGINT or SIGTERM.

  duplicates and merge list and merge the machine keys a database of the
  original node holds twice (see docs/migrating.md).

FLAGS
`

const storeUsageTail = `
ENVIRONMENT
  None: everything is a flag.

EXAMPLES
  ddn store -addr 127.0.0.1:27017 -dir ./cluster-data &
  DDN_MONGODB_URI=mongodb://127.0.0.1:27017/ DDN_ADDR=127.0.0.1:9521 DDN_NODEID=node-1 ddn &
  DDN_MONGODB_URI=mongodb://127.0.0.1:27017/ DDN_ADDR=127.0.0.1:9522 DDN_NODEID=node-2 ddn &

EXIT STATUS
  0  stopped by SIGINT or SIGTERM (or -help)
  1  the store could not start (directory, address in use)
  2  bad flags
`

// storeFlags declares the flags of ddn store.
func storeFlags(addr, dir *string, minHeap *uint64) *flag.FlagSet {
	fs := flag.NewFlagSet("ddn store", flag.ContinueOnError)
	fs.StringVar(addr, "addr", "127.0.0.1:27017", "loopback `address` to serve the Mongo wire protocol on")
	fs.StringVar(dir, "dir", "./ddn-data", "`directory` of the SQLite files")
	fs.Uint64Var(minHeap, "min-heap-bytes", config.DefaultMinHeapBytes, "heap `size` below which the garbage collector starts no cycle, as the node's MinHeapBytes (0: GOGC alone)")
	return fs
}

// runStore serves the embedded store until ctx ends, or runs one of its
// tools (duplicates, merge).
func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "duplicates" || args[0] == "merge") {
		return runStoreTool(ctx, args[0], args[1:], stdout, stderr)
	}
	addr, dir, minHeap := new(string), new(string), new(uint64)
	fs := storeFlags(addr, dir, minHeap)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		w := stderr
		code := 2
		if errors.Is(err, flag.ErrHelp) {
			w, code = stdout, 0
		}
		fs.SetOutput(w)
		fmt.Fprint(w, storeUsage)
		fs.PrintDefaults()
		fmt.Fprint(w, storeUsageTail)
		return code
	}
	log, closeLog, err := newLogger("info", "", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ddn store: %v\n", err)
		return 1
	}
	defer closeLog()
	defer heapfloor.Keep(*minHeap)()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: *dir, Addr: *addr, Logger: log.Named("embedded")})
	if err != nil {
		fmt.Fprintf(stderr, "ddn store: %v\n", err)
		return 1
	}
	log.Info("embedded store serving", zap.String("uri", srv.URI()), zap.String("dir", *dir))
	<-ctx.Done()
	_ = srv.Close()
	log.Info("embedded store stopped")
	return 0
}
