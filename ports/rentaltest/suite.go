// Package rentaltest is the contract every implementation of the Rent and
// FreeRental ports must honour, run against the in-memory fake and
// against the go-ethereum adapter on a simulated chain with the test
// contracts, so the two cannot drift.
package rentaltest

import (
	"context"
	"strings"
	"testing"

	"ddn/domain"
	"ddn/ports"
)

// Contracts is both rental contracts of one chain.
type Contracts interface {
	ports.RentRegistry
	ports.FreeRental
}

// Control sets the contracts' state as a test needs it (on a real chain:
// transactions to the test contracts).
type Control interface {
	// SetRented sets what the Rent contract's isRented answers.
	SetRented(t *testing.T, machineID string, rented bool)
	// RegisterFreeRental registers a FreeRental machine, rented or not.
	RegisterFreeRental(t *testing.T, machineID string, rented bool)
	// FailReads makes every read of both contracts fail (or heals them).
	FailReads(t *testing.T, fail bool)
	// Notified counts the notify calls the FreeRental contract received for a machine.
	Notified(t *testing.T, machineID string) int
}

// Run runs the contract; open returns fresh contracts for each subtest,
// on which nothing is rented or registered.
func Run(t *testing.T, open func(t *testing.T) (Contracts, Control)) {
	tests := []struct {
		name string
		fn   func(*testing.T, Contracts, Control)
	}{
		{"NothingRentedOrRegistered", nothing},
		{"IsRentedFollowsTheContract", rented},
		{"FreeRentalMachineRegisteredAndRented", freeRental},
		{"NotifyOfflineEndsTheRental", notifyOffline},
		{"FailingReadsAreErrors", failing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ctl := open(t)
			tt.fn(t, c, ctl)
		})
	}
}

var ctx = context.Background()

func want(t *testing.T, what string, got bool, err error, w bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != w {
		t.Fatalf("%s = %v, want %v", what, got, w)
	}
}

func nothing(t *testing.T, c Contracts, _ Control) {
	r, err := c.IsRented(ctx, "m-none")
	want(t, "IsRented", r, err, false)
	r, err = c.FreeRentalRegistered(ctx, "m-none")
	want(t, "FreeRentalRegistered", r, err, false)
	r, err = c.FreeRentalRented(ctx, "m-none")
	want(t, "FreeRentalRented", r, err, false)
}

func rented(t *testing.T, c Contracts, ctl Control) {
	ctl.SetRented(t, "m-rent", true)
	r, err := c.IsRented(ctx, "m-rent")
	want(t, "IsRented after a rent", r, err, true)
	r, err = c.IsRented(ctx, "m-other")
	want(t, "IsRented of another machine", r, err, false)
	r, err = c.FreeRentalRegistered(ctx, "m-rent")
	want(t, "a rented staked machine on the FreeRental contract", r, err, false)
	ctl.SetRented(t, "m-rent", false)
	r, err = c.IsRented(ctx, "m-rent")
	want(t, "IsRented after the rent ended", r, err, false)
}

func freeRental(t *testing.T, c Contracts, ctl Control) {
	ctl.RegisterFreeRental(t, "m-free", false)
	r, err := c.FreeRentalRegistered(ctx, "m-free")
	want(t, "FreeRentalRegistered", r, err, true)
	r, err = c.FreeRentalRented(ctx, "m-free")
	want(t, "FreeRentalRented before a rent", r, err, false)
	ctl.RegisterFreeRental(t, "m-free", true)
	r, err = c.FreeRentalRented(ctx, "m-free")
	want(t, "FreeRentalRented", r, err, true)
	r, err = c.IsRented(ctx, "m-free")
	want(t, "a FreeRental machine on the Rent contract", r, err, false)
}

func notifyOffline(t *testing.T, c Contracts, ctl Control) {
	ctl.RegisterFreeRental(t, "m-free", true)
	hash, err := c.NotifyFreeRental(ctx, domain.ReportMachineOffline, "m-free")
	if err != nil {
		t.Fatalf("NotifyFreeRental: %v", err)
	}
	if len(hash) != 66 || !strings.HasPrefix(hash, "0x") {
		t.Fatalf("transaction hash %q, want 0x and 64 hex digits", hash)
	}
	if n := ctl.Notified(t, "m-free"); n != 1 {
		t.Fatalf("notify calls received = %d, want 1", n)
	}
	r, err := c.FreeRentalRented(ctx, "m-free")
	want(t, "FreeRentalRented after notify(4)", r, err, false)
}

func failing(t *testing.T, c Contracts, ctl Control) {
	ctl.SetRented(t, "m-rent", true)
	ctl.RegisterFreeRental(t, "m-free", true)
	ctl.FailReads(t, true)
	if _, err := c.IsRented(ctx, "m-rent"); err == nil {
		t.Fatal("IsRented on a failing contract answered")
	}
	if _, err := c.FreeRentalRegistered(ctx, "m-free"); err == nil {
		t.Fatal("FreeRentalRegistered on a failing contract answered")
	}
	if _, err := c.FreeRentalRented(ctx, "m-free"); err == nil {
		t.Fatal("FreeRentalRented on a failing contract answered")
	}
	ctl.FailReads(t, false)
	r, err := c.IsRented(ctx, "m-rent")
	want(t, "IsRented after the contract healed", r, err, true)
}
