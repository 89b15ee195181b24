package loader

import "time"

// TransientError is implemented by the errors of a target that know
// whether their condition may clear by itself. Transient reports true for
// an unreachable or overloaded system (no connection, a timeout, a rate
// limit, a gateway error), false for one that needs a change first
// (credentials, permissions, a rejected request).
type TransientError interface {
	error
	Transient() bool
}

// RetryAfterError is implemented by the errors of a target that know how
// long to wait before trying again (ServiceNow's Retry-After).
type RetryAfterError interface {
	error
	RetryAfterHint() time.Duration
}

// IsTransient reports whether err, returned by a Target's call or by
// Apply or Preview (which wrap it, see [StepError]), is a condition that
// may clear by itself, so the same load is worth running again later; the
// journal and the matches keep a re-run from writing anything twice.
//
// It looks through the whole chain (errors.Unwrap, also several wrapped
// errors) for a [TransientError]: err is transient when some error in the
// chain says so and none says the opposite. An error without such an
// error in its chain is not transient: an invalid plan, a value a target
// cannot query, several matching records, a cancelled context (the
// caller's own decision), or a target that does not classify its errors.
func IsTransient(err error) bool {
	transient := false
	permanent := walk(err, func(e error) bool {
		t, ok := e.(TransientError)
		if !ok {
			return false
		}
		if !t.Transient() {
			return true
		}
		transient = true
		return false
	})
	return transient && !permanent
}

// RetryAfter returns the longest wait an error in err's chain asks for
// before trying again ([RetryAfterError]); ok is false when none asks.
func RetryAfter(err error) (wait time.Duration, ok bool) {
	walk(err, func(e error) bool {
		if r, is := e.(RetryAfterError); is && r.RetryAfterHint() > wait {
			wait, ok = r.RetryAfterHint(), true
		}
		return false
	})
	return wait, ok
}

// walk calls f on err and every error it wraps, depth first, until f
// returns true; it reports whether f did.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}
