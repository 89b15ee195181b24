package servicenow

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

// Conditions for errors.Is.
var (
	// ErrUnauthorized: 401, the credentials were refused.
	ErrUnauthorized = errors.New("servicenow: not authenticated")
	// ErrForbidden: 403, the user lacks a role or an ACL denies the call.
	ErrForbidden = errors.New("servicenow: forbidden")
	// ErrRateLimited: 429 answers went on for longer than
	// Config.MaxElapsed, or asked for a wait longer than
	// Config.MaxRetryAfter (then the call was not sent at all, or its
	// answer was this 429).
	ErrRateLimited = errors.New("servicenow: rate limited")
	// ErrUnknownField: a query named a field the table does not have;
	// ServiceNow would have ignored the condition.
	ErrUnknownField = errors.New("servicenow: unknown field")
)

var (
	_ loader.TransientError  = (*Error)(nil)
	_ loader.RetryAfterError = (*Error)(nil)
)

// Error is an answer of ServiceNow other than success. Message and Detail
// are ServiceNow's error.message and error.detail.
type Error struct {
	Method string
	// Table is the table of the call ("attachment" for the Attachment API).
	Table   string
	Status  int
	Message string
	Detail  string
	// Body holds the start of an answer that was not ServiceNow's error
	// JSON (a gateway's HTML page, say).
	Body string
	// RetryAfter is the wait the answer asked for, if any.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "servicenow: %s %s: %d %s", e.Method, e.Table, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	if e.Message == "" && e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; ServiceNow asks to retry after %s", e.RetryAfter)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; " + hint)
	}
	return b.String()
}

func (e *Error) hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "check the user name and password (or the OAuth client id and secret) in the ServiceNow settings"
	case http.StatusForbidden:
		return fmt.Sprintf("give the integration user the roles and ACLs to read and write %s", e.Table)
	case http.StatusTooManyRequests:
		return "the instance's REST rate limit is reached; lower RateLimit or ask the ServiceNow admins for a higher limit, then load again (the journal resumes)"
	case http.StatusBadRequest:
		return "ServiceNow rejected the request; check the table and field names in the mapping rules"
	}
	return ""
}

// Is maps statuses onto the loader's and this package's conditions.
func (e *Error) Is(target error) bool {
	switch target {
	case loader.ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// Transient reports whether the status may clear by itself (429, 502,
// 503, 504): the same call, or the whole load, is worth sending again
// later. Other statuses (401, 403, 400, 404, 500, ...) need a change
// first. loader.IsTransient reads it.
func (e *Error) Transient() bool { return transientStatus(e.Status) }

// RetryAfterHint is the wait the answer asked for (Retry-After), or 0;
// loader.RetryAfter reads it.
func (e *Error) RetryAfterHint() time.Duration { return e.RetryAfter }

// transientStatus is the one rule for which answers are sent again.
func transientStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transientError marks a failure to get an answer (no connection, a
// timeout, a connection closed): the instance may be back later.
type transientError struct{ err error }

func (t *transientError) Error() string   { return t.err.Error() }
func (t *transientError) Unwrap() error   { return t.err }
func (t *transientError) Transient() bool { return true }

// unknownOutcome marks a write whose answer never came.
type unknownOutcome struct{ err error }

func (u *unknownOutcome) Error() string {
	return u.err.Error() + " (the write may or may not have happened)"
}

func (u *unknownOutcome) Unwrap() []error { return []error{u.err, loader.ErrOutcomeUnknown} }
