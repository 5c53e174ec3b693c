package chain_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"ddn/adapters/chain"
)

// testChain is a simulated chain served over real JSON-RPC on loopback,
// behind a proxy that tests can take down, with blocks sealed continuously
// and the test contract deployed by a key other than the sender's.
type testChain struct {
	sim      *simulated.Backend
	proxy    *proxy
	deployer *ecdsa.PrivateKey
	sender   *ecdsa.PrivateKey
	// pool are four more funded keys, for key pool tests.
	pool []*ecdsa.PrivateKey
	abi  gethabi.ABI
	// paused stops sealing blocks: transactions wait in the pool.
	paused atomic.Bool
}

const simChainID = 1337

func newTestChain(t *testing.T) *testChain {
	t.Helper()
	deployer, _ := crypto.GenerateKey()
	sender, _ := crypto.GenerateKey()
	port := freePort(t)
	funds := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	alloc := types.GenesisAlloc{
		crypto.PubkeyToAddress(deployer.PublicKey): {Balance: funds},
		crypto.PubkeyToAddress(sender.PublicKey):   {Balance: funds},
	}
	var pool []*ecdsa.PrivateKey
	for range 4 {
		k, _ := crypto.GenerateKey()
		pool = append(pool, k)
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: funds}
	}
	sim := simulated.NewBackend(alloc, func(nc *node.Config, _ *ethconfig.Config) {
		nc.HTTPHost, nc.HTTPPort = "127.0.0.1", port
		nc.HTTPModules = []string{"eth", "net", "web3"}
	})
	t.Cleanup(func() { _ = sim.Close() })
	tc := &testChain{sim: sim, deployer: deployer, sender: sender, pool: pool}
	ctx, stop := context.WithCancel(context.Background())
	var miner sync.WaitGroup
	miner.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if !tc.paused.Load() {
					sim.Commit()
				}
			}
		}
	})
	t.Cleanup(func() { stop(); miner.Wait() })
	p := newProxy(t, net.JoinHostPort("127.0.0.1", itoa(port)))
	raw, err := os.ReadFile("testdata/TestRegistry.abi")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gethabi.JSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	tc.proxy, tc.abi = p, parsed
	return tc
}

// deploy puts a fresh test contract on the chain and returns its address.
func (tc *testChain) deploy(t *testing.T) common.Address {
	t.Helper()
	return tc.deployNamed(t, "TestRegistry")
}

// deployNamed puts a fresh test contract of testdata/<name>.bin on the chain.
func (tc *testChain) deployNamed(t *testing.T, name string) common.Address {
	t.Helper()
	bin, err := os.ReadFile("testdata/" + name + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	code, err := hex.DecodeString(strings.TrimSpace(string(bin)))
	if err != nil {
		t.Fatal(err)
	}
	opts := bind.NewKeyedTransactor(tc.deployer, big.NewInt(simChainID))
	addr, tx, err := bind.DeployContract(opts, code, tc.sim.Client(), nil)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := bind.WaitDeployed(ctx, tc.sim.Client(), tx.Hash()); err != nil {
		t.Fatalf("wait deployed: %v", err)
	}
	return addr
}

// adapter returns the adapter on endpoints (the proxy when none), sending
// with the sender key to the contract at addr (both roles).
func (tc *testChain) adapter(t *testing.T, addr common.Address, mod func(*chain.Options), endpoints ...string) *chain.Chain {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = []string{tc.proxy.URL()}
	}
	o := chain.Options{ChainID: simChainID, PrivateKey: hex.EncodeToString(crypto.FromECDSA(tc.sender)),
		ReportAddress: addr.Hex(), MachineInfoAddress: addr.Hex(), ReceiptTimeout: 20 * time.Second, ReceiptPoll: 5 * time.Millisecond,
		CallTimeout: 2 * time.Second, ReadTimeout: 4 * time.Second}
	for _, u := range endpoints {
		o.Endpoints = append(o.Endpoints, &chain.Endpoint{URL: u})
	}
	if mod != nil {
		mod(&o)
	}
	c, err := chain.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call reads a view function of the test contract.
func (tc *testChain) call(t *testing.T, addr common.Address, method string, args ...any) []any {
	t.Helper()
	data, err := tc.abi.Pack(method, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tc.sim.Client().CallContract(context.Background(), ethereum.CallMsg{To: &addr, Data: data}, nil)
	if err != nil {
		t.Fatalf("call %s: %v", method, err)
	}
	vals, err := tc.abi.Unpack(method, out)
	if err != nil {
		t.Fatalf("unpack %s: %v", method, err)
	}
	return vals
}

// poolKeys are the hex keys of the first n pool keys.
func (tc *testChain) poolKeys(n int) []string {
	var out []string
	for _, k := range tc.pool[:n] {
		out = append(out, hex.EncodeToString(crypto.FromECDSA(k)))
	}
	return out
}

// senderNonces lists the nonces of every mined transaction from the sender.
func (tc *testChain) senderNonces(t *testing.T) []uint64 {
	t.Helper()
	return tc.noncesFrom(t, tc.sender)[crypto.PubkeyToAddress(tc.sender.PublicKey)]
}

// noncesFrom lists, per address of keys, the nonces of its mined transactions.
func (tc *testChain) noncesFrom(t *testing.T, keys ...*ecdsa.PrivateKey) map[common.Address][]uint64 {
	t.Helper()
	ctx := context.Background()
	c := tc.sim.Client()
	head, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[common.Address]bool{}
	for _, k := range keys {
		want[crypto.PubkeyToAddress(k.PublicKey)] = true
	}
	signer := types.LatestSignerForChainID(big.NewInt(simChainID))
	out := map[common.Address][]uint64{}
	for n := uint64(0); n <= head; n++ {
		b, err := c.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			if f, err := types.Sender(signer, tx); err == nil && want[f] {
				out[f] = append(out[f], tx.Nonce())
			}
		}
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// proxy forwards loopback TCP to the chain's RPC port; Down closes its
// listener and connections (the endpoint is unreachable), Up listens again
// on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.addr = net.JoinHostPort("127.0.0.1", itoa(freePort(t)))
	p.Up()
	t.Cleanup(func() { p.Down(); p.wg.Wait() })
	return p
}

// URL is the endpoint's JSON-RPC URL.
func (p *proxy) URL() string { return "http://" + p.addr }

func (p *proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

func (p *proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) pipe(c net.Conn) {
	if !p.track(c) {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	if !p.track(up) {
		_ = c.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
	wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}
