package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors of the core; adapters map them to wire codes with CodeOf.
var (
	// ErrInvalidParam: a field is missing or invalid, or the type is unknown.
	ErrInvalidParam = errors.New("parameter error")
	// ErrParse: the envelope or body is not valid JSON or base64.
	ErrParse = errors.New("parsing error")
	// ErrSignature: a signature is present but invalid.
	ErrSignature = errors.New("sign error")
	// ErrStore: the store failed; nothing was acknowledged.
	ErrStore = errors.New("database error")
	// ErrAlreadyBound: the connection already went online as some machine.
	ErrAlreadyBound = errors.New("machine has been online, repeated requests")
	// ErrMachineHeld: another live connection in the cluster holds the machine.
	ErrMachineHeld = errors.New("machine has been online, repeated connection")
	// ErrNotRegistered: the chain does not know the machine.
	ErrNotRegistered = errors.New("machine not registered")
	// ErrNotOnline: machine info arrived before a successful online.
	ErrNotOnline = errors.New("machine id is empty, need send online request first")
	// ErrInvalidInfo: machine info that cannot be scored.
	ErrInvalidInfo = errors.New("invalid machine info")
	// ErrChain: the chain could not be read or written.
	ErrChain = errors.New("chain error")
	// ErrGeo: geolocation failed.
	ErrGeo = errors.New("ip2location error")
	// ErrNotFound: the store holds no such document.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a record with that identity exists already.
	ErrDuplicate = errors.New("already exists")
	// ErrNotNow: another node is doing this right now (e.g. it holds the
	// chain sender lease); try again soon, it is not a failed attempt.
	ErrNotNow = errors.New("busy elsewhere, try again soon")
	// ErrNoEffect: a target settled a side effect without doing anything
	// (the chain already agrees, the offline policy reports no such
	// machine); targets that follow it (the webhook after the chain) are
	// settled without a call too.
	ErrNoEffect = errors.New("nothing to do")
	// ErrInvalidTransition: a presence change the state machine forbids.
	ErrInvalidTransition = errors.New("invalid presence transition")
)

// FieldError names the offending field of a rejected body; it is a parameter error.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s %s", e.Field, e.Reason) }

// Unwrap makes every FieldError match ErrInvalidParam.
func (e *FieldError) Unwrap() error { return ErrInvalidParam }

// Code is a result code of the wire protocol (PROTOCOL.md, "Error codes").
type Code uint32

// Result codes of the wire protocol.
const (
	CodeOK          Code = 0
	CodeParameter   Code = 1
	CodeParse       Code = 2
	CodeSign        Code = 3
	CodeDatabase    Code = 4
	CodeOnline      Code = 5
	CodeInvalidInfo Code = 6
	CodeChain       Code = 7
	CodeIP2Location Code = 8
	CodeInternal    Code = 9
)

// CodeOf maps an error of the core to the wire code the protocol asks for.
func CodeOf(err error) Code {
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, ErrInvalidParam):
		return CodeParameter
	case errors.Is(err, ErrParse):
		return CodeParse
	case errors.Is(err, ErrSignature):
		return CodeSign
	case errors.Is(err, ErrStore):
		return CodeDatabase
	case errors.Is(err, ErrAlreadyBound), errors.Is(err, ErrMachineHeld), errors.Is(err, ErrNotRegistered):
		return CodeOnline
	case errors.Is(err, ErrNotOnline), errors.Is(err, ErrInvalidInfo):
		return CodeInvalidInfo
	case errors.Is(err, ErrChain):
		return CodeChain
	case errors.Is(err, ErrGeo):
		return CodeIP2Location
	}
	return CodeInternal
}
