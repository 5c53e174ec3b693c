package memory_test

import (
	"errors"
	"testing"

	"ddn/adapters/memory"
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
