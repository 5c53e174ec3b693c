package chain_test

import (
	"context"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"

	"ddn/adapters/chain"
	"ddn/domain"
	"ddn/ports/rentaltest"
)

// rentalContracts are the TestRent and TestFreeRental contracts deployed
// on a simulated chain, driven by the deployer key.
type rentalContracts struct {
	tc         *testChain
	rent, free common.Address
	rentABI    gethabi.ABI
	freeABI    gethabi.ABI
}

func testABI(t *testing.T, name string) gethabi.ABI {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name + ".abi")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gethabi.JSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

func newRentalContracts(t *testing.T, tc *testChain) *rentalContracts {
	t.Helper()
	return &rentalContracts{tc: tc, rent: tc.deployNamed(t, "TestRent"), free: tc.deployNamed(t, "TestFreeRental"),
		rentABI: testABI(t, "TestRent"), freeABI: testABI(t, "TestFreeRental")}
}

// send mines a transaction of the deployer to a test contract.
func (rc *rentalContracts) send(t *testing.T, addr common.Address, a gethabi.ABI, method string, args ...any) {
	t.Helper()
	c := rc.tc.sim.Client()
	opts := bind.NewKeyedTransactor(rc.tc.deployer, big.NewInt(simChainID))
	tx, err := bind.NewBoundContract(addr, a, c, c, c).Transact(opts, method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := bind.WaitMined(ctx, c, tx.Hash()); err != nil {
		t.Fatalf("%s: wait mined: %v", method, err)
	}
}

func (rc *rentalContracts) SetRented(t *testing.T, id string, rented bool) {
	rc.send(t, rc.rent, rc.rentABI, "setRented", id, rented)
}

func (rc *rentalContracts) RegisterFreeRental(t *testing.T, id string, rented bool) {
	rc.send(t, rc.free, rc.freeABI, "register", id, big.NewInt(3))
	rc.send(t, rc.free, rc.freeABI, "setRented", id, rented)
}

func (rc *rentalContracts) FailReads(t *testing.T, fail bool) {
	rc.send(t, rc.rent, rc.rentABI, "setFailing", fail)
	rc.send(t, rc.free, rc.freeABI, "setFailing", fail)
}

func (rc *rentalContracts) Notified(t *testing.T, id string) int {
	t.Helper()
	data, err := rc.freeABI.Pack("notifyCount", id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := rc.tc.sim.Client().CallContract(context.Background(), ethereum.CallMsg{To: &rc.free, Data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := rc.freeABI.Unpack("notifyCount", out)
	if err != nil {
		t.Fatal(err)
	}
	return int(vals[0].(*big.Int).Int64())
}

func TestRentalContractsOnSimulatedChain(t *testing.T) {
	tc := newTestChain(t)
	reg := tc.deploy(t)
	rentaltest.Run(t, func(t *testing.T) (rentaltest.Contracts, rentaltest.Control) {
		rc := newRentalContracts(t, tc)
		c := tc.adapter(t, reg, func(o *chain.Options) { o.RentAddress, o.FreeRentalAddress = rc.rent.Hex(), rc.free.Hex() })
		return c, rc
	})
}

// An unconfigured rental contract is an error to call, and an address that
// is not one, or an ABI without the functions, stops startup naming the key.
func TestRentalContractsConfiguration(t *testing.T) {
	tc := newTestChain(t)
	reg := tc.deploy(t)
	c := tc.adapter(t, reg, nil)
	if c.HasRent() || c.HasFreeRental() {
		t.Fatal("rental contracts configured without addresses")
	}
	if _, err := c.IsRented(context.Background(), "m"); err == nil {
		t.Fatal("IsRented without a Rent contract answered")
	}
	for _, tt := range []struct {
		mod  func(*chain.Options)
		want string
	}{
		{func(o *chain.Options) { o.RentAddress = "0x12" }, "Chain.RentContract.ContractAddress"},
		{func(o *chain.Options) { o.FreeRentalAddress = "nope" }, "Chain.FreeRentalContract.ContractAddress"},
		{func(o *chain.Options) { o.RentAddress, o.RentABIFile = reg.Hex(), "testdata/TestRegistry.abi" }, "Chain.RentContract.AbiFile: the ABI has no function isRented"},
	} {
		o := chain.Options{ChainID: simChainID, PrivateKey: "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
			ReportAddress: reg.Hex(), MachineInfoAddress: reg.Hex(), Endpoints: []*chain.Endpoint{{URL: tc.proxy.URL()}}}
		tt.mod(&o)
		if _, err := chain.New(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Fatalf("New: %v, want an error naming %q", err, tt.want)
		}
	}
}

// ReportTx answers the hash of the mined transaction that carried the report.
func TestReportTxAnswersTheMinedTransaction(t *testing.T) {
	tc := newTestChain(t)
	reg := tc.deploy(t)
	c := tc.adapter(t, reg, nil)
	ctx := context.Background()
	hash, err := c.ReportTx(ctx, domain.ReportMachineRegister, domain.MachineKey{MachineID: "m-tx", Project: "p"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := tc.sim.Client().TransactionReceipt(ctx, common.HexToHash(hash))
	if err != nil || rcpt.Status != 1 {
		t.Fatalf("receipt of %s: %+v, %v; want a successful mined transaction", hash, rcpt, err)
	}
}
