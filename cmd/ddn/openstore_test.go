package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
	// The SQLite driver of the embedded store, to read its files.
	_ "modernc.org/sqlite"

	"ddn/config"
)

// TestOpenStoreIndexesTheEmbeddedCollections: on a fresh data directory,
// every collection ddn writes by _id has its SQLite index once openStore
// returns, not only at the indexer's next pass (a storm of first onlines
// right after the start would scan on every write).
func TestOpenStoreIndexesTheEmbeddedCollections(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("DDN_DATADIR", dir)
	t.Setenv("DDN_MONGODB_URI", "")
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	_, closeStore, err := openStore(context.Background(), cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, cfg.MongoDB.Database+".sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query(`SELECT c.name, (SELECT count(*) FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || '_ddn_id_expr')
		FROM _ferretdb_collections c`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	seen := map[string]bool{}
	for rows.Next() {
		var name string
		var indexed int
		if err := rows.Scan(&name, &indexed); err != nil {
			t.Fatal(err)
		}
		seen[name] = true
		if want := name != "machine_tm"; (indexed == 1) != want {
			t.Errorf("collection %s: indexed by _id = %v, want %v", name, indexed == 1, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"machine_info", "machine_connection", "nodes", "outbox", "outbox_claims", "node_commands", "presence_history", "machine_tm"} {
		if !seen[name] {
			t.Errorf("collection %s not created at open", name)
		}
	}
}
