package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"

	"ddn/adapters/embedded"
)

const storeUsage = `ddn store - serve the embedded store for several local nodes

Usage:
  ddn store [-addr 127.0.0.1:27017] [-dir ./ddn-data]

Runs the embedded Mongo-compatible store (FerretDB on SQLite) on its own,
so that several ddn processes on this machine can share it as one cluster:
start each node with DDN_MONGODB_URI=mongodb://ADDR/ and its own DDN_ADDR.
For trials only: in production the nodes share a MongoDB 7 replica set.
Stops on SIGINT or SIGTERM.

Flags:
`

// runStore serves the embedded store until ctx ends.
func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ddn store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:27017", "loopback `address` to serve the Mongo wire protocol on")
	dir := fs.String("dir", "./ddn-data", "`directory` of the SQLite files")
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
		return code
	}
	log, closeLog, err := newLogger("info", "", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ddn store: %v\n", err)
		return 1
	}
	defer closeLog()
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
