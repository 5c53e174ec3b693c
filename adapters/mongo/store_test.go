package mongo_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/adapters/embedded"
	"ddn/adapters/mongo"
	"ddn/domain"
	"ddn/ports"
	"ddn/ports/storetest"
)

// embeddedURI is one embedded store shared by the whole test binary; every
// test gets a database of its own.
var embeddedURI string

// embeddedSrv is that store, for benchmarks that index it (IndexIDs) after
// seeding, as its indexer does every few seconds in a node.
var embeddedSrv *embedded.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ddn-mongo-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := embedded.Start(context.Background(), embedded.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	embeddedURI, embeddedSrv = srv.URI(), srv
	code := m.Run()
	_ = srv.Close()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var dbSeq atomic.Int64

func freshDatabase() string { return fmt.Sprintf("ddn_test_%d_%d", os.Getpid(), dbSeq.Add(1)) }

func open(t *testing.T, uri, db string) *mongo.Store {
	t.Helper()
	ctx := context.Background()
	s, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: db, ExpireAfter: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctx) })
	return s
}

type storeUnderTest = mongo.Store

func openB(b *testing.B) *mongo.Store {
	b.Helper()
	ctx := context.Background()
	s, err := mongo.Open(ctx, mongo.Options{URI: embeddedURI, Database: freshDatabase()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(ctx) })
	return s
}

func connection(k domain.MachineKey, id string) domain.Connection {
	return domain.Connection{Key: k, NodeID: "n1", ConnID: id, AddTime: time.Now()}
}

func TestContractOnEmbeddedStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ports.Store { return open(t, embeddedURI, freshDatabase()) })
}

func TestContractOnMongoDB(t *testing.T) {
	uri := os.Getenv("DDN_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("DDN_TEST_MONGODB_URI is not set: no real MongoDB to test against")
	}
	storetest.Run(t, func(t *testing.T) ports.Store {
		db := freshDatabase()
		s := open(t, uri, db)
		if !s.TimeSeries() {
			t.Error("MongoDB 7 must get a time-series machine_tm")
		}
		t.Cleanup(func() { dropDatabase(t, uri, db) })
		return s
	})
}

// TestContractOnMongoDBWithCachedIDs runs the contract on MongoDB with the
// _id cache the embedded store turns on, so both paths meet a real server.
func TestContractOnMongoDBWithCachedIDs(t *testing.T) {
	uri := os.Getenv("DDN_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("DDN_TEST_MONGODB_URI is not set: no real MongoDB to test against")
	}
	storetest.Run(t, func(t *testing.T) ports.Store {
		db := freshDatabase()
		ctx := context.Background()
		s, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: db, ExpireAfter: 24 * time.Hour, CacheMachineIDs: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(ctx); dropDatabase(t, uri, db) })
		return s
	})
}

func rawDatabase(t *testing.T, uri, db string) *driver.Database {
	t.Helper()
	c, err := driver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(db)
}

func dropDatabase(t *testing.T, uri, db string) {
	if err := rawDatabase(t, uri, db).Drop(context.Background()); err != nil {
		t.Logf("drop %s: %v", db, err)
	}
}

// indexesOf lists a collection's indexes as "name unique?" lines.
func indexesOf(t *testing.T, raw *driver.Database, coll string) []string {
	t.Helper()
	ctx := context.Background()
	cur, err := raw.Collection(coll).Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []struct {
		Name   string `bson:"name"`
		Unique bool   `bson:"unique"`
	}
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ix := range idx {
		out = append(out, fmt.Sprintf("%s unique=%v", ix.Name, ix.Unique))
	}
	slices.Sort(out)
	return out
}

// TestEmbeddedStoreKeepsOnlyConstraints: the embedded engine reads no
// index but the one on _id, so the store makes only those that are
// constraints (unique keys) there, and drops the others an older ddn made.
func TestEmbeddedStoreKeepsOnlyConstraints(t *testing.T) {
	ctx := context.Background()
	db := freshDatabase()
	raw := rawDatabase(t, embeddedURI, db)
	// What an older ddn left: the non-unique indexes it used to make.
	old := map[string]bson.D{
		"machine_info":       {{Key: "state", Value: 1}},
		"machine_connection": {{Key: "node_id", Value: 1}},
		"outbox":             {{Key: "status", Value: 1}, {Key: "next_attempt_at", Value: 1}},
		"machine_tm": {{Key: "machine.machine_id", Value: 1}, {Key: "machine.project", Value: 1},
			{Key: "machine.container_id", Value: 1}, {Key: "timestamp", Value: 1}},
	}
	for coll, keys := range old {
		if _, err := raw.Collection(coll).Indexes().CreateOne(ctx, driver.IndexModel{Keys: keys}); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, embeddedURI, db)
	if s.TimeSeries() {
		t.Fatal("the embedded store cannot hold time series; want the plain fallback")
	}
	want := map[string][]string{
		"machine_info":       {"_id_ unique=false", "machine_id_1_project_1_container_id_1 unique=true"},
		"machine_connection": {"_id_ unique=false", "machine_id_1_project_1_container_id_1 unique=true"},
		"outbox":             {"_id_ unique=false"},
		"machine_tm":         {"_id_ unique=false"},
	}
	for coll, w := range want {
		if got := indexesOf(t, raw, coll); !slices.Equal(got, w) {
			t.Errorf("%s indexes = %v, want %v", coll, got, w)
		}
	}
	open(t, embeddedURI, db) // opening an existing database again is fine
}

// TestReadsOriginalNodeDocuments seeds documents exactly as the original node
// wrote them (int32 numbers, none of ddn's added fields) and reads them back.
func TestReadsOriginalNodeDocuments(t *testing.T) {
	ctx := context.Background()
	db := freshDatabase()
	raw := rawDatabase(t, embeddedURI, db)
	reg := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	off := time.Date(2025, 3, 2, 9, 30, 0, 0, time.UTC)
	seed := func(coll string, docs ...any) {
		if _, err := raw.Collection(coll).InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	seed("machine_info",
		bson.D{{Key: "machine_id", Value: "gpu-1"}, {Key: "project", Value: "deeplink"}, {Key: "container_id", Value: ""},
			{Key: "stakingtype", Value: int32(1)}, {Key: "register_time", Value: reg}, {Key: "last_offline_time", Value: off},
			{Key: "deeplink_st", Value: bson.D{{Key: "gpu_names", Value: bson.A{"NVIDIA GeForce RTX 3080"}},
				{Key: "gpu_memory_total", Value: bson.A{int32(10)}}, {Key: "memory_total", Value: int64(32)},
				{Key: "cpu_type", Value: "Intel(R) Xeon(R) CPU"}, {Key: "cpu_rate", Value: int32(3000)}, {Key: "wallet", Value: "0x1"},
				{Key: "client_ip", Value: "203.0.113.1"}, {Key: "calc_point", Value: 531.5}}}},
		bson.D{{Key: "machine_id", Value: "bw-1"}, {Key: "project", Value: "deeplink_bw"}, {Key: "container_id", Value: "c9"},
			{Key: "stakingtype", Value: int32(0)}, {Key: "register_time", Value: reg},
			{Key: "deeplink_bw", Value: bson.D{{Key: "cpu_cores", Value: int32(2)}, {Key: "memory_total", Value: int32(4)},
				{Key: "hdd", Value: int32(100)}, {Key: "bandwidth", Value: int32(20)}, {Key: "wallet", Value: "0x2"},
				{Key: "client_ip", Value: "198.51.100.1"}, {Key: "region", Value: "Texas"}}}},
	)
	seed("machine_connection", bson.D{{Key: "machine_id", Value: "gpu-1"}, {Key: "project", Value: "deeplink"},
		{Key: "container_id", Value: ""}, {Key: "add_time", Value: off}})
	seed("machine_tm", bson.D{{Key: "timestamp", Value: off},
		{Key: "machine", Value: bson.D{{Key: "machine_id", Value: "gpu-1"}, {Key: "project", Value: "deeplink"}, {Key: "container_id", Value: ""}}},
		{Key: "deeplink_st", Value: bson.D{{Key: "gpu_names", Value: bson.A{"NVIDIA GeForce RTX 3080"}},
			{Key: "gpu_memory_total", Value: bson.A{int32(10)}}, {Key: "memory_total", Value: int32(32)},
			{Key: "cpu_type", Value: "Intel(R) Xeon(R) CPU"}, {Key: "cpu_rate", Value: int32(3000)}, {Key: "wallet", Value: "0x1"}}}})

	s := open(t, embeddedURI, db) // ddn starts on the existing database
	gpuKey := domain.MachineKey{MachineID: "gpu-1", Project: "deeplink"}
	m, err := s.GetMachine(ctx, gpuKey)
	if err != nil {
		t.Fatal(err)
	}
	if m.StakingType != domain.StakingLongTerm || !m.RegisterTime.Equal(reg) || !m.LastOfflineTime.Equal(off) ||
		m.State != domain.StateUnknown || !m.LastOnlineTime.IsZero() || !m.LastReportTime.IsZero() || m.Bandwidth != nil {
		t.Fatalf("machine = %+v", m)
	}
	st := m.ShortTerm
	if st == nil || st.GPUNames[0] != "NVIDIA GeForce RTX 3080" || st.GPUMemoryTotal[0] != 10 || st.MemoryTotal != 32 ||
		st.CPURate != 3000 || st.Wallet != "0x1" || st.ClientIP != "203.0.113.1" || st.CalcPoint != 531.5 {
		t.Fatalf("deeplink_st = %+v", st)
	}
	ms, err := s.ListMachines(ctx, domain.MachineFilter{Project: "deeplink_bw"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Key.ContainerID != "c9" || ms[0].Bandwidth == nil ||
		*ms[0].Bandwidth != (domain.BandwidthInfo{CPUCores: 2, MemoryTotal: 4, HDD: 100, Bandwidth: 20, Wallet: "0x2", ClientIP: "198.51.100.1", Region: "Texas"}) {
		t.Fatalf("bandwidth machines = %+v", ms)
	}
	c, err := s.GetConnection(ctx, gpuKey)
	if err != nil || !c.AddTime.Equal(off) || c.NodeID != "" || c.ConnID != "" {
		t.Fatalf("connection = %+v, %v", c, err)
	}
	rs, err := s.ListReports(ctx, gpuKey, time.Time{}, time.Time{}, 0)
	if err != nil || len(rs) != 1 || !rs[0].Timestamp.Equal(off) || rs[0].ShortTerm == nil || rs[0].ShortTerm.CPURate != 3000 {
		t.Fatalf("reports = %+v, %v", rs, err)
	}
	// The original's connection document has no node: a ddn node treats it
	// as stale and can take the machine over (see app/session); going
	// online again keeps the original fields.
	if _, _, err := s.MarkOnline(ctx, gpuKey, domain.StakingLongTerm, "n1", off.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err = s.GetMachine(ctx, gpuKey)
	if err != nil || !m.RegisterTime.Equal(reg) || m.ShortTerm == nil || m.ShortTerm.CalcPoint != 531.5 || m.State != domain.StateOnline {
		t.Fatalf("after online on an original document: %+v, %v", m, err)
	}
}

// TestOriginalDatabaseShapes seeds what the original node leaves behind
// besides the fields TestReadsOriginalNodeDocuments reads: the empty
// deeplink_st / deeplink_bw it wrote at registration, its zero times, no
// state, and a machine key held twice (it had no unique index). The store
// opens, an empty subdocument is no info, and the duplicates are listed
// and merged into one document each, after which the unique indexes hold.
func TestOriginalDatabaseShapes(t *testing.T) {
	ctx := context.Background()
	db := freshDatabase()
	raw := rawDatabase(t, embeddedURI, db)
	reg := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	shutdown := time.Date(2025, 3, 5, 9, 0, 0, 0, time.UTC)
	key := func(id string) bson.D {
		return bson.D{{Key: "machine_id", Value: id}, {Key: "project", Value: "DeepLinkEVM"}, {Key: "container_id", Value: ""}}
	}
	docAt := func(id string, disconnect time.Time, extra ...bson.E) bson.D {
		return append(append(key(id), bson.E{Key: "stakingtype", Value: int32(0)}, bson.E{Key: "register_time", Value: reg},
			bson.E{Key: "last_offline_time", Value: time.Time{}}, bson.E{Key: "last_disconnect_time", Value: disconnect}), extra...)
	}
	doc := func(id string, extra ...bson.E) bson.D { return docAt(id, time.Time{}, extra...) }
	scored := bson.D{{Key: "gpu_names", Value: bson.A{"NVIDIA GeForce RTX 4060"}}, {Key: "gpu_memory_total", Value: bson.A{int32(8188)}},
		{Key: "memory_total", Value: int32(16)}, {Key: "cpu_type", Value: "i5"}, {Key: "cpu_rate", Value: int32(2500)},
		{Key: "wallet", Value: "0x1"}, {Key: "calc_point", Value: 83.72}}
	if _, err := raw.Collection("machine_info").InsertMany(ctx, []any{
		doc("fresh", bson.E{Key: "deeplink_st", Value: bson.D{}}, bson.E{Key: "deeplink_bw", Value: bson.D{}}),
		doc("scored", bson.E{Key: "deeplink_st", Value: scored}, bson.E{Key: "deeplink_bw", Value: nil}),
		doc("dup", bson.E{Key: "deeplink_st", Value: bson.D{}}, bson.E{Key: "deeplink_bw", Value: bson.D{}}),
		docAt("dup", shutdown, bson.E{Key: "deeplink_st", Value: scored}, bson.E{Key: "deeplink_bw", Value: nil}),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Collection("machine_connection").InsertMany(ctx, []any{
		append(key("held"), bson.E{Key: "add_time", Value: reg}),
		append(key("held"), bson.E{Key: "add_time", Value: shutdown}),
	}); err != nil {
		t.Fatal(err)
	}

	s := open(t, embeddedURI, db) // starts although two unique indexes cannot be built
	fresh, err := s.GetMachine(ctx, domain.MachineKey{MachineID: "fresh", Project: "DeepLinkEVM"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ShortTerm != nil || fresh.Bandwidth != nil || fresh.State != domain.StateUnknown || !fresh.LastDisconnectTime.IsZero() ||
		!fresh.LastOfflineTime.IsZero() || fresh.Scored() {
		t.Fatalf("machine with empty subdocuments = %+v, want no info and zero times", fresh)
	}
	sc, err := s.GetMachine(ctx, domain.MachineKey{MachineID: "scored", Project: "DeepLinkEVM"})
	if err != nil || !sc.Scored() || sc.Bandwidth != nil || sc.ShortTerm.GPUMemoryTotal[0] != 8188 {
		t.Fatalf("scored machine = %+v, %v", sc, err)
	}
	unclassified, err := s.ListUnclassified(ctx, 0)
	if err != nil || len(unclassified) != 4 {
		t.Fatalf("unclassified = %d, %v; want all 4 documents", len(unclassified), err)
	}

	dups, err := s.Duplicates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dups) != 2 || dups[0].Collection != "machine_info" || dups[0].Key.MachineID != "dup" || len(dups[0].IDs) != 2 ||
		dups[1].Collection != "machine_connection" || dups[1].Key.MachineID != "held" {
		t.Fatalf("duplicates = %+v", dups)
	}
	if res, err := s.MergeDuplicates(ctx, true); err != nil || res.Merged != 2 || res.Removed != 2 || res.Indexed {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if again, _ := s.Duplicates(ctx); len(again) != 2 {
		t.Fatal("a dry run changed the database")
	}
	res, err := s.MergeDuplicates(ctx, false)
	if err != nil || res.Merged != 2 || res.Removed != 2 || !res.Indexed {
		t.Fatalf("merge = %+v, %v", res, err)
	}
	if again, err := s.Duplicates(ctx); err != nil || len(again) != 0 {
		t.Fatalf("after merge: %+v, %v", again, err)
	}
	dup, err := s.GetMachine(ctx, domain.MachineKey{MachineID: "dup", Project: "DeepLinkEVM"})
	if err != nil || !dup.Scored() || !dup.RegisterTime.Equal(reg) || !dup.LastDisconnectTime.Equal(shutdown) {
		t.Fatalf("merged machine = %+v, %v; want the scored info and the latest disconnect", dup, err)
	}
	held, err := s.GetConnection(ctx, domain.MachineKey{MachineID: "held", Project: "DeepLinkEVM"})
	if err != nil || !held.AddTime.Equal(shutdown) {
		t.Fatalf("merged claim = %+v, %v; want the newest", held, err)
	}
	// The unique indexes hold now.
	if _, err := raw.Collection("machine_info").InsertOne(ctx, doc("dup")); !driver.IsDuplicateKeyError(err) {
		t.Fatalf("a second dup after the merge: %v, want a duplicate key error", err)
	}
	if _, err := raw.Collection("machine_connection").InsertOne(ctx, append(key("held"), bson.E{Key: "add_time", Value: reg})); !driver.IsDuplicateKeyError(err) {
		t.Fatalf("a second claim after the merge: %v, want a duplicate key error", err)
	}
	open(t, embeddedURI, db) // and the next start builds nothing new
}

func TestEmbeddedDataSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := domain.MachineKey{MachineID: "m", Project: "p"}
	for round := range 2 {
		srv, err := embedded.Start(ctx, embedded.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		s, err := mongo.Open(ctx, mongo.Options{URI: srv.URI()})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			if _, _, err := s.MarkOnline(ctx, key, 0, "n", time.Now()); err != nil {
				t.Fatal(err)
			}
		} else if m, err := s.GetMachine(ctx, key); err != nil || m.State != domain.StateOnline {
			t.Fatalf("after restart: %+v, %v", m, err)
		}
		_ = s.Close(ctx)
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
