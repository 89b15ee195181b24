package loader

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Options tune a load. The zero value works for plans without attachments.
type Options struct {
	// Attachments gives the bytes of the staging attachments the plan
	// puts onto records. Required when a step has Attach.
	Attachments AttachmentSource
	// OnWrite is called after every completed write with the journal as
	// it stands, so the caller can persist it before the load goes on.
	// Calls are never concurrent, and each receives a journal that
	// contains everything the previous one did. When it returns an error
	// the load stops (status failed). With a transactional target it is
	// called once, after the commit.
	OnWrite func(ctx context.Context, j Journal) error
	// Concurrency is the most target calls in flight at once. Steps whose
	// dependencies are resolved run concurrently within this bound.
	// Default 16; 1 makes a load strictly sequential.
	Concurrency int
	// UnknownOutcomeRetries is how many times a write whose outcome is
	// unknown (ErrOutcomeUnknown) is checked for and sent again. Default 3.
	UnknownOutcomeRetries int
	// WriteGrace bounds how long a write already sent may go on (its
	// answer, and the retries of its call) after the load's context ends,
	// so that a write is not cut off half-way by a shutdown or a time
	// limit. A caller whose runs may be started again by someone else
	// once a time has passed (a job queue's rescue of a run whose process
	// seems dead) keeps the run's time limit plus WriteGrace below that
	// time, so that two runs never write at once. Default: until the
	// write's own call ends.
	WriteGrace time.Duration
	// Logger receives one line per write. Default: no logging.
	Logger *slog.Logger
}

// Default values of Options.
const (
	DefaultConcurrency           = 16
	DefaultUnknownOutcomeRetries = 3
)

// WithDefaults returns o with every unset field at its default.
func (o Options) WithDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.UnknownOutcomeRetries <= 0 {
		o.UnknownOutcomeRetries = DefaultUnknownOutcomeRetries
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Apply loads plan into target.
//
// Each step finds its record by its match values: none -> insert (match,
// fields and on_insert values); one -> update only the fields (fields and
// on_update) whose stored value differs, and no call at all when none
// does; several -> the step's on_multiple policy. References take the id
// of the earlier step's record, lookups are read from the target once per
// load. A foreach step's items are found with one query. Steps whose
// dependencies are resolved run concurrently. Attachments are uploaded
// unless a file with the same name and SHA-256 is already on the record.
//
// journal is the state of an earlier, interrupted run of the same plan
// (the zero Journal for a fresh load). Every completed write is added to
// it and handed to opts.OnWrite; a write starts only once the saves of
// the writes before it are done.
//
// When ctx ends, no further write starts, but a write already sent is not
// cut off: it completes (within the target's own timeouts) and is
// journaled, so that a resumed load neither loses nor repeats it.
//
// The returned Result is never nil once the plan is valid; the error is
// non-nil exactly when Result.Status is StatusFailed, and wraps the cause
// (a *StepError for a step's call).
func Apply(ctx context.Context, plan *Plan, target Target, journal Journal, opts Options) (*Result, error) {
	r, err := newRun(plan, target, journal, opts, false)
	if err != nil {
		return nil, err
	}
	return r.apply(ctx)
}

// Preview resolves plan against the live target exactly as Apply would,
// without writing, and returns what Apply would change. Records that would
// be inserted are shown with the id "(new <step>)"; steps whose match
// references such a record are known to be inserts without a lookup.
func Preview(ctx context.Context, plan *Plan, target Target, opts Options) (*Diff, error) {
	r, err := newRun(plan, target, Journal{}, opts, true)
	if err != nil {
		return nil, err
	}
	res, err := r.apply(ctx)
	return r.diff(res), err
}

// StepError is the error of one step's target call.
type StepError struct {
	Step string
	// Op names the call: find, lookup, insert, update, attach,
	// attachments, journal.
	Op  string
	Err error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("loader: step %s: %s: %v", e.Step, e.Op, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }
