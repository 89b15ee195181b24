package bookbridge

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

// loadMaxAttempts bounds River's own retries of a load job: runs that
// ended in an error of bookbridge's side (the database) or were cut short
// by a crash. Transient failures of the target do not count: the job is
// snoozed until its next try (LoadRetry).
const loadMaxAttempts = 25

// InsertOpts sets the load job's attempts.
func (LoadArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: loadMaxAttempts} }

type loadWorker struct {
	river.WorkerDefaults[LoadArgs]
	flow *Flow
}

// Work runs the load. A transient failure of the target snoozes the job
// until the next try, within the retry window counted from the job's
// creation; a job cut short by its own timeout is resumed at once from
// its journal when that run wrote something, and otherwise counts as a
// transient failure (the target did not answer in time).
func (w *loadWorker) Work(ctx context.Context, job *river.Job[LoadArgs]) error {
	f := w.flow
	giveUpAt := job.CreatedAt.Add(f.cfg.LoadRetry.Window)
	err := f.runLoad(ctx, job.Args.RecordID, job.Args.By, func(cause error, retries int) (time.Duration, bool) {
		wait := f.retryDelay(cause, retries)
		return wait, !f.cfg.Now().Add(wait).After(giveUpAt)
	})
	var later *retryLater
	switch {
	case err == nil:
		return nil
	case errors.As(err, &later):
		return river.JobSnooze(later.wait)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The job's timeout ended this run: the journal holds what it
		// wrote, and the next run goes on from there.
		f.log.WarnContext(ctx, "a load run reached the job timeout; it goes on from its journal", "record_id", job.Args.RecordID)
		return river.JobSnooze(0)
	case ctx.Err() != nil:
		return river.JobSnooze(0) // shutting down: another run resumes it
	}
	if job.Attempt >= job.MaxAttempts {
		// Out of attempts: leave the record loadable again, not stuck in loading.
		if _, ferr := f.cfg.Store.FailLoad(context.WithoutCancel(ctx), job.Args.RecordID,
			"the load job gave up after "+strconv.Itoa(job.Attempt)+" attempts: "+err.Error(), nil, staging.Via("job")); ferr != nil {
			f.log.ErrorContext(ctx, "could not mark the load failed", "record_id", job.Args.RecordID, "err", ferr)
		}
	}
	return err
}

// NextRetry is when River runs a load job again after an error of
// bookbridge's own side or a crash (River's rescue of a job whose process
// died): soon, since the run resumes from the journal.
func (w *loadWorker) NextRetry(job *river.Job[LoadArgs]) time.Time {
	return time.Now().Add(min(time.Duration(job.Attempt)*time.Second, 30*time.Second))
}

// retryDelay is the wait before the next try after a transient failure:
// MinDelay doubled for each earlier retry, up to MaxDelay, with up to 20%
// of jitter either way so that loads failed together do not come back
// together, and never shorter than the target's Retry-After.
func (f *Flow) retryDelay(cause error, retries int) time.Duration {
	r := f.cfg.LoadRetry
	d := r.MinDelay
	for i := 0; i < retries && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	if after, ok := loader.RetryAfter(cause); ok && after > d {
		d = after
	}
	return d
}
