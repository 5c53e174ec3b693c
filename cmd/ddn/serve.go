package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"ddn/adapters/console"
	"ddn/adapters/embedded"
	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/adapters/mongo"
	"ddn/adapters/notify"
	"ddn/adapters/prom"
	"ddn/adapters/websocket"
	"ddn/app/chainreport"
	"ddn/app/ingest"
	"ddn/app/liveness"
	"ddn/app/migrate"
	"ddn/app/outbox"
	"ddn/app/retention"
	"ddn/app/session"
	"ddn/app/sweep"
	"ddn/config"
	"ddn/domain"
	"ddn/internal/heapfloor"
	"ddn/ports"
)

// serve runs the node until ctx ends, then drains it.
func serve(ctx context.Context, configPath string, stderr io.Writer) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg.LogLevel, cfg.LogFile, stderr)
	if err != nil {
		return fmt.Errorf("config: LogLevel: %w", err)
	}
	defer closeLog()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	defer heapfloor.Keep(uint64(cfg.MinHeapBytes))()
	log.Info("starting ddn", zap.String("version", version), zap.String("node_id", cfg.NodeID),
		zap.String("addr", cfg.Addr), zap.String("store", cfg.StoreKind()), zap.Any("config", cfg.LogFields()))

	// Background work that must stop before the store closes: the batcher,
	// the lease and the retention job.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var work sync.WaitGroup
	defer func() { stopWork(); work.Wait() }()

	clock, err := nodeClock(log)
	if err != nil {
		return err
	}
	nodeMetrics := prom.NewNodeMetrics()
	store, closeStore, err := openStore(ctx, cfg, log, nodeMetrics.ObserveStoreOp)
	if err != nil {
		return err
	}
	defer closeStore()
	// A database of the original node: machines without a state get one,
	// so the grace rules apply to those that were down at the switch.
	if res, err := migrate.Classify(ctx, store, offsetClock(0)); err != nil {
		return err
	} else if res.Total() > 0 {
		log.Info("machines without a state classified (a database of the original node)", zap.Int("online", res.Online),
			zap.Int("disconnected", res.Disconnected), zap.Int("offline", res.Offline),
			zap.Duration("offline_after", cfg.OfflineGracePeriod), zap.String("offline_report", cfg.Chain.OfflineReport))
	}

	geoParts, err := openGeo(cfg, log)
	if err != nil {
		return err
	}
	defer geoParts.close()
	work.Go(func() { geoParts.run(workCtx, cfg) })

	batcher := ingest.NewBatcher(store, cfg.ReportBatchSize, cfg.ReportBatchDelay)
	batcher.OnFlush = nodeMetrics.ObserveReportFlush
	batcherCtx, stopBatcher := context.WithCancel(workCtx)
	batcherDone := make(chan struct{})
	go func() { defer close(batcherDone); batcher.Run(batcherCtx) }()
	defer func() { stopBatcher(); <-batcherDone }()

	targets := map[string]ports.Deliverer{"log": logDelivery{log.Named("outbox")}}
	chainSide, err := wireChain(cfg, store, targets, nodeMetrics, log)
	if err != nil {
		return err
	}
	work.Go(func() { chainSide.run(workCtx) })
	after, guard := wireWebhook(cfg, store, targets, log)
	var regardless map[string][]domain.EventKind
	if chainSide.penalty != nil {
		// The current original tells its backend of an offline whose
		// penalty transaction failed, without a hash.
		regardless = map[string][]domain.EventKind{"webhook": {domain.EventOffline}}
		if guard != nil {
			chainSide.penalty.Guard, chainSide.penalty.GuardProjects = guard, cfg.NotifyThirdParty.GuardProjects
		}
	}
	effects := outbox.New(outbox.Config{
		NodeID: cfg.NodeID, Targets: slices.Sorted(maps.Keys(targets)), After: after, Regardless: regardless,
		MaxAttempts: cfg.Outbox.MaxAttempts, BaseBackoff: cfg.Outbox.BaseBackoff, MaxBackoff: cfg.Outbox.MaxBackoff,
		Concurrency: cfg.OutboxConcurrency(),
	}, store, clock, targets)
	if chainSide.penalty != nil {
		chainSide.penalty.Later = effects
	}
	effects.OnDelivery = func(target string, e domain.Event, err error) {
		nodeMetrics.ObserveDelivery(target, err)
		if errors.Is(err, domain.ErrNoEffect) {
			log.Debug("side effect settled: nothing to do", zap.String("target", target), zap.Stringer("machine", e.Key), zap.Error(err))
			return
		}
		if err != nil {
			log.Warn("side effect not delivered; will retry", zap.String("target", target), zap.Stringer("machine", e.Key), zap.Error(err))
		}
	}
	work.Go(func() {
		effects.Run(workCtx, cfg.Outbox.Interval, func(p outbox.Pass, err error) {
			if err != nil {
				log.Error("outbox dispatch", zap.Error(err))
			}
			if p.Dead > 0 || p.Recovered > 0 || p.Cancelled > 0 {
				log.Warn("outbox", zap.Int("dead_lettered", p.Dead), zap.Int("recovered", p.Recovered), zap.Int("cancelled", p.Cancelled))
			}
		})
	})

	// One judge of the other nodes' leases for the service and the sweeper.
	tracker := liveness.New(cfg.NodeLeaseExpiry, clock)
	svc, err := session.NewService(session.Config{
		NodeID: cfg.NodeID, NodeAddr: cfg.Addr, Version: version,
		NodeExpiry: cfg.NodeLeaseExpiry, RenewInterval: cfg.NodeLeaseRenew, Liveness: tracker,
		Effects: effects, ReplaceDuplicates: cfg.DuplicateSession == "replace",
		Catalog: geoParts.catalog, StrictInfo: cfg.Score.StrictInfo, Locator: geoParts.sessionLocator(),
		Registry: chainSide.registry, Alone: cfg.StoreKind() == "memory" || cfg.StoreKind() == "embedded",
	}, store, batcher, clock, logTransitions(log))
	if err != nil {
		return err
	}
	svc.OnError = func(op string, err error) { log.Error(op, zap.Error(err)) }
	svc.OnLocateFailed = geoParts.locateFailed
	svc.OnFence = func(fenced bool) {
		if fenced {
			log.Error("node lease not renewed in time: fenced (onlines refused, sessions closed) until the store answers",
				zap.Duration("renew", cfg.NodeLeaseRenew), zap.Duration("expiry", cfg.NodeLeaseExpiry))
		} else {
			log.Warn("node lease renewed again: no longer fenced")
		}
	}
	svc.OnReconcile = func(res session.ReconcileResult, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("reconcile claims", zap.Error(err))
		}
		if res.Changed() {
			log.Warn("reconcile claims", zap.Int("released", res.Released), zap.Int("reclaimed", res.Reclaimed),
				zap.Int("closed", res.Closed), zap.Int("repaired", res.Repaired))
		}
	}
	if err := svc.Join(ctx); err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	log.Info("joined the cluster", zap.String("node_id", cfg.NodeID), zap.String("boot_id", svc.BootID()))
	work.Go(func() {
		keep := retention.Keep{Reports: time.Duration(cfg.MongoDB.ExpireTime) * time.Second, Outbox: cfg.OutboxKeep()}
		retention.Run(workCtx, store, clock, keep, cfg.MongoDB.RetentionInterval, func(r retention.Result, err error) {
			if err != nil {
				log.Error("retention", zap.Error(err))
			}
			log.Info("retention", zap.Int64("reports_removed", r.Reports), zap.Int64("outbox_entries_removed", r.OutboxEntries),
				zap.Int64("stale_commands_removed", r.Commands), zap.Duration("reports_older_than", keep.Reports),
				zap.Duration("outbox_older_than", keep.Outbox))
		})
	})

	sweeper := sweep.New(sweep.Config{NodeID: cfg.NodeID, Grace: cfg.OfflineGracePeriod, NodeExpiry: cfg.NodeLeaseExpiry, Effects: effects,
		Liveness: tracker, Fenced: svc.Fenced},
		store, clock, logTransitions(log))
	work.Go(func() {
		sweeper.Run(workCtx, cfg.EffectiveSweepInterval(), func(res sweep.Result, err error) {
			nodeMetrics.ObserveSweep(res.Released, res.Offline)
			if err != nil {
				log.Error("offline sweep", zap.Error(err))
			}
			if res.Released > 0 || res.Offline > 0 {
				log.Info("offline sweep", zap.Int("released", res.Released), zap.Int("offline", res.Offline))
			}
		})
	})

	wsOpts := websocket.Options{
		HeartbeatTimeout: cfg.HeartbeatTimeout,
		MaxMessageBytes:  cfg.MaxMessageBytes,
		Logger:           log.Named("websocket"),
		Observer:         nodeMetrics,
	}
	if err := secureWebSocket(cfg, &wsOpts, nodeMetrics, log); err != nil {
		return err
	}
	ws := websocket.NewHandler(svc, wsOpts)
	if err := nodeMetrics.Register(prom.NewClusterCollector(store, func(ctx context.Context) (int, int, error) {
		nodes, err := svc.ClusterNodes(ctx)
		alive := 0
		for _, n := range nodes {
			if n.Alive {
				alive++
			}
		}
		return alive, len(nodes) - alive, err
	}, 5*time.Second)); err != nil {
		return fmt.Errorf("register cluster metrics: %w", err)
	}
	svc.SetLocal(ws)
	work.Go(func() { svc.Run(workCtx) }) // lease, fence, reconcile
	work.Go(func() { svc.RunMailbox(workCtx, cfg.MailboxInterval) })
	if every := cfg.InfoRequestInterval; every > 0 {
		// As the current original: connected machines never scored are asked
		// for their machine info again (type 5).
		work.Go(func() {
			svc.RunInfoRequests(workCtx, every, ws, func(asked int) {
				if asked > 0 {
					log.Info("machine info requested (type 5) of machines never scored", zap.Int("machines", asked))
				}
			})
		})
	}
	fleet := prom.NewFleet(store, 30*time.Second, nodeMetrics.Connections(), log.Named("prom"))
	if err := fleet.Refresh(ctx); err != nil {
		log.Warn("first fleet snapshot failed; /metrics/prometheus is empty until a refresh succeeds", zap.Error(err))
	}
	work.Go(func() { fleet.Run(workCtx, cfg.Prometheus.FleetRefresh) })
	if u := cfg.Prometheus.PushgatewayURL; u != "" {
		pusher := prom.NewPusher(u, cfg.Prometheus.JobName, cfg.NodeID, log.Named("push"), fleet.Gatherer(), nodeMetrics.Gatherer())
		work.Go(func() { pusher.Run(workCtx, cfg.Prometheus.PushInterval) })
		log.Info("pushing metrics", zap.String("pushgateway", u), zap.String("job", cfg.Prometheus.JobName), zap.Duration("every", cfg.Prometheus.PushInterval))
	}
	httpOpts := withQueryAPI(cfg, store, httpapi.Options{
		WebSocket:    ws,
		Ready:        store.Ping,
		ClusterNodes: func(ctx context.Context) (any, error) { return svc.ClusterNodes(ctx) },
		Sessions:     func() any { return svc.Sessions() },
		Outbox:       effects.Watch(store),
		Notify: func(ctx context.Context, key domain.MachineKey) (string, error) {
			return svc.Notify(ctx, key, session.UnregisterNotice)
		},
		Contract:      contractCommands(effects, store, cfg.NodeID, svc),
		AdminToken:    cfg.Admin.Token,
		Geo:           geoParts.http(cfg.Score.StrictInfo),
		FleetMetrics:  fleet,
		NodeMetrics:   nodeMetrics.Handler(),
		Version:       version,
		NodeID:        cfg.NodeID,
		Logger:        log.Named("http"),
		AdminSeparate: cfg.AdminAddr != "",
		BodyMaxBytes:  cfg.Limits.MaxBodyBytes,
		Console:       console.Handler(),
	})
	if err := secureHTTP(cfg, &httpOpts, log); err != nil {
		return err
	}
	srv := httpapi.NewServer(cfg.Addr, httpapi.New(httpOpts))
	hardenServer(cfg, srv, log.Named("http"))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	serveErr := make(chan error, 2)
	go func() {
		if cfg.Certificate.Cert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.Certificate.Cert, cfg.Certificate.Key)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	log.Info("ddn is serving", zap.String("addr", ln.Addr().String()), zap.Bool("tls", cfg.Certificate.Cert != ""))
	stopAdmin, err := serveAdmin(cfg, httpOpts, serveErr, log.Named("admin"))
	if err != nil {
		_ = srv.Close()
		return err
	}

	select {
	case <-ctx.Done():
		log.Info("draining")
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}

	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := ws.Drain(drainCtx); err != nil {
		log.Error("drain connections", zap.Error(err))
	}
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Error("stop http server", zap.Error(err))
	}
	stopAdmin(drainCtx)
	stopBatcher()
	<-batcherDone
	stopWork()
	work.Wait()
	if err := svc.ReleaseLease(drainCtx); err != nil {
		log.Error("release lease", zap.Error(err))
	}
	log.Info("drained", zap.Int("open_connections", ws.Open()))
	return nil
}

// wireWebhook adds the webhook target (NotifyThirdParty.OfflineNotify) and
// returns the outbox's target order and the offline guard it offers. With
// AfterChainReport (the original's rule) the webhook follows the chain: an
// online or offline is notified only once the chain's report of it was
// sent, and never when no report was needed; without a chain, offlines
// the offline policy would not report are not notified either. Under the
// rental rules every offline is notified (with its report_tx_hash) unless
// the guard stopped its penalty.
func wireWebhook(cfg *config.Config, store ports.Store, targets map[string]ports.Deliverer, log *zap.Logger) (map[string]string, ports.OfflineGuard) {
	u := cfg.NotifyThirdParty.OfflineNotify
	if u == "" {
		log.Info("webhook disabled (NotifyThirdParty.OfflineNotify is empty)")
		return nil, nil
	}
	projects := cfg.NotifyThirdParty.Projects
	if cfg.WebhookAllProjects() {
		projects = nil
	}
	webhook := notify.NewWebhook(u, cfg.NotifyThirdParty.Timeout, projects)
	var hook ports.Deliverer = webhook
	if cfg.RentalEnabled() {
		hook = webhook.WithTxHash()
	}
	var after map[string]string
	if cfg.NotifyThirdParty.AfterChainReport {
		if !cfg.RentalEnabled() {
			hook = chainreport.OfflineGate{Next: hook, Machines: store, Policy: domain.OfflineReportPolicy(cfg.Chain.OfflineReport)}
		}
		if _, ok := targets[chainreport.Target]; ok {
			after = map[string]string{"webhook": chainreport.Target}
		}
	}
	targets["webhook"] = hook
	log.Info("webhook enabled", zap.String("url", config.RedactURL(u)), zap.Strings("projects", projects),
		zap.Bool("after_chain_report", cfg.NotifyThirdParty.AfterChainReport), zap.String("offline_report", cfg.Chain.OfflineReport),
		zap.Bool("rental_rules", cfg.RentalEnabled()), zap.Strings("guard_projects", cfg.NotifyThirdParty.GuardProjects))
	return after, webhook
}

// openStore opens the configured store and returns how to close it.
func openStore(ctx context.Context, cfg *config.Config, log *zap.Logger, observe func(string, time.Duration, error)) (ports.Store, func(), error) {
	switch cfg.StoreKind() {
	case "memory":
		log.Warn("in-memory store selected (memory://): nothing persists, a restart forgets every machine and report")
		return memory.NewStore(), func() {}, nil
	case "embedded":
		srv, err := embedded.Start(ctx, embedded.Options{Dir: cfg.DataDir, Logger: log.Named("embedded")})
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded store in %s: %w", cfg.DataDir, err)
		}
		log.Info("embedded store started (for trials and small fleets; use MongoDB 7 in production)",
			zap.String("dir", cfg.DataDir), zap.String("uri", srv.URI()))
		st, err := openMongo(ctx, cfg, srv.ClientURI(), log, observe)
		if err != nil {
			_ = srv.Close()
			return nil, nil, err
		}
		// The collections the store just created, indexed before the first
		// write rather than at the indexer's next pass.
		if err := srv.IndexIDs(ctx); err != nil {
			log.Warn("index _id of the embedded store (writes by _id scan until the next pass)", zap.Error(err))
		}
		return embedded.Throttle(st, embedded.WriteSlots), func() { closeMongo(st, log); _ = srv.Close() }, nil
	default:
		st, err := openMongo(ctx, cfg, cfg.MongoDB.URI, log, observe)
		if err != nil {
			return nil, nil, err
		}
		return st, func() { closeMongo(st, log) }, nil
	}
}

func openMongo(ctx context.Context, cfg *config.Config, uri string, log *zap.Logger, observe func(string, time.Duration, error)) (*mongo.Store, error) {
	st, err := mongo.Open(ctx, mongo.Options{
		URI: uri, Database: cfg.MongoDB.Database,
		ExpireAfter: time.Duration(cfg.MongoDB.ExpireTime) * time.Second,
		Logger:      log.Named("mongo"),
		Observe:     observe,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

func closeMongo(st *mongo.Store, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.Close(ctx); err != nil {
		log.Warn("close store", zap.Error(err))
	}
}

// testClockOffset names the test-only setting that shifts this node's clock
// (an offset like -20s): the fault tests run a node whose clock is behind
// or ahead of the others. Never set it in production.
const testClockOffset = "DDN_TEST_CLOCK_OFFSET"

// nodeClock is the clock of the node's presence and side effects: the
// system clock, shifted by DDN_TEST_CLOCK_OFFSET when that is set.
func nodeClock(log *zap.Logger) (ports.Clock, error) {
	v := os.Getenv(testClockOffset)
	if v == "" {
		return offsetClock(0), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", testClockOffset, err)
	}
	log.Warn("test-only clock offset in effect: this node's clock is shifted", zap.String("env", testClockOffset), zap.Duration("offset", d))
	return offsetClock(d), nil
}

// offsetClock is the system clock shifted by a fixed duration (0: the
// system clock); differences between its readings still come from the
// monotonic clock.
type offsetClock time.Duration

// Now implements ports.Clock.
func (c offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c)) }

var _ http.Handler = (*websocket.Handler)(nil)
