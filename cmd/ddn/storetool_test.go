package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/adapters/embedded"
)

// ddn store duplicates lists the keys the original stored twice, ddn store
// merge -dry-run changes nothing, ddn store merge settles them and builds
// the unique index, after which there is nothing to list.
func TestStoreDuplicatesAndMerge(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	seedOriginalDatabase(t, dataDir, time.Now().Add(-time.Hour))
	t.Setenv("DDN_DATADIR", dataDir)
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := runStore(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("ddn store %v exited %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	if out := run("duplicates"); !strings.Contains(out, "machine_info\tDeepLinkEVM/dup\t2 documents") || !strings.Contains(out, "1 machine keys held more than once") {
		t.Fatalf("duplicates = %q", out)
	}
	if out := run("merge", "-dry-run"); !strings.Contains(out, "would merge 1 machine keys, removing 1 documents") {
		t.Fatalf("merge -dry-run = %q", out)
	}
	if out := run("merge"); !strings.Contains(out, "merged 1 machine keys, removing 1 documents; unique indexes in place") {
		t.Fatalf("merge = %q", out)
	}
	if out := run("duplicates"); !strings.Contains(out, "0 machine keys held more than once") {
		t.Fatalf("duplicates after merge = %q", out)
	}
	// The unique index holds: a second document of the key is refused.
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	c, err := driver.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(ctx) }()
	_, err = c.Database("health_monitoring").Collection("machine_info").InsertOne(ctx,
		bson.D{{Key: "machine_id", Value: "dup"}, {Key: "project", Value: "DeepLinkEVM"}, {Key: "container_id", Value: ""}})
	if !driver.IsDuplicateKeyError(err) {
		t.Fatalf("insert of a second dup: %v, want a duplicate key error", err)
	}
}
