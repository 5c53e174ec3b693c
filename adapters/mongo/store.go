// Package mongo implements the store port over MongoDB (7.0+ for time series)
// or any server speaking its wire protocol, such as the embedded store.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.uber.org/zap"

	"ddn/domain"
	"ddn/ports"
)

// Collection names of the original node (machine_info, machine_connection,
// machine_tm) and of ddn's additions.
const (
	collMachines    = "machine_info"
	collConnections = "machine_connection"
	collReports     = "machine_tm"
	collNodes       = "nodes"
	collTransitions = "transitions"
	collOutbox      = "outbox"
	collClaims      = "outbox_claims"
	collCommands    = "node_commands"
	collPresence    = "presence_history"
)

// Options configure the adapter.
type Options struct {
	URI string
	// Database defaults to the original node's "health_monitoring".
	Database string
	// ExpireAfter is machine_tm's expireAfterSeconds (MongoDB.ExpireTime); 0 keeps reports.
	ExpireAfter time.Duration
	// OpTimeout bounds every operation; default 10s.
	OpTimeout time.Duration
	// Logger is injected; nil discards.
	Logger *zap.Logger
	// Observe, when set, is told each database command's name, duration and
	// failure (metrics); it must not block.
	Observe func(command string, took time.Duration, err error)
	// CacheMachineIDs makes single-machine writes filter on remembered _ids
	// (see machineIDs). It turns itself on against FerretDB (the embedded
	// store), whose only indexed filter is one on _id; set it to exercise
	// that path on MongoDB too (tests).
	CacheMachineIDs bool
}

// Store is ports.Store over MongoDB.
type Store struct {
	client      *mongo.Client
	machines    *mongo.Collection
	connections *mongo.Collection
	reports     *mongo.Collection
	nodes       *mongo.Collection
	transitions *mongo.Collection
	outbox      *mongo.Collection
	claims      *mongo.Collection
	commands    *mongo.Collection
	presence    *mongo.Collection
	timeSeries  bool
	log         *zap.Logger
	// ids is nil unless machine _ids are cached (Options.CacheMachineIDs).
	ids *machineIDs
	// presencePushes paces the cap of presence histories (presence.go).
	presencePushes presencePushes
}

var _ ports.Store = (*Store)(nil)

// Open connects, checks the server answers, and ensures collections and indexes.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Database == "" {
		o.Database = "health_monitoring"
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	opts := options.Client().ApplyURI(o.URI).
		SetTimeout(o.OpTimeout).
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second)
	if o.Observe != nil {
		opts.SetMonitor(&event.CommandMonitor{
			Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { o.Observe(e.CommandName, e.Duration, nil) },
			Failed: func(_ context.Context, e *event.CommandFailedEvent) {
				o.Observe(e.CommandName, e.Duration, errors.New(e.Failure.Error()))
			},
		})
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	db := client.Database(o.Database)
	s := &Store{
		client:      client,
		machines:    db.Collection(collMachines),
		connections: db.Collection(collConnections),
		reports:     db.Collection(collReports),
		nodes:       db.Collection(collNodes),
		transitions: db.Collection(collTransitions),
		outbox:      db.Collection(collOutbox),
		claims:      db.Collection(collClaims),
		commands:    db.Collection(collCommands),
		presence:    db.Collection(collPresence),
		log:         o.Logger,
	}
	if err := s.prepare(ctx, db, o); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// prepare checks the server, then makes what the store relies on: the
// collections and indexes, and the machine _id cache (asked, or on FerretDB).
func (s *Store) prepare(ctx context.Context, db *mongo.Database, o Options) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return err
	}
	if err := s.ensure(ctx, db, o.ExpireAfter, ferret); err != nil {
		return err
	}
	return s.cacheIDs(ctx, o.CacheMachineIDs || ferret)
}

// cacheIDs turns the machine _id cache on (asked, or the server is
// FerretDB) and fills it.
func (s *Store) cacheIDs(ctx context.Context, on bool) error {
	if !on {
		return nil
	}
	ids := newMachineIDs()
	if err := ids.load(ctx, s); err != nil {
		return err
	}
	s.ids = ids
	return nil
}

// TimeSeries tells whether machine_tm is a real time-series collection (false:
// the plain fallback, expired by the node's retention job only).
func (s *Store) TimeSeries() bool { return s.timeSeries }

// Ping implements ports.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	return nil
}

// Close implements ports.Store.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: disconnect: %w", err)
	}
	return nil
}

// ensure creates machine_tm, every other collection and the indexes the
// node's queries rely on.
// On FerretDB (the embedded store) it creates only the unique ones: its
// SQLite backend answers every filter but one on _id alone by scanning the
// collection, so an index that is not a constraint is never read and only
// costs each write (one JSON extraction per key and row: measured on the
// durable ingest, p50 92 → 31 ms). It drops those an older ddn made there.
func (s *Store) ensure(ctx context.Context, db *mongo.Database, expire time.Duration, ferret bool) error {
	specs, err := db.ListCollectionSpecifications(ctx, bson.D{{Key: "name", Value: collReports}})
	if err != nil {
		return fmt.Errorf("mongo: list collections: %w", err)
	}
	switch {
	case len(specs) > 0:
		s.timeSeries = specs[0].Type == "timeseries"
	default:
		ts := options.CreateCollection().SetTimeSeriesOptions(options.TimeSeries().
			SetTimeField("timestamp").SetMetaField("machine").SetGranularity("minutes"))
		if expire > 0 {
			ts.SetExpireAfterSeconds(int64(expire / time.Second))
		}
		err := db.CreateCollection(ctx, collReports, ts)
		switch {
		case err == nil:
			s.timeSeries = true
		case isNamespaceExists(err):
			s.timeSeries = false // created concurrently by another node; checked again on next start
		default:
			s.log.Warn("the server refused a time-series machine_tm; using a plain collection expired by the retention job",
				zap.Error(err))
			if err := db.CreateCollection(ctx, collReports); err != nil && !isNamespaceExists(err) {
				return fmt.Errorf("mongo: create %s: %w", collReports, err)
			}
		}
	}
	// Every collection exists from the start, so that the embedded store's
	// indexer (adapters/embedded) can index its _id before the first write.
	for _, c := range []*mongo.Collection{s.machines, s.connections, s.nodes, s.transitions, s.outbox, s.claims, s.commands, s.presence} {
		if err := db.CreateCollection(ctx, c.Name()); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongo: create %s: %w", c.Name(), err)
		}
	}
	type index struct {
		coll   *mongo.Collection
		keys   bson.D
		unique bool
	}
	key := bson.D{{Key: "machine_id", Value: 1}, {Key: "project", Value: 1}, {Key: "container_id", Value: 1}}
	indexes := []index{
		{s.machines, key, true},
		{s.machines, bson.D{{Key: "state", Value: 1}}, false},
		{s.machines, keySort(""), false}, // pages of the query API
		{s.connections, key, true},
		{s.connections, bson.D{{Key: "node_id", Value: 1}}, false},
		{s.commands, bson.D{{Key: "node_id", Value: 1}, {Key: "created_at", Value: 1}}, false},
		{s.outbox, bson.D{{Key: "status", Value: 1}, {Key: "next_attempt_at", Value: 1}}, false},
	}
	if !s.timeSeries {
		indexes = append(indexes, index{s.reports, bson.D{{Key: "machine.machine_id", Value: 1}, {Key: "machine.project", Value: 1},
			{Key: "machine.container_id", Value: 1}, {Key: "timestamp", Value: 1}}, false})
	}
	for _, ix := range indexes {
		if ferret && !ix.unique {
			if err := dropIndex(ctx, ix.coll, ix.keys); err != nil {
				return err
			}
			continue
		}
		model := mongo.IndexModel{Keys: ix.keys}
		if ix.unique {
			model.Options = options.Index().SetUnique(true)
		}
		if _, err := ix.coll.Indexes().CreateOne(ctx, model); err != nil {
			if isIndexConflict(err) {
				// An index on these keys exists under another name or options
				// (a database of the original node): use it as it is.
				s.log.Warn("existing index kept", zap.String("collection", ix.coll.Name()), zap.Error(err))
				continue
			}
			if duplicatesInTheWay(err) && (ix.coll == s.machines || ix.coll == s.connections) {
				// The original node's collections had no unique index and may
				// hold a machine twice: serve without the index, say which
				// ones, and let `ddn store merge` settle them.
				s.warnDuplicates(ctx, ix.coll)
				continue
			}
			return fmt.Errorf("mongo: index on %s: %w", ix.coll.Name(), err)
		}
	}
	return nil
}

// dropIndex drops the index on keys by the name the driver gives it
// (machine_id_1_project_1, ...), if there is one.
func dropIndex(ctx context.Context, c *mongo.Collection, keys bson.D) error {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s_%v", k.Key, k.Value))
	}
	name := strings.Join(parts, "_")
	var ce mongo.CommandError
	err := c.Indexes().DropOne(ctx, name)
	if err != nil && !(errors.As(err, &ce) && (ce.Code == 26 || ce.Code == 27)) { // NamespaceNotFound, IndexNotFound
		return fmt.Errorf("mongo: drop index %s of %s: %w", name, c.Name(), err)
	}
	return nil
}

func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}

// duplicatesInTheWay tells whether a unique index could not be built
// because documents share a key: MongoDB answers a duplicate key error;
// the embedded store (FerretDB on SQLite) its SQLite constraint.
func duplicatesInTheWay(err error) bool {
	return mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func isIndexConflict(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 85 || ce.Code == 86)
}

// InsertConnection implements ports.ConnectionStore.
func (s *Store) InsertConnection(ctx context.Context, c domain.Connection) error {
	_, err := s.connections.InsertOne(ctx, connectionDoc{ID: connectionID(c.Key, c.ConnID), Key: keyOf(c.Key), AddTime: c.AddTime,
		NodeID: c.NodeID, ConnID: c.ConnID, ClientIP: c.ClientIP})
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: insert connection %s: %w", c.Key, domain.ErrMachineHeld)
	}
	if err != nil {
		return fmt.Errorf("mongo: insert connection %s: %w", c.Key, err)
	}
	return nil
}

// GetConnection implements ports.ConnectionStore.
func (s *Store) GetConnection(ctx context.Context, key domain.MachineKey) (domain.Connection, error) {
	var d connectionDoc
	if err := s.connections.FindOne(ctx, keyFilter(key)).Decode(&d); err != nil {
		return domain.Connection{}, notFound(err, "connection", key)
	}
	return d.domain(), nil
}

func (d connectionDoc) domain() domain.Connection {
	return domain.Connection{Key: d.Key.domain(), NodeID: d.NodeID, ConnID: d.ConnID, ClientIP: d.ClientIP, AddTime: utc(d.AddTime)}
}

// DeleteConnection implements ports.ConnectionStore. A claim is found by its
// _id (key and connection id) first, which the embedded store looks up
// without a scan; a claim written before claims had such an _id (by the
// original node or an older ddn) is found by its fields.
func (s *Store) DeleteConnection(ctx context.Context, key domain.MachineKey, connID string) (bool, error) {
	if connID != "" {
		res, err := s.connections.DeleteOne(ctx, bson.D{{Key: "_id", Value: connectionID(key, connID)}})
		if err != nil {
			return false, fmt.Errorf("mongo: delete connection %s: %w", key, err)
		}
		if res.DeletedCount == 1 {
			return true, nil
		}
	}
	held := bson.E{Key: "conn_id", Value: connID}
	if connID == "" {
		// The original's claims have no conn_id field at all (ddn omits an
		// empty one too): {conn_id: ""} would never match them.
		held.Value = bson.D{{Key: "$exists", Value: false}}
	}
	res, err := s.connections.DeleteOne(ctx, append(keyFilter(key), held))
	if err != nil {
		return false, fmt.Errorf("mongo: delete connection %s: %w", key, err)
	}
	return res.DeletedCount == 1, nil
}

// connectionID is the _id of the claim of connID on key: unambiguous (each
// part length-prefixed), and the claim's exact identity, so that deleting
// by it alone keeps DeleteConnection's "only if connID holds key". Nil
// for a claim without a connection id (the driver then makes an ObjectID).
func connectionID(key domain.MachineKey, connID string) any {
	if connID == "" {
		return nil
	}
	return fmt.Sprintf("%d:%s%d:%s%d:%s%s", len(key.Project), key.Project, len(key.MachineID), key.MachineID,
		len(key.ContainerID), key.ContainerID, connID)
}

// ListConnections implements ports.ConnectionStore.
func (s *Store) ListConnections(ctx context.Context, nodeID string) ([]domain.Connection, error) {
	filter := bson.D{}
	if nodeID != "" {
		filter = bson.D{{Key: "node_id", Value: nodeID}}
	}
	var docs []connectionDoc
	if err := s.findAll(ctx, s.connections, filter, options.Find().SetSort(keySort("")), &docs); err != nil {
		return nil, fmt.Errorf("mongo: list connections of %q: %w", nodeID, err)
	}
	out := make([]domain.Connection, len(docs))
	for i, d := range docs {
		out[i] = d.domain()
	}
	return out, nil
}

// UpsertNode implements ports.NodeStore.
func (s *Store) UpsertNode(ctx context.Context, n domain.Node) error {
	_, err := s.nodes.ReplaceOne(ctx, bson.D{{Key: "_id", Value: n.ID}},
		nodeDoc{ID: n.ID, Addr: n.Addr, Version: n.Version, StartedAt: n.StartedAt, HeartbeatAt: n.HeartbeatAt,
			BootID: n.BootID, Seq: int64(n.Seq)},
		options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: upsert node %s: %w", n.ID, err)
	}
	return nil
}

// GetNode implements ports.NodeStore.
func (s *Store) GetNode(ctx context.Context, id string) (domain.Node, error) {
	var d nodeDoc
	if err := s.nodes.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return domain.Node{}, notFound(err, "node", id)
	}
	return d.domain(), nil
}

func (d nodeDoc) domain() domain.Node {
	return domain.Node{ID: d.ID, Addr: d.Addr, Version: d.Version, StartedAt: utc(d.StartedAt), HeartbeatAt: utc(d.HeartbeatAt),
		BootID: d.BootID, Seq: uint64(d.Seq)}
}

// ListNodes implements ports.NodeStore.
func (s *Store) ListNodes(ctx context.Context) ([]domain.Node, error) {
	var docs []nodeDoc
	if err := s.findAll(ctx, s.nodes, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), &docs); err != nil {
		return nil, fmt.Errorf("mongo: list nodes: %w", err)
	}
	out := make([]domain.Node, len(docs))
	for i, d := range docs {
		out[i] = d.domain()
	}
	return out, nil
}

// DeleteNode implements ports.NodeStore.
func (s *Store) DeleteNode(ctx context.Context, id string) error {
	if _, err := s.nodes.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("mongo: delete node %s: %w", id, err)
	}
	return nil
}

// findAll decodes every document of a query into out.
func (s *Store) findAll(ctx context.Context, c *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder, out any) error {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// keySort orders by machine key; prefix addresses a nested key ("machine.").
func keySort(prefix string) bson.D {
	return bson.D{{Key: prefix + "project", Value: 1}, {Key: prefix + "machine_id", Value: 1}, {Key: prefix + "container_id", Value: 1}}
}

func notFound(err error, what string, id any) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: %s %v: %w", what, id, domain.ErrNotFound)
	}
	return fmt.Errorf("mongo: find %s %v: %w", what, id, err)
}
