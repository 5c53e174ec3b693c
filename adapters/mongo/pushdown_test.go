package mongo

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/adapters/embedded"
	"ddn/domain"
)

// writeFilters records the filter of every write command sent to the
// embedded store, by command and collection.
type writeFilters struct {
	mu   sync.Mutex
	seen []writeFilter
}

type writeFilter struct {
	op, coll string
	filter   bson.Raw
}

func (w *writeFilters) started(_ context.Context, e *event.CommandStartedEvent) {
	var add []writeFilter
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	switch e.CommandName {
	case "findAndModify":
		q, _ := e.Command.Lookup("query").DocumentOK()
		add = append(add, writeFilter{e.CommandName, coll, q})
	case "update", "delete":
		arr, _ := e.Command.Lookup(map[string]string{"update": "updates", "delete": "deletes"}[e.CommandName]).ArrayOK()
		vals, _ := arr.Values()
		for _, v := range vals {
			q, _ := v.Document().Lookup("q").DocumentOK()
			add = append(add, writeFilter{e.CommandName, coll, q})
		}
	}
	w.mu.Lock()
	w.seen = append(w.seen, add...)
	w.mu.Unlock()
}

func (w *writeFilters) take() []writeFilter {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// byIDAlone tells whether a filter is {_id: string or ObjectID}: the only
// filter FerretDB v1 on SQLite answers from an index instead of a scan.
func byIDAlone(f bson.Raw) bool {
	elems, err := f.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "_id" {
		return false
	}
	t := elems[0].Value().Type
	return t == bson.TypeString || t == bson.TypeObjectID
}

// TestHotWritesFilterOnIDAlone checks, against the embedded store, that the
// writes of a known machine's online, reports refresh, content change and
// disconnect, and of its connection claim, use filters the store pushes
// down to its index (explain says so), rather than scanning a collection.
func TestHotWritesFilterOnIDAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close(); _ = os.RemoveAll(dir) }()

	first, err := Open(ctx, Options{URI: srv.URI(), Database: "pushdown"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Close(ctx) }()
	if first.ids == nil {
		t.Fatal("the _id cache is off against FerretDB")
	}
	key := domain.MachineKey{MachineID: "m1", Project: "deeplink"}
	other := domain.MachineKey{MachineID: "m2", Project: "deeplink"}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	// other is created by the store that will not write it again: the
	// second store learns its _id from its startup read.
	if _, _, err := first.MarkOnline(ctx, other, 0, "n1", t0); err != nil {
		t.Fatal(err)
	}

	// A second store on the same database whose every write is watched.
	s, err := Open(ctx, Options{URI: srv.URI(), Database: "pushdown"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(ctx) }()
	w := &writeFilters{}
	watched, err := driver.Connect(options.Client().ApplyURI(srv.URI()).SetMonitor(&event.CommandMonitor{Started: w.started}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watched.Disconnect(ctx) }()
	db := watched.Database("pushdown")
	s.machines, s.connections = db.Collection(collMachines), db.Collection(collConnections)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A new machine is an insert (no filter at all); everything after is by _id.
	_, found, err := s.MarkOnline(ctx, key, 0, "n1", t0)
	must(err)
	if found {
		t.Fatal("new machine found")
	}
	if created := w.take(); len(created) != 0 {
		t.Fatalf("creating a new machine filtered: %+v", created)
	}
	c := domain.Connection{Key: key, NodeID: "n1", ConnID: "conn-1", AddTime: t0}
	must(s.InsertConnection(ctx, c))
	if _, found, err = s.MarkOnline(ctx, key, 0, "n1", t0.Add(time.Second)); err != nil || !found {
		t.Fatalf("known machine online: found %v, %v", found, err)
	}
	if _, found, err = s.MarkOnline(ctx, other, 0, "n1", t0.Add(time.Second)); err != nil || !found {
		t.Fatalf("machine known from startup online: found %v, %v", found, err)
	}
	must(s.SetShortTermInfo(ctx, key, domain.ShortTermInfo{CPUType: "x"}, t0.Add(2*time.Second)))
	must(s.SetBandwidthInfo(ctx, key, domain.BandwidthInfo{CPUCores: 2}, t0.Add(2*time.Second)))
	must(s.TouchLastReports(ctx, []domain.MachineKey{key, other}, t0.Add(3*time.Second)))
	deleted, err := s.DeleteConnection(ctx, key, "conn-1")
	must(err)
	if !deleted {
		t.Fatal("claim not deleted")
	}
	must(s.MarkDisconnected(ctx, key, t0.Add(4*time.Second), t0.Add(3*time.Second)))

	hot := w.take()
	if len(hot) != 8 { // the refresh of two machines is two writes
		t.Fatalf("want 8 writes, got %d: %+v", len(hot), hot)
	}
	for _, h := range hot {
		if !byIDAlone(h.filter) {
			t.Errorf("%s on %s filters on %s, not on _id alone", h.op, h.coll, h.filter)
		}
	}
	m, err := s.GetMachine(ctx, key)
	must(err)
	if m.State != domain.StateDisconnected || m.ShortTerm == nil || m.Bandwidth == nil || !m.LastReportTime.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("machine after the hot writes: %+v", m)
	}

	// What FerretDB says of those filters: pushed down by _id, scanned by key.
	for _, tc := range []struct {
		filter bson.D
		want   bool
	}{
		{bson.D{{Key: "_id", Value: hot[0].filter.Lookup("_id")}}, true},
		{keyFilter(key), false},
	} {
		var res bson.M
		cmd := bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: collMachines}, {Key: "filter", Value: tc.filter}}}}
		must(db.RunCommand(ctx, cmd).Decode(&res))
		if res["filterPushdown"] != tc.want {
			t.Errorf("explain of %v: filterPushdown %v, want %v", tc.filter, res["filterPushdown"], tc.want)
		}
	}
}
