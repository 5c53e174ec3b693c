package transition_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"ddn/app/transition"
	"ddn/domain"
)

// effects records the calls Apply makes, failing the ones it is told to.
type effects struct {
	calls                []string
	recordErr, settleErr error
}

func (f *effects) Record(_ context.Context, e domain.Event) (domain.OutboxEntry, error) {
	f.calls = append(f.calls, "record")
	if f.recordErr != nil {
		return domain.OutboxEntry{}, f.recordErr
	}
	return domain.OutboxEntry{ID: string(e.Kind), Event: e}, nil
}

func (f *effects) Confirm(context.Context, domain.OutboxEntry) error {
	f.calls = append(f.calls, "confirm")
	return f.settleErr
}

func (f *effects) Cancel(ctx context.Context, _ domain.OutboxEntry) error {
	if ctx.Err() != nil {
		return ctx.Err() // Apply must cancel on a context that is still alive
	}
	f.calls = append(f.calls, "cancel")
	return f.settleErr
}

func TestApply(t *testing.T) {
	errWrite := errors.New("write failed")
	ev := domain.Event{Kind: domain.EventOffline, Key: domain.MachineKey{Project: "p", MachineID: "m"}}
	cases := []struct {
		name      string
		fx        effects
		outcome   transition.Outcome
		changeErr error
		calls     []string
		ran       bool
		is        []error
	}{
		{name: "happened", outcome: transition.Happened, calls: []string{"record", "confirm"}, ran: true},
		{name: "did not", outcome: transition.DidNot, calls: []string{"record", "cancel"}, ran: true},
		{name: "failed write", outcome: transition.DidNot, changeErr: errWrite, calls: []string{"record", "cancel"}, ran: true, is: []error{errWrite}},
		{name: "unknown stays pending", outcome: transition.Unknown, changeErr: errWrite, calls: []string{"record"}, ran: true, is: []error{errWrite}},
		{name: "duplicate skips the change", fx: effects{recordErr: domain.ErrDuplicate}, calls: []string{"record"}, is: []error{domain.ErrDuplicate}},
		{name: "unsettled", fx: effects{settleErr: errWrite}, outcome: transition.Happened, calls: []string{"record", "confirm"}, ran: true, is: []error{transition.ErrUnsettled, errWrite}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			ran := false
			_, err := transition.Apply(ctx, &c.fx, ev, func(context.Context) (transition.Outcome, error) {
				ran = true
				cancel() // the caller's context may end with the change
				return c.outcome, c.changeErr
			})
			cancel()
			if ran != c.ran {
				t.Errorf("change ran = %v, want %v", ran, c.ran)
			}
			if !slices.Equal(c.fx.calls, c.calls) {
				t.Errorf("calls = %v, want %v", c.fx.calls, c.calls)
			}
			if len(c.is) == 0 && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			for _, want := range c.is {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to match %v", err, want)
				}
			}
		})
	}
}

func TestApplyWithoutEffects(t *testing.T) {
	ran := false
	_, err := transition.Apply(context.Background(), nil, domain.Event{}, func(context.Context) (transition.Outcome, error) {
		ran = true
		return transition.DidNot, nil
	})
	if err != nil || !ran {
		t.Fatalf("Apply without effects: ran=%v err=%v, want the change run and no error", ran, err)
	}
}
