package bookbridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

// LoadProgress is what a load that has not finished (loading, retrying,
// or failed) has written to the target so far, read from its journal, and
// what it still has to do.
type LoadProgress struct {
	// Written lists the writes that reached the target, in order.
	Written []WrittenRow `json:"written"`
	// Pending lists the plan's steps the load has not resolved yet.
	Pending []PendingStep `json:"pending"`
}

// WrittenRow is a write that reached the target, with the label of its
// step.
type WrittenRow struct {
	loader.Write
	Label string `json:"label,omitempty"`
}

// PendingStep is a step of the plan still to do.
type PendingStep struct {
	ID    string `json:"id"`
	Label string `json:"label,omitempty"`
	Table string `json:"table"`
}

// Progress returns the partial writes of rec's load and the steps still to
// do, or nil when the record has no load under way or failed, or its
// journal holds no plan.
func (f *Flow) Progress(rec *staging.Record) *LoadProgress {
	if rec.State != staging.StateLoading && rec.State != staging.StateLoadFailed {
		return nil
	}
	p, ok := savedProgress(rec)
	if !ok {
		return nil
	}
	out := &LoadProgress{Written: []WrittenRow{}, Pending: []PendingStep{}}
	labels := make(map[string]string, len(p.Plan.Steps))
	for _, s := range p.Plan.Steps {
		labels[s.ID] = s.Label
	}
	var steps map[string]loader.JournalStep
	if p.Journal != nil {
		for _, w := range p.Journal.Writes {
			out.Written = append(out.Written, WrittenRow{Write: w, Label: labels[w.Step]})
		}
		steps = p.Journal.Steps
	}
	for _, s := range p.Plan.Steps {
		if _, done := steps[s.ID]; !done {
			out.Pending = append(out.Pending, PendingStep{ID: s.ID, Label: s.Label, Table: s.Table})
		}
	}
	return out
}

// RetryNow makes a retrying load try again at once instead of at its next
// try. It fails with *NotLoadableError when the record's load is not
// waiting for a retry.
func (f *Flow) RetryNow(ctx context.Context, recordID int64) error {
	rec, err := f.cfg.Store.Get(ctx, recordID)
	if err != nil {
		return err
	}
	if rec.State != staging.StateLoading || !rec.Load.Retrying() {
		return &NotLoadableError{Record: rec.Number, Reason: "its load is not waiting to be tried again (state " + string(rec.State) + ")"}
	}
	job, err := f.LoadJobOf(ctx, rec.ID)
	if err != nil {
		return err
	}
	if job == nil {
		return &NotLoadableError{Record: rec.Number, Reason: "its load job is gone; stop retrying and load it again"}
	}
	// The record says "retrying" as soon as the run that failed saved it;
	// River snoozes the job a moment later, when that run returns. Until
	// then the job is running, and River leaves a running job alone.
	for range 50 {
		row, err := f.queue().JobGet(ctx, job.ID)
		if err != nil {
			return fmt.Errorf("reading load job %d of %s: %w", job.ID, rec.Number, err)
		}
		switch row.State {
		case rivertype.JobStateRunning:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		case rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateAvailable:
			if _, err := f.queue().JobRetry(ctx, job.ID); err != nil {
				return fmt.Errorf("making load job %d of %s run now: %w", job.ID, rec.Number, err)
			}
			f.log.InfoContext(ctx, "a retrying load was asked to try again now", "record", rec.Number, "job_id", job.ID)
			return nil
		default:
			return &NotLoadableError{Record: rec.Number, Reason: "its load job has ended (" + string(row.State) + "); stop retrying and load it again"}
		}
	}
	return &NotLoadableError{Record: rec.Number, Reason: "its load job is still running; try again in a moment"}
}

// StopRetrying ends a retrying load: the record becomes load_failed with
// the last reason, and its job is cancelled. The record can be loaded
// again, and that load resumes from the journal when nothing changed.
func (f *Flow) StopRetrying(ctx context.Context, recordID int64, by string) (*staging.Record, error) {
	rec, err := f.cfg.Store.Get(ctx, recordID)
	if err != nil {
		return nil, err
	}
	if rec.State != staging.StateLoading || !rec.Load.Retrying() {
		return nil, &NotLoadableError{Record: rec.Number, Reason: "its load is not retrying (state " + string(rec.State) + ")"}
	}
	reason := "retrying stopped by " + by + " after " + fmt.Sprint(rec.Load.Retries) + " tries; last failure: " + rec.Load.Error
	after, err := f.cfg.Store.FailLoad(context.WithoutCancel(ctx), rec.ID, reason, nil, staging.By(by))
	if err != nil {
		return nil, err
	}
	if job, err := f.LoadJobOf(ctx, rec.ID); err == nil && job != nil {
		// The job finds the record no longer loading and ends; cancelling
		// it spares it a last run.
		if _, err := f.queue().JobCancel(ctx, job.ID); err != nil {
			f.log.WarnContext(ctx, "could not cancel the load job of a load that stopped retrying", "record", rec.Number, "job_id", job.ID, "err", err)
		}
	}
	f.observeLoad("failed", time.Now())
	return after, nil
}

// RetryFilter selects load_failed records for RetryFailed.
type RetryFilter struct {
	// OlderThan keeps records whose load failed at least this long ago;
	// zero keeps all.
	OlderThan time.Duration `json:"older_than,omitempty"`
	// ErrorContains keeps records whose failure reason contains this
	// text, ignoring case; empty keeps all.
	ErrorContains string `json:"error_contains,omitempty"`
}

// FailedLoad is a load_failed record RetryFailed selected.
type FailedLoad struct {
	ID       int64     `json:"id"`
	Number   string    `json:"number"`
	Company  string    `json:"company_name"`
	FailedAt time.Time `json:"failed_at"`
	Error    string    `json:"error"`
	// JobID is the new load job, when RetryFailed enqueued one.
	JobID int64 `json:"job_id,omitempty"`
	// Skipped says why the record was not retried (it changed meanwhile).
	Skipped string `json:"skipped,omitempty"`
}

// FailedLoads lists the load_failed records that match filter, oldest
// failure first.
func (f *Flow) FailedLoads(ctx context.Context, filter RetryFilter) ([]FailedLoad, error) {
	var out []FailedLoad
	now := f.cfg.Now()
	want := strings.ToLower(filter.ErrorContains)
	page := staging.ScanFilter{States: []staging.State{staging.StateLoadFailed}, Limit: 500}
	for {
		recs, err := f.cfg.Store.Scan(ctx, page)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if (filter.OlderThan > 0 && now.Sub(rec.Load.FinishedAt) < filter.OlderThan) ||
				(want != "" && !strings.Contains(strings.ToLower(rec.Load.Error), want)) {
				continue
			}
			out = append(out, FailedLoad{ID: rec.ID, Number: rec.Number, Company: rec.CompanyName, FailedAt: rec.Load.FinishedAt, Error: rec.Load.Error})
		}
		if len(recs) < page.Limit {
			break
		}
		page.AfterID = recs[len(recs)-1].ID
	}
	slices.SortFunc(out, func(a, b FailedLoad) int { return a.FailedAt.Compare(b.FailedAt) })
	return out, nil
}

// RetryFailed enqueues a new load of every load_failed record that matches
// filter; each resumes from its journal when nothing changed since it
// failed. A record that changed state meanwhile is skipped with the
// reason. It returns the records with their new jobs. It needs
// Config.Queue.
func (f *Flow) RetryFailed(ctx context.Context, filter RetryFilter, by string) ([]FailedLoad, error) {
	failed, err := f.FailedLoads(ctx, filter)
	if err != nil {
		return nil, err
	}
	for i := range failed {
		id, err := f.EnqueueLoad(ctx, failed[i].ID, by)
		switch {
		case err == nil:
			failed[i].JobID = id
		case isTransition(err):
			failed[i].Skipped = err.Error()
		default:
			return failed, err
		}
	}
	f.log.InfoContext(ctx, "retried failed loads", "count", len(failed), "by", by)
	return failed, nil
}

func isTransition(err error) bool {
	var te *staging.TransitionError
	var ce *staging.ConflictError
	return errors.As(err, &te) || errors.As(err, &ce)
}
