package staging

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Conditions callers test with errors.Is.
var (
	// ErrNotFound: no record (attachment, email, quarantine entry) with
	// that id or number.
	ErrNotFound = errors.New("staging: not found")
	// ErrConflict: the record changed since the caller read it (IfVersion),
	// or a concurrent change won. Reload the record and try again.
	ErrConflict = errors.New("staging: the record was changed concurrently")
	// ErrIllegalTransition: the action is not allowed in the record's state.
	// The *TransitionError says which states allow it.
	ErrIllegalTransition = errors.New("staging: action not allowed in this state")
	// ErrInvalidInput: a payload, email or argument is incomplete. The
	// *InputError lists every problem.
	ErrInvalidInput = errors.New("staging: invalid input")
	// ErrClosed: Intake was called after Store.Close. Stage deals before
	// closing the store, or on a new Store.
	ErrClosed = errors.New("staging: the store is closed (Store.Close was called): deals are no longer accepted")
)

// TransitionError says that an action was refused because of the record's
// state, and which states allow it.
type TransitionError struct {
	Record  string  // the record's number, such as BB0001001
	Action  Action  // what was attempted
	State   State   // the state the record is in
	Allowed []State // the states in which Action is allowed
	Reason  string  // a further condition that failed, if any
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("staging: cannot %s on %s in state %s", e.Action, e.Record, e.State)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if slices.Contains(e.Allowed, e.State) {
		// The state allows the action; Reason says what else stood in the
		// way, and "allowed only in" that very state would only confuse.
		return msg
	}
	return msg + "; allowed only in " + stateList(e.Allowed)
}

// Unwrap makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// ConflictError says that the record's version was not the expected one.
type ConflictError struct {
	Record   string
	Expected int64 // the version the caller had read
	Actual   int64 // the version in the store
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("staging: %s was changed by someone else (your version %d, now %d): reload it and try again",
		e.Record, e.Expected, e.Actual)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// InputError lists every problem of a payload, email or argument.
type InputError struct {
	What     string   // "payload", "email", ...
	Problems []string // each says what is missing and what to send
}

func (e *InputError) Error() string {
	return fmt.Sprintf("staging: invalid %s: %s", e.What, strings.Join(e.Problems, "; "))
}

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

func notFound(what string, key any) error {
	return fmt.Errorf("%w: %s %v", ErrNotFound, what, key)
}
