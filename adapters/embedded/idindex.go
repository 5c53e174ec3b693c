package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	// The SQLite driver FerretDB itself uses, to add an index to its files.
	_ "modernc.org/sqlite"

	"ddn/internal/periodic"
)

// idExpr is the expression FerretDB v1's SQLite backend filters _id with
// (query pushdown, update, delete). The _id index FerretDB creates is on
// _ferretdb_sjson->"_id", which SQLite does not match to this expression,
// so without an index of its own every write by _id scans its table.
const idExpr = `_ferretdb_sjson->'$._id'`

// appendOnly names the collections IndexIDs leaves alone: ddn only
// inserts reports into machine_tm and deletes them by time, never one by
// _id, and the index would cost every batch insert (~15 % measured on
// AppendReports256).
var appendOnly = map[string]bool{"machine_tm": true}

// IndexEvery is how often the indexer looks for collections created since
// its last pass.
const IndexEvery = 10 * time.Second

// startIndexer indexes the tables that exist now (a restart finds its
// collections indexed before the first client), then every IndexEvery
// those created since, until ctx ends.
func (s *Server) startIndexer(ctx context.Context) {
	if err := s.IndexIDs(ctx); err != nil {
		s.log.Warn("index _id of the embedded store (writes by _id will scan)", zap.Error(err))
	}
	go func() {
		defer close(s.indexed)
		periodic.Run(ctx, IndexEvery, func(ctx context.Context) {
			if err := s.IndexIDs(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("index _id of the embedded store (writes by _id will scan)", zap.Error(err))
			}
		})
	}()
}

// IndexIDs gives every collection (but appendOnly) of every database of the store an SQLite
// index on idExpr, so that finding, updating or deleting a document by _id
// is a lookup instead of a scan (at 2,000 machines ~0.3 ms instead of ~4 ms
// per write; docs/performance.md). The index is invisible to the Mongo protocol
// (listIndexes does not show it) and goes with its table when the
// collection is dropped. Idempotent.
func (s *Server) IndexIDs(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(s.dir, "*.sqlite"))
	if err != nil {
		return fmt.Errorf("embedded store: list databases: %w", err)
	}
	for _, f := range files {
		if err := indexFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func indexFile(ctx context.Context, file string) (err error) {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("embedded store: open %s: %w", file, err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("embedded store: close %s: %w", file, cerr)
		}
	}()
	rows, err := db.QueryContext(ctx, `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("embedded store: list collections of %s: %w", file, err)
	}
	var tables []string
	for rows.Next() {
		var name, t string
		if err := rows.Scan(&name, &t); err != nil {
			_ = rows.Close()
			return fmt.Errorf("embedded store: list collections of %s: %w", file, err)
		}
		if !appendOnly[name] {
			tables = append(tables, t)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("embedded store: list collections of %s: %w", file, err)
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_ddn_id_expr", t, idExpr)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("embedded store: index _id of %s in %s: %w", t, file, err)
		}
	}
	return nil
}
