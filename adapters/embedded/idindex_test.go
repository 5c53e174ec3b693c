package embedded_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/adapters/embedded"
)

// TestIndexIDsMakesWritesByIDLookups: after IndexIDs, SQLite plans the
// statements FerretDB runs for a filter on _id with the index, and the
// store still answers through the Mongo protocol as before.
func TestIndexIDsMakesWritesByIDLookups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	client, err := driver.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	coll := client.Database("idx").Collection("machine_info")
	docs := make([]any, 50)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "n", Value: i}}
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	file := "file:" + filepath.Join(dir, "idx.sqlite") + "?_pragma=busy_timeout(10000)"
	// plan explains, on a connection of its own (a connection's prepared
	// plans follow the schema it read), the update FerretDB runs by _id.
	plan := func() string {
		t.Helper()
		db, err := sql.Open("sqlite", file)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		var table string
		if err := db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = 'machine_info'`).Scan(&table); err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN UPDATE "`+table+`" SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`, "{}", "x")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	// Start indexed the database that did not exist yet: nothing. Now it
	// scans; after IndexIDs (twice: idempotent) it looks up.
	if p := plan(); !strings.Contains(p, "SCAN") {
		t.Fatalf("before IndexIDs the plan is %q, want a scan (has FerretDB started indexing this expression itself?)", p)
	}
	for range 2 {
		if err := srv.IndexIDs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p := plan(); !strings.Contains(p, "USING INDEX") || strings.Contains(p, "SCAN") {
		t.Fatalf("after IndexIDs the plan is %q, want an index lookup", p)
	}

	id := docs[7].(bson.D)[0].Value
	res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seen", Value: true}}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("update by _id: %+v, %v", res, err)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&got); err != nil || got["seen"] != true || got["n"] != int32(7) {
		t.Fatalf("find by _id: %v, %v", got, err)
	}
	// machine_tm, only ever appended to, gets no such index.
	if _, err := client.Database("idx").Collection("machine_tm").InsertOne(ctx, bson.D{{Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.IndexIDs(ctx); err != nil {
		t.Fatal(err)
	}
	check, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = check.Close() }()
	var extra int
	if err := check.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master m JOIN _ferretdb_collections c ON m.tbl_name = c.table_name
		WHERE m.type = 'index' AND m.name LIKE '%_ddn_id_expr' AND c.name = 'machine_tm'`).Scan(&extra); err != nil || extra != 0 {
		t.Fatalf("machine_tm got %d _id expression indexes (%v), want none", extra, err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 50 {
		t.Fatalf("count: %d, %v", n, err)
	}
}
