package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"ddn/domain"
	"ddn/ports"
)

// RentalCall is one notify transaction the fake FreeRental contract received.
type RentalCall struct {
	Type      domain.ReportType
	MachineID string
	TxHash    string
}

// Rental is the in-memory fake of the Rent contract (ports.RentRegistry)
// and the FreeRental contract (ports.FreeRental), with the test
// contracts' rules: notify(4) ends a FreeRental machine's rental. Safe for
// concurrent use.
type Rental struct {
	mu         sync.Mutex
	rented     map[string]bool // Rent contract
	free       map[string]bool // FreeRental: registered machines and whether rented
	calls      []RentalCall
	rentReads  int
	failWith   error
	notifyFail error
}

var (
	_ ports.RentRegistry = (*Rental)(nil)
	_ ports.FreeRental   = (*Rental)(nil)
)

// NewRental returns contracts on which no machine is rented or registered.
func NewRental() *Rental { return &Rental{rented: map[string]bool{}, free: map[string]bool{}} }

// SetRented sets what isRented answers for a machine.
func (r *Rental) SetRented(machineID string, rented bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rented[machineID] = rented
}

// SetFreeRental registers a machine on the FreeRental contract, rented or not.
func (r *Rental) SetFreeRental(machineID string, rented bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.free[machineID] = rented
}

// FailWith makes every later read fail with err (nil heals it).
func (r *Rental) FailWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failWith = err
}

// FailNotifyWith makes every later notify fail with err (nil heals it).
func (r *Rental) FailNotifyWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notifyFail = err
}

// Calls returns a copy of every notify received, in order.
func (r *Rental) Calls() []RentalCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// RentReads counts the isRented calls answered.
func (r *Rental) RentReads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rentReads
}

// IsRented implements ports.RentRegistry.
func (r *Rental) IsRented(_ context.Context, machineID string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failWith != nil {
		return false, r.failWith
	}
	r.rentReads++
	return r.rented[machineID], nil
}

// FreeRentalRegistered implements ports.FreeRental.
func (r *Rental) FreeRentalRegistered(_ context.Context, machineID string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failWith != nil {
		return false, r.failWith
	}
	_, ok := r.free[machineID]
	return ok, nil
}

// FreeRentalRented implements ports.FreeRental.
func (r *Rental) FreeRentalRented(_ context.Context, machineID string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failWith != nil {
		return false, r.failWith
	}
	return r.free[machineID], nil
}

// NotifyFreeRental implements ports.FreeRental.
func (r *Rental) NotifyFreeRental(_ context.Context, tp domain.ReportType, machineID string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notifyFail != nil {
		return "", r.notifyFail
	}
	if _, ok := r.free[machineID]; ok && tp == domain.ReportMachineOffline {
		r.free[machineID] = false
	}
	hash := fmt.Sprintf("0xf%063x", len(r.calls)+1)
	r.calls = append(r.calls, RentalCall{Type: tp, MachineID: machineID, TxHash: hash})
	return hash, nil
}

// Guard is the in-memory fake of ports.OfflineGuard: it answers what was
// set per machine (false by default) and records what it was asked.
type Guard struct {
	mu       sync.Mutex
	online   map[string]bool
	asked    []domain.MachineKey
	failWith error
}

var _ ports.OfflineGuard = (*Guard)(nil)

// NewGuard returns a guard that finds no offline false.
func NewGuard() *Guard { return &Guard{online: map[string]bool{}} }

// SetOnline sets whether the backend sees the machine online (a false offline).
func (g *Guard) SetOnline(machineID string, online bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.online[machineID] = online
}

// FailWith makes every later question fail with err (nil heals it).
func (g *Guard) FailWith(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failWith = err
}

// Asked returns the machines asked about, in order.
func (g *Guard) Asked() []domain.MachineKey {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.asked)
}

// FalseOffline implements ports.OfflineGuard.
func (g *Guard) FalseOffline(_ context.Context, key domain.MachineKey) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, key)
	if g.failWith != nil {
		return false, g.failWith
	}
	return g.online[key.MachineID], nil
}
