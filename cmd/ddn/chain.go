package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"ddn/adapters/chain"
	"ddn/adapters/httpapi"
	"ddn/adapters/prom"
	"ddn/app/chaincache"
	"ddn/app/chainreport"
	"ddn/app/session"
	"ddn/config"
	"ddn/domain"
	"ddn/internal/periodic"
	"ddn/ports"
)

// chainSide is what a configured chain adds to a node: the registry the
// online check reads, the outbox target, and the block poller. Without a
// chain the registry is nil (every machine is registered) and transactions
// reach only the "log" target.
type chainSide struct {
	registry ports.ChainRegistry
	run      func(ctx context.Context)
	// penalty is the chain target under the rental rules (nil without
	// them); the outbox (its re-checks) and the guard are set when built.
	penalty *chainreport.Penalty
}

// wireChain builds the chain adapter from Chain.* and adds its outbox
// target; a bad key, address or ABI stops startup with one line naming it.
func wireChain(cfg *config.Config, store ports.Store, targets map[string]ports.Deliverer, nodeMetrics *prom.NodeMetrics, log *zap.Logger) (chainSide, error) {
	if !cfg.ChainEnabled() {
		log.Info("chain disabled (Chain.Rpc is empty): every machine counts as registered, transactions are only logged")
		return chainSide{run: func(context.Context) {}}, nil
	}
	metrics := prom.NewChainMetrics()
	if err := nodeMetrics.Register(metrics.Collectors()...); err != nil {
		return chainSide{}, fmt.Errorf("register chain metrics: %w", err)
	}
	clog := log.Named("chain")
	var eps []*chain.Endpoint
	for _, u := range cfg.ChainEndpoints() {
		eps = append(eps, &chain.Endpoint{URL: u})
	}
	chainID := cfg.Chain.ChainId
	if chainID == 0 {
		// The original node's files often leave ChainId 0: ask the RPC, as it did.
		id, err := chain.LookupChainID(context.Background(), cfg.ChainEndpoints(), cfg.Chain.CallTimeout)
		if err != nil {
			return chainSide{}, fmt.Errorf("config: Chain.ChainId: 0 and the RPC did not tell it (set it): %w", err)
		}
		chainID = id
		clog.Info("chain id read from the RPC (Chain.ChainId is 0)", zap.Int64("chain_id", id))
	}
	c, err := chain.New(chain.Options{
		Endpoints: eps, ChainID: chainID, PrivateKey: cfg.Chain.PrivateKey, PrivateKeys: cfg.Chain.PrivateKeys,
		ReportAddress: cfg.Chain.ReportContract.ContractAddress, MachineInfoAddress: cfg.Chain.MachineInfoContract.ContractAddress,
		ReportABIFile: cfg.Chain.ReportContract.AbiFile, MachineInfoABIFile: cfg.Chain.MachineInfoContract.AbiFile,
		RentAddress: cfg.Chain.RentContract.ContractAddress, RentABIFile: cfg.Chain.RentContract.AbiFile,
		FreeRentalAddress: cfg.Chain.FreeRentalContract.ContractAddress, FreeRentalABIFile: cfg.Chain.FreeRentalContract.AbiFile,
		ReceiptTimeout: cfg.Chain.ReceiptTimeout, CallTimeout: cfg.Chain.CallTimeout, GasLimit: cfg.Chain.GasLimit,
		Leases: store, LeaseTTL: cfg.Chain.SenderLease, Owner: cfg.NodeID, Clock: offsetClock(0),
		OnTx:    metrics.ObserveTx,
		OnBlock: metrics.ObserveBlock,
		OnResync: func(from, why string, nonce uint64) {
			metrics.ObserveResync()
			clog.Info("nonce read from the chain", zap.String("from", from), zap.String("reason", why), zap.Uint64("nonce", nonce))
		},
		OnFailover: func(from, to string, err error) {
			metrics.ObserveFailover()
			clog.Warn("RPC endpoint unreachable, switched", zap.String("from", from), zap.String("to", to), zap.Error(err))
		},
		MaxConcurrentCalls: cfg.Chain.MaxConcurrentCalls, MaxRequestsPerSecond: cfg.Chain.MaxRequestsPerSecond,
		MaxBatchSize: cfg.Chain.MaxBatchSize, ReadTimeout: cfg.Chain.ReadTimeout, Metrics: metrics,
	})
	if err != nil {
		return chainSide{}, err
	}
	side := chainSide{registry: c}
	var delivery ports.Chain = c
	if ttl := cfg.Chain.RegistrationCacheTTL; ttl > 0 {
		cache := chaincache.New(c, ttl, offsetClock(0))
		cache.OnLookup = metrics.ObserveCacheLookup
		// A restarted node's agents all come back at once: remember the
		// machines the cluster let in within the TTL before serving them.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		n, err := cache.Warm(ctx, store)
		cancel()
		if err != nil {
			clog.Warn("registration cache not warmed from machine_info; onlines ask the chain", zap.Error(err))
		}
		clog.Info("registration cache", zap.Duration("ttl", ttl), zap.Int("warmed", n))
		side.registry, delivery = cache, cache.Fresh()
	}
	d := chainreport.New(delivery).WithMachines(store)
	d.OnSkip = func(e domain.Event, why string) {
		clog.Info("no transaction needed", zap.String("event", string(e.Kind)), zap.Stringer("machine", e.Key), zap.String("why", why))
	}
	// Chain.OfflineReport: by default only scored machines get report(4).
	var target ports.Deliverer = chainreport.OfflineGate{Next: d, Machines: store, Policy: domain.OfflineReportPolicy(cfg.Chain.OfflineReport)}
	if cfg.RentalEnabled() {
		side.penalty = rentalPenalty(cfg, c, delivery, target, store, clog)
		if c.HasRent() {
			side.registry = chainreport.RentedRegistry{Next: side.registry, Rent: c, OnRented: func(k domain.MachineKey) {
				clog.Info("machine not registered but rented: let in to watch its offline (no online report)", zap.Stringer("machine", k))
			}}
		}
		target = side.penalty
	}
	targets[chainreport.Target] = target
	clog.Info("chain enabled", zap.Strings("endpoints", redactURLs(cfg.ChainEndpoints())), zap.Int64("chain_id", chainID),
		zap.Strings("from", senderHexes(c)), zap.String("report_contract", cfg.Chain.ReportContract.ContractAddress),
		zap.String("machine_info_contract", cfg.Chain.MachineInfoContract.ContractAddress),
		zap.String("offline_report", cfg.Chain.OfflineReport), zap.Int("max_concurrent_calls", cfg.Chain.MaxConcurrentCalls), zap.Float64("max_requests_per_second", cfg.Chain.MaxRequestsPerSecond))
	side.run = func(ctx context.Context) {
		periodic.Run(ctx, cfg.Chain.BlockPoll, func(ctx context.Context) {
			if _, err := c.LatestBlock(ctx); err != nil && ctx.Err() == nil {
				clog.Warn("chain unreachable", zap.Error(err))
			}
		})
	}
	return side, nil
}

// rentalPenalty is the chain target under the current original's offline
// rules (Chain.RentContract, Chain.FreeRentalContract): every decision not
// to penalise is logged with its reason.
func rentalPenalty(cfg *config.Config, c *chain.Chain, delivery ports.Chain, next ports.Deliverer, store ports.Store, log *zap.Logger) *chainreport.Penalty {
	var reporter ports.TxReporter = c
	if tx, ok := delivery.(ports.TxReporter); ok {
		reporter = tx // the registration cache's view follows the report
	}
	p := &chainreport.Penalty{Next: next, State: delivery, Reporter: reporter, Machines: store,
		Policy: domain.OfflineReportPolicy(cfg.Chain.OfflineReport), RecheckAfter: cfg.Chain.RentRecheck, Clock: offsetClock(0),
		OnDecision: func(e domain.Event, why string, err error) {
			if err != nil {
				log.Warn("offline penalty: a read failed", zap.String("event", string(e.Kind)), zap.Stringer("machine", e.Key), zap.String("decision", why), zap.Error(err))
				return
			}
			log.Info("offline penalty", zap.String("event", string(e.Kind)), zap.Stringer("machine", e.Key), zap.String("decision", why))
		}}
	if c.HasRent() {
		p.Rent = c
	}
	if c.HasFreeRental() {
		p.FreeRental = c
	}
	log.Info("rental offline rules", zap.String("rent_contract", cfg.Chain.RentContract.ContractAddress),
		zap.String("free_rental_contract", cfg.Chain.FreeRentalContract.ContractAddress), zap.Duration("rent_recheck", cfg.Chain.RentRecheck))
	return p
}

// senderHexes are the addresses of the key pool (never the keys).
func senderHexes(c *chain.Chain) []string {
	var out []string
	for _, a := range c.Senders() {
		out = append(out, a.Hex())
	}
	return out
}

// redactURLs keeps scheme and host of RPC URLs: paths and queries often
// carry a provider's API key.
func redactURLs(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = config.RedactURL(u)
	}
	return out
}

// contractCommands wires POST /api/v0/contract/* to the outbox; an
// unregister also drops what the registration caches of the cluster's
// nodes say of the machine, so its next online asks the chain.
func contractCommands(effects ports.Effects, store ports.Store, nodeID string, svc *session.Service) httpapi.ContractCommand {
	cmds := chainreport.NewCommands(effects, store, offsetClock(0), nodeID, func(ctx context.Context, key domain.MachineKey) (string, error) {
		return svc.Notify(ctx, key, session.UnregisterNotice)
	})
	return func(ctx context.Context, action string, key domain.MachineKey, st domain.StakingType) (httpapi.ContractResult, error) {
		if action == "unregister" {
			if err := svc.ForgetRegistration(ctx, key); err != nil && svc.OnError != nil {
				svc.OnError("unregister: tell the nodes to forget the registration (their cache expires it)", err)
			}
		}
		return cmds.Run(ctx, action, key, st)
	}
}
