package memory_test

import (
	"errors"
	"testing"

	"ddn/adapters/memory"
	"ddn/ports"
	"ddn/ports/guardtest"
	"ddn/ports/rentaltest"
)

// rentalControl drives the fake contracts for the suite.
type rentalControl struct{ r *memory.Rental }

func (c rentalControl) SetRented(_ *testing.T, id string, rented bool) { c.r.SetRented(id, rented) }
func (c rentalControl) RegisterFreeRental(_ *testing.T, id string, rented bool) {
	c.r.SetFreeRental(id, rented)
}

func (c rentalControl) FailReads(_ *testing.T, fail bool) {
	var err error
	if fail {
		err = errors.New("execution reverted")
	}
	c.r.FailWith(err)
}

func (c rentalControl) Notified(_ *testing.T, id string) int {
	n := 0
	for _, call := range c.r.Calls() {
		if call.MachineID == id {
			n++
		}
	}
	return n
}

func TestRentalContract(t *testing.T) {
	rentaltest.Run(t, func(*testing.T) (rentaltest.Contracts, rentaltest.Control) {
		r := memory.NewRental()
		return r, rentalControl{r}
	})
}

type guardControl struct{ g *memory.Guard }

func (c guardControl) SetOnline(_ *testing.T, id string, online bool) { c.g.SetOnline(id, online) }
func (c guardControl) Break(*testing.T)                               { c.g.FailWith(errors.New("connection refused")) }

func TestGuardContract(t *testing.T) {
	guardtest.Run(t, func(*testing.T) (ports.OfflineGuard, guardtest.Control) {
		g := memory.NewGuard()
		return g, guardControl{g}
	})
}
