// Package chain is the go-ethereum adapter of the report and machine-info
// contracts (DESIGN.md, "Integrations"): registry reads through eth_call,
// transactions signed locally with managed nonces, estimated gas, receipts
// awaited with a timeout, several RPC endpoints with failover, and a
// cluster-wide lease per key so one node at a time sends from each key of
// the pool.
package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	gethmath "github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"

	"ddn/abi"
	"ddn/domain"
	"ddn/ports"
)

// Options configure the adapter; the config keys they come from are named
// in startup errors.
type Options struct {
	// Endpoints are tried in order, the first (Chain.Rpc) preferred.
	Endpoints []*Endpoint
	ChainID   int64
	// PrivateKey is the hex key transactions are signed with (never logged).
	PrivateKey string
	// PrivateKeys, when not empty, replace PrivateKey: a pool of keys the
	// transactions are spread over, each with its own nonces and lease.
	PrivateKeys []string
	// ReportAddress and MachineInfoAddress are the contracts' addresses.
	ReportAddress, MachineInfoAddress string
	// ReportABIFile and MachineInfoABIFile override the embedded ABIs.
	ReportABIFile, MachineInfoABIFile string
	// RentAddress and FreeRentalAddress, when set, are the Rent and
	// FreeRental contracts (Chain.RentContract, Chain.FreeRentalContract);
	// their ABI files override the embedded ABIs.
	RentAddress, FreeRentalAddress string
	RentABIFile, FreeRentalABIFile string
	// ReceiptTimeout bounds the wait for a transaction to be mined (60s).
	ReceiptTimeout time.Duration
	// ReceiptPoll is how often a receipt is asked for (1s).
	ReceiptPoll time.Duration
	// CallTimeout bounds one read or one submission on one endpoint (10s).
	CallTimeout time.Duration
	// GasLimit, when non-zero, replaces gas estimation.
	GasLimit uint64
	// Leases and LeaseTTL make one node at a time the sender from the key,
	// cluster-wide (time slices of LeaseTTL, 30s); Owner names this node.
	Leases   ports.LeaseStore
	LeaseTTL time.Duration
	Owner    string
	Clock    ports.Clock
	// OnTx observes each transaction by method and result ("ok", "reverted",
	// "failed", "timeout"); OnBlock the latest block number seen.
	OnTx       func(method, result string)
	OnBlock    func(uint64)
	OnResync   func(from, reason string, nonce uint64)
	OnFailover func(from, to string, err error)

	// MaxConcurrentCalls bounds the requests in flight, every endpoint
	// together (DefaultMaxConcurrentCalls); MaxRequestsPerSecond is each
	// endpoint's request rate (DefaultMaxRequestsPerSecond), which the
	// reads an online waits for get before the outbox's transactions.
	MaxConcurrentCalls   int
	MaxRequestsPerSecond float64
	// MaxBatchSize is the most getMachineState calls one JSON-RPC batch
	// request carries (DefaultMaxBatchSize).
	MaxBatchSize int
	// ReadTimeout bounds a registry read, queued and retried, within its
	// context's own deadline (DefaultReadTimeout).
	ReadTimeout time.Duration
	// Metrics observes requests, batches, retries and refusals.
	Metrics Metrics
}

// Chain implements ports.Chain over go-ethereum.
type Chain struct {
	opts        Options
	eps         *endpoints
	from        common.Address
	report      common.Address
	machineInfo common.Address
	reportABI   gethabi.ABI
	infoABI     gethabi.ABI
	chainID     *big.Int
	pool        *pool
	reads       *batcher
	// rent and freeRental are the optional rental contracts (nil: not configured).
	rent, freeRental *contract
}

var _ ports.Chain = (*Chain)(nil)

// New validates the options and returns the adapter; it does not touch the
// network, so a node starts while the chain is down.
func New(o Options) (*Chain, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("config: Chain.Rpc: no RPC endpoint")
	}
	if o.ChainID <= 0 {
		return nil, fmt.Errorf("config: Chain.ChainId: must be positive, got %d", o.ChainID)
	}
	c := &Chain{opts: o, chainID: big.NewInt(o.ChainID)}
	senders, err := c.senders()
	if err != nil {
		return nil, err
	}
	c.from = senders[0].from
	if c.report, err = address("Chain.ReportContract.ContractAddress", o.ReportAddress); err != nil {
		return nil, err
	}
	if c.machineInfo, err = address("Chain.MachineInfoContract.ContractAddress", o.MachineInfoAddress); err != nil {
		return nil, err
	}
	if c.reportABI, err = loadABI("Chain.ReportContract.AbiFile", o.ReportABIFile, abi.Report, "report", "getMachineState"); err != nil {
		return nil, err
	}
	if c.infoABI, err = loadABI("Chain.MachineInfoContract.AbiFile", o.MachineInfoABIFile, abi.MachineInfo, "setMachineInfo", "setBandWidthInfos"); err != nil {
		return nil, err
	}
	if err := c.loadRental(o); err != nil {
		return nil, err
	}
	if c.opts.ReceiptTimeout <= 0 {
		c.opts.ReceiptTimeout = time.Minute
	}
	if c.opts.ReceiptPoll <= 0 {
		c.opts.ReceiptPoll = time.Second
	}
	if c.opts.CallTimeout <= 0 {
		c.opts.CallTimeout = 10 * time.Second
	}
	if c.opts.LeaseTTL <= 0 {
		c.opts.LeaseTTL = 30 * time.Second
	}
	if c.opts.Clock == nil {
		c.opts.Clock = systemClock{}
	}
	if c.opts.MaxConcurrentCalls <= 0 {
		c.opts.MaxConcurrentCalls = DefaultMaxConcurrentCalls
	}
	if c.opts.MaxRequestsPerSecond <= 0 {
		c.opts.MaxRequestsPerSecond = DefaultMaxRequestsPerSecond
	}
	if c.opts.MaxBatchSize <= 0 {
		c.opts.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.opts.ReadTimeout <= 0 {
		c.opts.ReadTimeout = DefaultReadTimeout
	}
	if c.opts.Metrics == nil {
		c.opts.Metrics = noMetrics{}
	}
	c.eps = &endpoints{list: o.Endpoints, onFailover: o.OnFailover}
	sl := newSlots(c.opts.MaxConcurrentCalls, c.opts.Metrics)
	for _, ep := range o.Endpoints {
		ep.slots, ep.metrics = sl, c.opts.Metrics
		ep.gate = newGate(c.opts.MaxRequestsPerSecond, wallClock{}, c.opts.Metrics)
	}
	c.pool = newPool(senders)
	c.reads = &batcher{eps: c.eps, from: c.from, to: c.report, max: c.opts.MaxBatchSize, flushers: c.opts.MaxConcurrentCalls,
		timeout: c.opts.CallTimeout, clock: wallClock{}, m: c.opts.Metrics}
	return c, nil
}

// senders parses the key pool (PrivateKeys, else PrivateKey); a key that
// does not parse or comes twice stops startup naming its place, never its value.
func (c *Chain) senders() ([]*sender, error) {
	keys, name := c.opts.PrivateKeys, "Chain.PrivateKeys"
	if len(keys) == 0 {
		keys, name = []string{c.opts.PrivateKey}, "Chain.PrivateKey"
	}
	var out []*sender
	seen := map[common.Address]int{}
	for i, hexKey := range keys {
		at := name
		if name == "Chain.PrivateKeys" {
			at = fmt.Sprintf("%s[%d]", name, i)
		}
		key, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(hexKey), "0x"))
		if err != nil {
			// The message of HexToECDSA never quotes the key.
			return nil, fmt.Errorf("config: %s: not a hex secp256k1 private key: %v", at, err)
		}
		from := crypto.PubkeyToAddress(key.PublicKey)
		if j, dup := seen[from]; dup {
			return nil, fmt.Errorf("config: %s: the same key as %s[%d] (its nonces would collide)", at, name, j)
		}
		seen[from] = i
		out = append(out, &sender{c: c, key: key, from: from})
	}
	return out, nil
}

// From is the address of the first key (registry reads are made from it).
func (c *Chain) From() common.Address { return c.from }

// Senders are the addresses transactions are sent from, one per key.
func (c *Chain) Senders() []common.Address {
	out := make([]common.Address, len(c.pool.senders))
	for i, s := range c.pool.senders {
		out[i] = s.from
	}
	return out
}

func address(key, s string) (common.Address, error) {
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("config: %s: %q is not a 0x-prefixed 20-byte hex address", key, s)
	}
	return common.HexToAddress(s), nil
}

// loadABI reads the override file or the embedded ABI and checks it has
// the methods ddn calls.
func loadABI(key, file string, embedded []byte, methods ...string) (gethabi.ABI, error) {
	src := embedded
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return gethabi.ABI{}, fmt.Errorf("config: %s: %w", key, err)
		}
		src = b
	}
	parsed, err := gethabi.JSON(bytes.NewReader(src))
	if err != nil {
		return gethabi.ABI{}, fmt.Errorf("config: %s: not a contract ABI: %v", key, err)
	}
	for _, m := range methods {
		if _, ok := parsed.Methods[m]; !ok {
			return gethabi.ABI{}, fmt.Errorf("config: %s: the ABI has no function %s", key, m)
		}
	}
	return parsed, nil
}

// MachineState implements ports.ChainRegistry with getMachineState. The
// call waits its turn (MaxConcurrentCalls, MaxRequestsPerSecond), goes in
// one JSON-RPC batch with the other reads waiting then, and is tried again
// after a failed request until ctx's deadline or ReadTimeout, whichever
// comes first.
func (c *Chain) MachineState(ctx context.Context, key domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	data, err := c.reportABI.Pack("getMachineState", key.MachineID, key.Project, uint8(st))
	if err != nil {
		return domain.ChainState{}, fmt.Errorf("pack getMachineState: %w", err)
	}
	// ReadTimeout bounds the read whatever ctx allows (an outbox attempt
	// may run longer than an online should wait).
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadTimeout)
	defer cancel()
	out, err := c.reads.call(ctx, data)
	if err != nil {
		return domain.ChainState{}, fmt.Errorf("getMachineState(%s): %w", key, err)
	}
	vals, err := c.reportABI.Unpack("getMachineState", out)
	if err != nil || len(vals) != 2 {
		return domain.ChainState{}, fmt.Errorf("getMachineState(%s): unexpected answer %x: %v", key, out, err)
	}
	isOnline, ok1 := vals[0].(bool)
	isRegistered, ok2 := vals[1].(bool)
	if !ok1 || !ok2 {
		return domain.ChainState{}, fmt.Errorf("getMachineState(%s): answer is not (bool, bool)", key)
	}
	return domain.ChainState{Online: isOnline, Registered: isRegistered}, nil
}

// Report implements ports.ChainReporter with report(tp, project, stakingType, machineId).
func (c *Chain) Report(ctx context.Context, tp domain.ReportType, key domain.MachineKey, st domain.StakingType) error {
	_, err := c.ReportTx(ctx, tp, key, st)
	return err
}

// ReportTx implements ports.TxReporter: Report, answering the transaction's hash.
func (c *Chain) ReportTx(ctx context.Context, tp domain.ReportType, key domain.MachineKey, st domain.StakingType) (string, error) {
	data, err := c.reportABI.Pack("report", uint8(tp), key.Project, uint8(st), key.MachineID)
	if err != nil {
		return "", fmt.Errorf("pack report: %w", err)
	}
	return c.pool.send(ctx, "report", c.report, data)
}

// machineInfoTuple mirrors the setMachineInfo tuple for the ABI encoder
// (field names match the ABI's component names).
type machineInfoTuple struct {
	MachineOwner common.Address
	CalcPoint    *big.Int
	CpuRate      *big.Int
	GpuType      string
	GpuMem       *big.Int
	CpuType      string
	GpuCount     *big.Int
	MachineId    string
	Longitude    string
	Latitude     string
	MachineMem   *big.Int
	Region       string
	Model        string
}

type bandwidthTuple struct {
	MachineOwner common.Address
	MachineId    string
	CpuCores     *big.Int
	MachineMem   *big.Int
	Region       string
	Hdd          *big.Int
	Bandwidth    *big.Int
}

// u is a tuple number; a negative one is sent as its 256-bit two's
// complement, as the original's (older) go-ethereum encoder sent it (the
// current one refuses negative uints).
func u(v int64) *big.Int { return gethmath.U256(big.NewInt(v)) }

// owner reads a wallet as the original does (go-ethereum's HexToAddress:
// the hex digits before any other character, the last 20 bytes of them),
// so that a malformed wallet is sent as the same address it sent.
func owner(s string) common.Address { return common.HexToAddress(s) }

// SetMachineInfo implements ports.ChainReporter.
func (c *Chain) SetMachineInfo(ctx context.Context, machineID string, i domain.ChainMachineInfo) error {
	data, err := packMachineInfo(c.infoABI, machineID, i)
	if err != nil {
		return err
	}
	_, err = c.pool.send(ctx, "setMachineInfo", c.machineInfo, data)
	return err
}

// packMachineInfo is the calldata of setMachineInfo(machineID, i).
func packMachineInfo(a gethabi.ABI, machineID string, i domain.ChainMachineInfo) ([]byte, error) {
	data, err := a.Pack("setMachineInfo", machineID, machineInfoTuple{
		MachineOwner: owner(i.MachineOwner), CalcPoint: u(i.CalcPoint), CpuRate: u(i.CPURate), GpuType: i.GPUType,
		GpuMem: u(i.GPUMem), CpuType: i.CPUType, GpuCount: u(i.GPUCount), MachineId: i.MachineID,
		Longitude: i.Longitude, Latitude: i.Latitude, MachineMem: u(i.MachineMem), Region: i.Region, Model: i.Model,
	})
	if err != nil {
		return nil, fmt.Errorf("pack setMachineInfo: %w", err)
	}
	return data, nil
}

// SetBandwidthInfo implements ports.ChainReporter.
func (c *Chain) SetBandwidthInfo(ctx context.Context, machineID string, i domain.ChainBandwidthInfo) error {
	data, err := c.infoABI.Pack("setBandWidthInfos", machineID, bandwidthTuple{
		MachineOwner: owner(i.MachineOwner), MachineId: i.MachineID, CpuCores: u(i.CPUCores), MachineMem: u(i.MachineMem),
		Region: i.Region, Hdd: u(i.HDD), Bandwidth: u(i.Bandwidth),
	})
	if err != nil {
		return fmt.Errorf("pack setBandWidthInfos: %w", err)
	}
	_, err = c.pool.send(ctx, "setBandWidthInfos", c.machineInfo, data)
	return err
}

// LatestBlock reads the head block number (for the last-block metric and
// as a liveness probe).
func (c *Chain) LatestBlock(ctx context.Context) (uint64, error) {
	var n uint64
	err := c.eps.do(ctx, func(r RPC) error {
		cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
		var err error
		n, err = r.BlockNumber(cctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("block number: %w", err)
	}
	if c.opts.OnBlock != nil {
		c.opts.OnBlock(n)
	}
	return n, nil
}

// systemClock is the wall clock, the default when no clock is injected.
type systemClock struct{}

// Now implements ports.Clock.
func (systemClock) Now() time.Time { return time.Now() }
