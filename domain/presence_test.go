package domain

import (
	"errors"
	"testing"
	"time"
)

func TestStateNext(t *testing.T) {
	tests := []struct {
		from State
		on   Trigger
		want State
		ok   bool
	}{
		{StateUnknown, TriggerConnect, StateOnline, true},
		{StateOffline, TriggerConnect, StateOnline, true},
		{StateDisconnected, TriggerConnect, StateOnline, true},
		{StateOnline, TriggerConnect, StateOnline, true},
		{StateOnline, TriggerDisconnect, StateDisconnected, true},
		{StateDisconnected, TriggerGraceExpired, StateOffline, true},
		{StateUnknown, TriggerDisconnect, StateUnknown, false},
		{StateOffline, TriggerDisconnect, StateOffline, false},
		{StateOnline, TriggerGraceExpired, StateOnline, false},
		{StateOffline, TriggerGraceExpired, StateOffline, false},
	}
	for _, tt := range tests {
		got, err := tt.from.Next(tt.on)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("%q on %s: got %q, %v; want %q, ok=%v", tt.from, tt.on, got, err, tt.want, tt.ok)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("%q on %s: error %v is not ErrInvalidTransition", tt.from, tt.on, err)
		}
	}
}

func TestGraceExpired(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 5 * time.Minute
	if GraceExpired(since, since.Add(grace-time.Millisecond), grace) {
		t.Error("expired before the grace period ended")
	}
	if !GraceExpired(since, since.Add(grace), grace) {
		t.Error("not expired when the grace period ended")
	}
	if GraceExpired(time.Time{}, since, grace) {
		t.Error("a machine never disconnected cannot expire")
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want Code
	}{
		{nil, CodeOK},
		{&FieldError{Field: "x", Reason: "bad"}, CodeParameter},
		{ErrParse, CodeParse},
		{ErrSignature, CodeSign},
		{ErrStore, CodeDatabase},
		{ErrAlreadyBound, CodeOnline},
		{ErrMachineHeld, CodeOnline},
		{ErrNotRegistered, CodeOnline},
		{ErrNotOnline, CodeInvalidInfo},
		{ErrInvalidInfo, CodeInvalidInfo},
		{ErrChain, CodeChain},
		{ErrGeo, CodeIP2Location},
		{errors.New("boom"), CodeInternal},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
