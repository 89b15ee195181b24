package bookbridge

import (
	"errors"

	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// ErrorKind is the kind of problem an error of the Flow reports, for a
// caller that answers it (an HTTP status, an exit code). The kinds are
// bookbridge's; how each is answered is the caller's.
type ErrorKind int

// The kinds of errors, from KindOf.
const (
	// KindInternal: the store or the Flow failed; the same call may be
	// made again later.
	KindInternal ErrorKind = iota
	// KindMalformed: the input is not a usable document (malformed JSON,
	// duplicate keys, invalid UTF-8, not one object): *sfdc.DecodeError.
	KindMalformed
	// KindTooLarge: the input is over its size limit (sfdc.ErrTooLarge).
	KindTooLarge
	// KindInvalid: the input breaks the rules; a *sfdc.ValidationError
	// lists every problem, a *staging.InputError what is missing.
	KindInvalid
	// KindNotFound: what the caller named does not exist.
	KindNotFound
	// KindConflict: the record changed since the caller read it
	// (*staging.ConflictError).
	KindConflict
	// KindNotLoadable: the record cannot be loaded in its state or shape
	// (*staging.TransitionError, *NotLoadableError).
	KindNotLoadable
	// KindPlanFailed: the rules could not plan the record (*PlanError).
	KindPlanFailed
	// KindTargetFailed: the load target failed to answer (*TargetError).
	KindTargetFailed
	// KindNoDrift: there is no drift to acknowledge (ErrNoDrift).
	KindNoDrift
	// KindRulesInvalid: a rule file does not compile
	// (*mapping.CompileError, with every FILE:LINE:COL problem).
	KindRulesInvalid
	// KindRulesMismatch: a bulk reload was asked for other rules than
	// those in use (*RulesMismatchError).
	KindRulesMismatch
)

var kindNames = [...]string{"internal", "malformed", "too_large", "invalid", "not_found", "conflict", "not_loadable", "plan_failed", "target_failed", "no_drift", "rules_invalid", "rules_mismatch"}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "internal"
}

// KindOf returns the kind of err.
func KindOf(err error) ErrorKind {
	var (
		decode     *sfdc.DecodeError
		validation *sfdc.ValidationError
		input      *staging.InputError
		conflict   *staging.ConflictError
		transition *staging.TransitionError
		refused    *NotLoadableError
		plan       *PlanError
		target     *TargetError
		compile    *mapping.CompileError
		mismatch   *RulesMismatchError
	)
	switch {
	case err == nil:
		return KindInternal
	case errors.Is(err, sfdc.ErrTooLarge):
		return KindTooLarge
	case errors.As(err, &decode):
		return KindMalformed
	case errors.As(err, &validation), errors.As(err, &input):
		return KindInvalid
	case errors.Is(err, staging.ErrNotFound):
		return KindNotFound
	case errors.As(err, &conflict):
		return KindConflict
	case errors.As(err, &transition), errors.As(err, &refused):
		return KindNotLoadable
	case errors.As(err, &plan):
		return KindPlanFailed
	case errors.As(err, &target):
		return KindTargetFailed
	case errors.Is(err, ErrNoDrift):
		return KindNoDrift
	case errors.As(err, &compile):
		return KindRulesInvalid
	case errors.As(err, &mismatch):
		return KindRulesMismatch
	}
	return KindInternal
}
