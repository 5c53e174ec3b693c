package main

import (
	"context"
	"ddn/ports"
	"errors"
	"flag"
	"fmt"
	"io"

	"ddn/adapters/mongo"
	"ddn/config"
)

const storeToolUsage = `NAME
  ddn store duplicates | merge - machine keys the original node stored twice

SYNOPSIS
  ddn store duplicates [-config FILE]
  ddn store merge [-config FILE] [-dry-run]

DESCRIPTION
  The original node's machine_info and machine_connection had no unique
  index, so its database may hold a machine twice. ddn starts on such a
  database (it logs the keys and serves without the unique index) but a
  machine held twice is read and written inconsistently until it is merged.

  duplicates lists every key held by more than one document.

  merge makes each of them one document: in machine_info the most recently
  active document is kept and completed with the others' fields (the
  earliest register_time, the latest last_* times, a scored deeplink_st
  first); in machine_connection the newest claim is kept. Then it builds the
  unique indexes. Run it while no node writes to the database (stop the
  nodes, or at least make sure the machines concerned are not connected).

  The store is the one the configuration names (MongoDB.URI, or the
  embedded store under DataDir), as for the node itself.

FLAGS
`

const storeToolUsageTail = `
ENVIRONMENT
  The node's: DDN_MONGODB_URI, DDN_MONGODB_DATABASE, DDN_DATADIR, ...
  override the file, as for ddn itself.

EXAMPLES
  ddn store duplicates -config /etc/ddn/config.json
  ddn store merge -config /etc/ddn/config.json -dry-run
  DDN_MONGODB_URI=mongodb://127.0.0.1:27017/ ddn store merge

EXIT STATUS
  0  listed, or merged with the unique indexes in place (or -help)
  1  the store could not be opened, read or written
  2  bad flags
`

// storeToolFlags declares the flags of ddn store duplicates and ddn store merge.
func storeToolFlags(cmd string, configPath *string, dryRun *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("ddn store "+cmd, flag.ContinueOnError)
	fs.StringVar(configPath, "config", "", "JSON configuration `file` naming the store (as for the node)")
	if cmd == "merge" {
		fs.BoolVar(dryRun, "dry-run", false, "say what would be merged, change nothing")
	}
	return fs
}

// runStoreTool runs `ddn store duplicates` and `ddn store merge`.
func runStoreTool(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	configPath, dryRun := new(string), false
	fs := storeToolFlags(cmd, configPath, &dryRun)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		w, code := stderr, 2
		if errors.Is(err, flag.ErrHelp) {
			w, code = stdout, 0
		}
		fs.SetOutput(w)
		fmt.Fprint(w, storeToolUsage)
		fs.PrintDefaults()
		fmt.Fprint(w, storeToolUsageTail)
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ddn store %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	if err := storeTool(ctx, cmd, *configPath, dryRun, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ddn store %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func storeTool(ctx context.Context, cmd, configPath string, dryRun bool, stdout, stderr io.Writer) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	if cfg.StoreKind() == "memory" {
		return errors.New("MongoDB.URI is memory://: nothing is stored, nothing to merge")
	}
	log, closeLog, err := newLogger("warn", "", stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	store, closeStore, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer closeStore()
	if t, ok := store.(interface{ Unwrap() ports.Store }); ok {
		store = t.Unwrap() // the embedded store's write throttle
	}
	st, ok := store.(*mongo.Store)
	if !ok {
		return fmt.Errorf("store %s holds no duplicates", cfg.StoreKind())
	}
	if cmd == "duplicates" {
		ds, err := st.Duplicates(ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			fmt.Fprintf(stdout, "%s\t%s\t%d documents\t%v\n", d.Collection, d.Key, len(d.IDs), d.IDs)
		}
		fmt.Fprintf(stdout, "%d machine keys held more than once\n", len(ds))
		return nil
	}
	res, err := st.MergeDuplicates(ctx, dryRun)
	if err != nil {
		return err
	}
	verb := "merged"
	if dryRun {
		verb = "would merge"
	}
	fmt.Fprintf(stdout, "%s %d machine keys, removing %d documents", verb, res.Merged, res.Removed)
	if res.Indexed {
		fmt.Fprint(stdout, "; unique indexes in place")
	}
	fmt.Fprintln(stdout)
	return nil
}
