// Package guardtest is the contract every ports.OfflineGuard must honour,
// run against the in-memory fake and against the webhook adapter with a
// loopback receiver, so the two cannot drift.
package guardtest

import (
	"context"
	"testing"

	"ddn/domain"
	"ddn/ports"
)

// Control sets what the backend behind the guard answers.
type Control interface {
	// SetOnline makes the backend see the machine online (a false offline).
	SetOnline(t *testing.T, machineID string, online bool)
	// Break makes the backend give no usable answer (unreachable, an error
	// status, a body that does not parse).
	Break(t *testing.T)
}

// Run runs the contract; open returns a fresh guard for each subtest.
func Run(t *testing.T, open func(t *testing.T) (ports.OfflineGuard, Control)) {
	tests := []struct {
		name string
		fn   func(*testing.T, ports.OfflineGuard, Control)
	}{
		{"AnOfflineIsRealByDefault", byDefault},
		{"TheBackendSeesTheMachineOnline", seenOnline},
		{"NoUsableAnswerIsAnError", broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ctl := open(t)
			tt.fn(t, g, ctl)
		})
	}
}

var (
	ctx = context.Background()
	key = domain.MachineKey{MachineID: "m-guard", Project: "DeepLinkEVM"}
)

func byDefault(t *testing.T, g ports.OfflineGuard, _ Control) {
	if yes, err := g.FalseOffline(ctx, key); err != nil || yes {
		t.Fatalf("FalseOffline = %v, %v; want false", yes, err)
	}
}

func seenOnline(t *testing.T, g ports.OfflineGuard, ctl Control) {
	ctl.SetOnline(t, key.MachineID, true)
	if yes, err := g.FalseOffline(ctx, key); err != nil || !yes {
		t.Fatalf("FalseOffline = %v, %v; want true", yes, err)
	}
	other := domain.MachineKey{MachineID: "m-other", Project: key.Project}
	if yes, err := g.FalseOffline(ctx, other); err != nil || yes {
		t.Fatalf("FalseOffline of another machine = %v, %v; want false", yes, err)
	}
}

func broken(t *testing.T, g ports.OfflineGuard, ctl Control) {
	ctl.SetOnline(t, key.MachineID, true)
	ctl.Break(t)
	if yes, err := g.FalseOffline(ctx, key); err == nil || yes {
		t.Fatalf("FalseOffline of a broken backend = %v, %v; want false and an error", yes, err)
	}
}
