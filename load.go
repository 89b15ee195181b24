package bookbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
)

// loadProgress is what the Flow keeps in staging's opaque load journal: the
// plan a load applies and the loader's journal, tagged with the attempt
// (staging's Load.Attempts) they belong to. A load resumed after a crash
// applies the same plan again from its journal; a new load plans afresh.
type loadProgress struct {
	Attempt int             `json:"attempt"`
	Plan    *loader.Plan    `json:"plan"`
	Journal *loader.Journal `json:"journal,omitempty"`
}

// savedProgress is the progress kept in rec's load journal, when it holds
// a plan.
func savedProgress(rec *staging.Record) (loadProgress, bool) {
	var p loadProgress
	if len(rec.Load.Journal) == 0 || json.Unmarshal(rec.Load.Journal, &p) != nil || p.Plan == nil {
		return loadProgress{}, false
	}
	return p, true
}

// PlanError says that the rules could not make a plan of a record: its
// data does not satisfy them (a rule's expression failed for this deal).
type PlanError struct {
	Record string
	Err    error
}

func (e *PlanError) Error() string {
	return "the rules could not plan " + e.Record + ": " + e.Err.Error()
}

func (e *PlanError) Unwrap() error { return e.Err }

// NotLoadableError says that a record cannot be planned or loaded in its
// present shape (for example, it has no Salesforce payload yet).
type NotLoadableError struct {
	Record string
	Reason string
}

func (e *NotLoadableError) Error() string { return e.Record + " cannot be loaded: " + e.Reason }

// TargetError says that the load target failed to answer a preview (it
// was unreachable, refused the credentials, or answered an error).
type TargetError struct {
	Err error
}

func (e *TargetError) Error() string { return "the target failed: " + e.Err.Error() }

func (e *TargetError) Unwrap() error { return e.Err }

// Plan makes the plan of a staged record with the rules in use, at the
// Flow's clock. It fails with *NotLoadableError when the record has no
// Salesforce payload and with *PlanError when the rules fail on it.
func (f *Flow) Plan(rec *staging.Record) (*loader.Plan, error) {
	return f.planWith(f.Rules(), rec, f.Now())
}

func (f *Flow) planWith(rules *mapping.Rules, rec *staging.Record, now time.Time) (*loader.Plan, error) {
	in, err := planInput(rec, now)
	if err != nil {
		return nil, err
	}
	return planInputWith(rules, rec, in)
}

// attachmentSource reads staged attachments of one record for the loader.
type attachmentSource struct {
	store    *staging.Store
	recordID int64
}

func (s attachmentSource) Open(ctx context.Context, id string) ([]byte, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("attachment id %q is not a staging attachment", id)
	}
	_, data, err := s.store.Attachment(ctx, s.recordID, n)
	return data, err
}

func (f *Flow) loaderOptions(recordID int64) loader.Options {
	return loader.Options{Attachments: attachmentSource{store: f.cfg.Store, recordID: recordID}, WriteGrace: f.cfg.WriteGrace,
		Logger: f.log.With("component", "loader")}
}

// Preview is the dry run of a record's load.
type Preview struct {
	Record   string       `json:"record"`
	Loadable bool         `json:"loadable"`
	Reason   string       `json:"reason,omitempty"`
	Plan     *loader.Plan `json:"plan"`
	Diff     *loader.Diff `json:"diff"`
	// Progress is what a load under way or failed has written already and
	// what it still has to do (see Flow.Progress).
	Progress *LoadProgress `json:"progress,omitempty"`
}

// Preview plans the record and resolves the plan against the live target
// without writing: the diff says, per step, what the load would insert,
// update (old -> new) or leave unchanged.
func (f *Flow) Preview(ctx context.Context, rec *staging.Record) (*Preview, error) {
	start := time.Now()
	plan, err := f.Plan(rec)
	if err != nil {
		return nil, err
	}
	diff, err := loader.Preview(ctx, plan, f.cfg.Target, f.loaderOptions(rec.ID))
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &TargetError{Err: err}
	}
	ok, why := rec.Loadable()
	f.observeLoad("dry_run", start)
	return &Preview{Record: rec.Number, Loadable: ok, Reason: why, Plan: plan, Diff: diff, Progress: f.Progress(rec)}, nil
}

// EnqueueLoad moves a loadable record to loading and enqueues its load job
// in the same transaction; the load worker (AddWorkers) runs it. It fails
// with staging's *TransitionError when the record cannot be loaded in its
// state, and with a *ConflictError when opts hold staging.IfVersion and the
// record changed since that version. It needs Config.Queue.
func (f *Flow) EnqueueLoad(ctx context.Context, recordID int64, by string, opts ...staging.Option) (int64, error) {
	if f.queue() == nil {
		return 0, ErrNoQueue
	}
	var jobID int64
	opts = append(opts, staging.By(by),
		staging.InTx(func(ctx context.Context, tx bun.Tx, rec *staging.Record) error {
			id, err := f.insertJob(ctx, tx, LoadArgs{RecordID: rec.ID, By: by},
				&river.InsertOpts{Tags: []string{loadTag(rec.ID)}})
			jobID = id
			return err
		}))
	_, err := f.cfg.Store.StartLoad(context.WithoutCancel(ctx), recordID, opts...)
	return jobID, err
}

// Load moves a loadable record to loading and runs its load at once, in
// the caller's goroutine, then returns the record as the load left it
// (loaded, needs_review or load_failed, with the result). It fails like
// EnqueueLoad when the record cannot be loaded, and returns the error of a
// load that could not finish (the record then stays loading, and RunLoad
// resumes it from its journal).
func (f *Flow) Load(ctx context.Context, recordID int64, by string, opts ...staging.Option) (*staging.Record, error) {
	opts = append(opts, staging.By(by))
	if _, err := f.cfg.Store.StartLoad(context.WithoutCancel(ctx), recordID, opts...); err != nil {
		return nil, err
	}
	if err := f.RunLoad(ctx, recordID, by); err != nil {
		return nil, err
	}
	return f.cfg.Store.Get(ctx, recordID)
}

// RunLoad applies the plan of a record that is loading to the target,
// resuming from the journal saved on the record when an earlier run of the
// same load stopped half-way (a crash, a shutdown), so no write is made
// twice. It moves the record to loaded, needs_review or load_failed; it
// does not retry a failed load (the load worker does, see LoadRetry). An
// error means the run should be tried again; a load that ends badly is
// recorded on the record instead.
func (f *Flow) RunLoad(ctx context.Context, recordID int64, by string) error {
	return f.runLoad(ctx, recordID, by, nil)
}

// retryLater is runLoad's answer when the load failed for a passing
// reason and was scheduled to be tried again at the record's NextTryAt.
type retryLater struct {
	wait  time.Duration
	cause error
}

func (e *retryLater) Error() string { return "the load is tried again later: " + e.cause.Error() }

func (e *retryLater) Unwrap() error { return e.cause }

// noProgressError says that a load run reached the job's time limit
// without a write: it is transient, so the load is retried with its
// delays and within its window instead of at once and without end. It
// does not unwrap: the cut call's own error (a context deadline) would
// read as permanent.
type noProgressError struct{ err error }

func (e *noProgressError) Error() string {
	return "the load run wrote nothing within the job's time limit (BOOKBRIDGE_LOAD_TIMEOUT): " + e.err.Error()
}

func (e *noProgressError) Transient() bool { return true }

// runLoad is RunLoad; retry, when not nil, is asked whether a transient
// failure is tried again and after how long (retries is how many transient
// failures the load had before this one). It then answers *retryLater.
func (f *Flow) runLoad(ctx context.Context, recordID int64, by string, retry func(cause error, retries int) (time.Duration, bool)) error {
	start := time.Now()
	rec, err := f.cfg.Store.Get(ctx, recordID)
	if err != nil {
		return err
	}
	if rec.State != staging.StateLoading {
		f.log.InfoContext(ctx, "the load found the record no longer loading; nothing to do", "record", rec.Number, "state", rec.State)
		return nil
	}
	progress, planned, err := f.progressOf(rec)
	if err != nil {
		return f.finishFailed(ctx, rec, by, fmt.Errorf("planning: %w", err), loadProgress{Attempt: rec.Load.Attempts}, start)
	}
	if planned {
		if err := f.saveProgress(ctx, rec.ID, progress); err != nil {
			return err
		}
	}
	journal := loader.Journal{}
	if progress.Journal != nil {
		journal = *progress.Journal
	}
	opts := f.loaderOptions(rec.ID)
	var wrote atomic.Bool
	opts.OnWrite = func(ctx context.Context, j loader.Journal) error {
		wrote.Store(true)
		p := progress
		p.Journal = &j
		return f.saveProgress(ctx, rec.ID, p)
	}
	res, applyErr := loader.Apply(ctx, progress.Plan, f.cfg.Target, journal, opts)
	if res != nil {
		progress.Journal = &res.Journal
	}
	if res == nil || (res.Status != loader.StatusLoaded && res.Status != loader.StatusNeedsReview) {
		if applyErr == nil {
			applyErr = errors.New(res.Error)
		}
		if ctx.Err() != nil {
			if retry == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) || wrote.Load() {
				// Stopped from outside, or cut by the job's time limit
				// while it made progress: the job runs again and resumes.
				return applyErr
			}
			// Cut by the job's time limit without writing anything: the
			// target did not answer in time (slow, or unreachable while
			// its calls retried), which is a passing failure like any.
			applyErr = &noProgressError{err: applyErr}
		}
		if retry != nil && loader.IsTransient(applyErr) {
			if wait, ok := retry(applyErr, rec.Load.Retries); ok {
				next := f.cfg.Now().Add(wait)
				if _, err := f.cfg.Store.RetryLoad(context.WithoutCancel(ctx), rec.ID, applyErr.Error(), next,
					progressJSON(progress), staging.By(by), staging.Via("job")); err != nil {
					return err
				}
				f.observeLoad("retrying", start)
				f.log.WarnContext(ctx, "load failed for a passing reason; it is tried again", "record", rec.Number,
					"retries", rec.Load.Retries+1, "next_try_at", next.UTC().Format(time.RFC3339), "err", applyErr)
				return &retryLater{wait: wait, cause: applyErr}
			}
			applyErr = fmt.Errorf("gave up retrying after %d tries: %w", rec.Load.Retries+1, applyErr)
		}
		return f.finishFailed(ctx, rec, by, applyErr, progress, start)
	}
	result, err := json.Marshal(res)
	if err != nil {
		return err
	}
	final := context.WithoutCancel(ctx)
	outcome := ""
	switch res.Status {
	case loader.StatusLoaded:
		_, err = f.cfg.Store.FinishLoad(final, rec.ID, result, staging.By(by), staging.Via("job"))
		outcome = "loaded"
		if !res.Changed() {
			outcome = "unchanged"
		}
	case loader.StatusNeedsReview:
		reason := "the load raised an exception instead of guessing"
		if res.StoppedBy != "" {
			reason += " at step " + res.StoppedBy
		}
		for _, s := range res.Steps {
			if s.Outcome == loader.Exception && s.Reason != "" {
				reason += ": " + s.Reason
				break
			}
		}
		_, err = f.cfg.Store.MarkNeedsReview(final, rec.ID, reason, progressJSON(progress), staging.By(by), staging.Via("job"))
		outcome = "needs_review"
	}
	if err != nil {
		return err
	}
	f.observeLoad(outcome, start)
	f.log.InfoContext(ctx, "load finished", "record", rec.Number, "status", res.Status, "summary", res.Summary(), "calls", res.Calls.String())
	return nil
}

// progressOf returns what a run of rec's load starts from. A run of the
// same load (the attempt the saved progress belongs to) resumes its own
// plan and journal, even when the rules or the clock would plan otherwise
// now. A new load plans afresh; when its plan is the very plan of the
// saved progress (a retry of a failed load, with nothing changed), it
// resumes that journal too, so the retry writes nothing twice.
// planned says whether the plan was made now.
func (f *Flow) progressOf(rec *staging.Record) (p loadProgress, planned bool, err error) {
	saved, ok := savedProgress(rec)
	if ok && saved.Attempt == rec.Load.Attempts {
		return saved, false, nil
	}
	plan, err := f.Plan(rec)
	if err != nil {
		return loadProgress{}, false, err
	}
	p = loadProgress{Attempt: rec.Load.Attempts, Plan: plan}
	if saved.Plan != nil && saved.Journal != nil && !saved.Journal.Empty() {
		if hash, err := loader.PlanHash(plan); err == nil && hash == saved.Journal.PlanHash {
			p.Journal = saved.Journal
		}
	}
	return p, true, nil
}

func (f *Flow) finishFailed(ctx context.Context, rec *staging.Record, by string, cause error, p loadProgress, start time.Time) error {
	if cause == nil {
		cause = errors.New("the load failed without an error")
	}
	_, err := f.cfg.Store.FailLoad(context.WithoutCancel(ctx), rec.ID, cause.Error(), progressJSON(p), staging.By(by), staging.Via("job"))
	if err != nil {
		return err
	}
	f.observeLoad("failed", start)
	f.log.WarnContext(ctx, "load failed", "record", rec.Number, "err", cause)
	return nil
}

func (f *Flow) observeLoad(outcome string, start time.Time) {
	if f.cfg.Hooks.Load != nil {
		f.cfg.Hooks.Load(outcome, time.Since(start))
	}
}

func (f *Flow) saveProgress(ctx context.Context, id int64, p loadProgress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return f.cfg.Store.SaveJournal(context.WithoutCancel(ctx), id, b, staging.Via("job"))
}

func progressJSON(p loadProgress) json.RawMessage {
	b, _ := json.Marshal(p)
	return b
}
