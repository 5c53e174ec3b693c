package chain

import (
	"context"
	"errors"
	"fmt"

	ethereum "github.com/ethereum/go-ethereum"
	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"ddn/abi"
	"ddn/domain"
	"ddn/ports"
)

// contract is an optional contract: its address and ABI.
type contract struct {
	addr common.Address
	abi  gethabi.ABI
}

var (
	_ ports.RentRegistry = (*Chain)(nil)
	_ ports.FreeRental   = (*Chain)(nil)
	_ ports.TxReporter   = (*Chain)(nil)
)

// errNotConfigured answers a call of a rental contract that is not configured.
var errNotConfigured = errors.New("contract not configured")

// loadRental reads the Rent and FreeRental contracts' addresses and ABIs
// when their addresses are set.
func (c *Chain) loadRental(o Options) error {
	load := func(key, addr, file string, embedded []byte, methods ...string) (*contract, error) {
		if addr == "" {
			return nil, nil
		}
		a, err := address(key+".ContractAddress", addr)
		if err != nil {
			return nil, err
		}
		parsed, err := loadABI(key+".AbiFile", file, embedded, methods...)
		if err != nil {
			return nil, err
		}
		return &contract{addr: a, abi: parsed}, nil
	}
	var err error
	if c.rent, err = load("Chain.RentContract", o.RentAddress, o.RentABIFile, abi.Rent, "isRented"); err != nil {
		return err
	}
	c.freeRental, err = load("Chain.FreeRentalContract", o.FreeRentalAddress, o.FreeRentalABIFile, abi.FreeRental,
		"machines", "machineIsRented", "notify")
	return err
}

// HasRent tells whether the Rent contract is configured.
func (c *Chain) HasRent() bool { return c.rent != nil }

// HasFreeRental tells whether the FreeRental contract is configured.
func (c *Chain) HasFreeRental() bool { return c.freeRental != nil }

// call runs a view function of k and unpacks its answer.
func (c *Chain) call(ctx context.Context, k *contract, method string, args ...any) ([]any, error) {
	if k == nil {
		return nil, fmt.Errorf("%s: %w", method, errNotConfigured)
	}
	data, err := k.abi.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", method, err)
	}
	var out []byte
	err = c.eps.do(ctx, func(r RPC) error {
		cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
		var err error
		out, err = r.CallContract(cctx, ethereum.CallMsg{From: c.from, To: &k.addr, Data: data}, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	vals, err := k.abi.Unpack(method, out)
	if err != nil {
		return nil, fmt.Errorf("%s: unexpected answer %x: %w", method, out, err)
	}
	return vals, nil
}

// boolAt is the i-th answer of a view function as a bool.
func boolAt(method string, vals []any, i int) (bool, error) {
	if len(vals) <= i {
		return false, fmt.Errorf("%s: %d answers, want at least %d", method, len(vals), i+1)
	}
	b, ok := vals[i].(bool)
	if !ok {
		return false, fmt.Errorf("%s: answer %d is %T, not bool", method, i, vals[i])
	}
	return b, nil
}

// IsRented implements ports.RentRegistry with the Rent contract's isRented.
func (c *Chain) IsRented(ctx context.Context, machineID string) (bool, error) {
	vals, err := c.call(ctx, c.rent, "isRented", machineID)
	if err != nil {
		return false, fmt.Errorf("rent contract: %w", err)
	}
	return boolAt("isRented", vals, 0)
}

// FreeRentalRegistered implements ports.FreeRental with machines(id).registered.
func (c *Chain) FreeRentalRegistered(ctx context.Context, machineID string) (bool, error) {
	vals, err := c.call(ctx, c.freeRental, "machines", machineID)
	if err != nil {
		return false, fmt.Errorf("FreeRental contract: %w", err)
	}
	return boolAt("machines", vals, 2)
}

// FreeRentalRented implements ports.FreeRental with machineIsRented.
func (c *Chain) FreeRentalRented(ctx context.Context, machineID string) (bool, error) {
	vals, err := c.call(ctx, c.freeRental, "machineIsRented", machineID)
	if err != nil {
		return false, fmt.Errorf("FreeRental contract: %w", err)
	}
	return boolAt("machineIsRented", vals, 0)
}

// NotifyFreeRental implements ports.FreeRental with notify(tp, machineId).
func (c *Chain) NotifyFreeRental(ctx context.Context, tp domain.ReportType, machineID string) (string, error) {
	if c.freeRental == nil {
		return "", fmt.Errorf("FreeRental notify: %w", errNotConfigured)
	}
	data, err := c.freeRental.abi.Pack("notify", uint8(tp), machineID)
	if err != nil {
		return "", fmt.Errorf("pack notify: %w", err)
	}
	return c.pool.send(ctx, "notify", c.freeRental.addr, data)
}
