package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/queue"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
)

// LoadArgs is the job that loads one staged record ("SFDC Data").
type LoadArgs struct {
	RecordID int64  `json:"record_id"`
	By       string `json:"by,omitempty"`
}

// Kind names the job for River.
func (LoadArgs) Kind() string { return "bookbridge_load" }

// loadMaxAttempts bounds River's retries of a load job. A retry resumes
// from the saved journal, so no write is repeated.
const loadMaxAttempts = 5

// InsertOpts sets the load job's attempts.
func (LoadArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: loadMaxAttempts} }

// loadProgress is what the app keeps in staging's opaque load journal: the
// plan a load applies and the loader's journal, tagged with the attempt
// (staging's Load.Attempts) they belong to. A job retried after a crash
// resumes the same plan; a new load plans afresh.
type loadProgress struct {
	Attempt int             `json:"attempt"`
	Plan    *loader.Plan    `json:"plan"`
	Journal *loader.Journal `json:"journal,omitempty"`
}

// PlanRecord makes the plan of a staged record at the app's clock.
func (a *App) PlanRecord(rec *staging.Record) (*loader.Plan, error) {
	if rec.Payload == nil {
		return nil, fmt.Errorf("record %s has no Salesforce payload yet", rec.Number)
	}
	sf, err := mapping.SFDCFromJSON(rec.Payload.Raw)
	if err != nil {
		return nil, err
	}
	in := mapping.Input{SFDC: sf, Now: a.now().In(a.Cfg.Location()),
		Record: mapping.RecordInfo{ID: strconv.FormatInt(rec.ID, 10), Number: rec.Number, State: string(rec.State)}}
	if rec.PH != nil {
		in.PH = rec.PH.Fields
	}
	for _, att := range rec.LoadAttachments() {
		in.Record.Attachments = append(in.Record.Attachments, mapping.AttachmentInfo{
			ID: strconv.FormatInt(att.ID, 10), FileName: att.FileName, ContentType: att.ContentType,
			SHA256: att.SHA256, Size: att.Size, Usable: att.Usable, Warnings: att.Warnings,
		})
	}
	return a.Rules().Plan(in)
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

func (a *App) loaderOptions(recordID int64) loader.Options {
	return loader.Options{Attachments: attachmentSource{store: a.Store, recordID: recordID}, Logger: a.Log.With("component", "loader")}
}

// Preview is the dry run of a record's load.
type Preview struct {
	Record   string       `json:"record"`
	Loadable bool         `json:"loadable"`
	Reason   string       `json:"reason,omitempty"`
	Plan     *loader.Plan `json:"plan"`
	Diff     *loader.Diff `json:"diff"`
}

// Preview plans the record and resolves the plan against the live target
// without writing.
func (a *App) Preview(ctx context.Context, rec *staging.Record) (*Preview, error) {
	plan, err := a.PlanRecord(rec)
	if err != nil {
		return nil, err
	}
	diff, err := loader.Preview(ctx, plan, a.Target, a.loaderOptions(rec.ID))
	if err != nil {
		return nil, err
	}
	ok, why := rec.Loadable()
	a.Metrics.Loads.WithLabelValues("dry_run").Inc()
	return &Preview{Record: rec.Number, Loadable: ok, Reason: why, Plan: plan, Diff: diff}, nil
}

// EnqueueLoad moves a loadable record to loading and enqueues its load job
// in the same transaction. It fails with staging's *TransitionError when the
// record cannot be loaded in its state, and with a *ConflictError when opts
// hold staging.IfVersion and the record changed since that version.
func (a *App) EnqueueLoad(ctx context.Context, recordID int64, by string, opts ...staging.Option) (int64, error) {
	var jobID int64
	opts = append(opts, staging.By(by),
		staging.InTx(func(ctx context.Context, tx bun.Tx, rec *staging.Record) error {
			id, err := a.Queue.InsertTx(ctx, tx, LoadArgs{RecordID: rec.ID, By: by},
				&river.InsertOpts{Tags: []string{loadTag(rec.ID)}})
			jobID = id
			return err
		}))
	_, err := a.Store.StartLoad(context.WithoutCancel(ctx), recordID, opts...)
	return jobID, err
}

// loadTag marks the load jobs of one record, so that the record can name
// its latest load job (LoadJobOf).
func loadTag(recordID int64) string { return "record_" + strconv.FormatInt(recordID, 10) }

// LoadJobOf returns the latest load job of a record, or nil when it has
// none (River keeps finished jobs for 24 hours).
func (a *App) LoadJobOf(ctx context.Context, recordID int64) (*JobStatus, error) {
	j, err := a.Queue.LatestJob(ctx, LoadArgs{}.Kind(), loadTag(recordID))
	if errors.Is(err, queue.ErrNoJob) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return jobStatusOf(j), nil
}

type loadWorker struct {
	river.WorkerDefaults[LoadArgs]
	app *App
}

func (w *loadWorker) Work(ctx context.Context, job *river.Job[LoadArgs]) error {
	err := w.app.RunLoad(ctx, job.Args.RecordID, job.Args.By)
	if err != nil && job.Attempt >= job.MaxAttempts {
		// Out of attempts: leave the record loadable again, not stuck in loading.
		if _, ferr := w.app.Store.FailLoad(context.WithoutCancel(ctx), job.Args.RecordID,
			"the load job gave up after "+strconv.Itoa(job.Attempt)+" attempts: "+err.Error(), nil, staging.Via("job")); ferr != nil {
			w.app.Log.ErrorContext(ctx, "could not mark the load failed", "record_id", job.Args.RecordID, "err", ferr)
		}
	}
	return err
}

// RunLoad applies the record's plan to the target. The record must be
// loading (EnqueueLoad put it there). An error means the job should be
// retried; a load that ends badly is recorded on the record instead.
func (a *App) RunLoad(ctx context.Context, recordID int64, by string) error {
	start := time.Now()
	rec, err := a.Store.Get(ctx, recordID)
	if err != nil {
		return err
	}
	if rec.State != staging.StateLoading {
		a.Log.InfoContext(ctx, "load job found the record no longer loading; nothing to do", "record", rec.Number, "state", rec.State)
		return nil
	}
	progress := loadProgress{Attempt: rec.Load.Attempts}
	var saved loadProgress
	if len(rec.Load.Journal) > 0 && json.Unmarshal(rec.Load.Journal, &saved) == nil && saved.Attempt == rec.Load.Attempts && saved.Plan != nil {
		progress = saved // a retried job resumes its own plan and journal
	} else {
		plan, err := a.PlanRecord(rec)
		if err != nil {
			return a.finishFailed(ctx, rec, by, fmt.Errorf("planning: %w", err), progress, start)
		}
		progress.Plan = plan
		if err := a.saveProgress(ctx, rec.ID, progress); err != nil {
			return err
		}
	}
	journal := loader.Journal{}
	if progress.Journal != nil {
		journal = *progress.Journal
	}
	opts := a.loaderOptions(rec.ID)
	opts.OnWrite = func(ctx context.Context, j loader.Journal) error {
		p := progress
		p.Journal = &j
		return a.saveProgress(ctx, rec.ID, p)
	}
	res, applyErr := loader.Apply(ctx, progress.Plan, a.Target, journal, opts)
	if res == nil {
		if ctx.Err() != nil {
			return applyErr // shutting down: the job is retried and resumes
		}
		return a.finishFailed(ctx, rec, by, applyErr, progress, start)
	}
	progress.Journal = &res.Journal
	result, err := json.Marshal(res)
	if err != nil {
		return err
	}
	final := context.WithoutCancel(ctx)
	outcome := ""
	switch res.Status {
	case loader.StatusLoaded:
		_, err = a.Store.FinishLoad(final, rec.ID, result, staging.By(by), staging.Via("job"))
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
		_, err = a.Store.MarkNeedsReview(final, rec.ID, reason, a.progressJSON(progress), staging.By(by), staging.Via("job"))
		outcome = "needs_review"
	default:
		if ctx.Err() != nil {
			return applyErr
		}
		return a.finishFailed(ctx, rec, by, applyErr, progress, start)
	}
	if err != nil {
		return err
	}
	a.observeLoad(outcome, start)
	a.Log.InfoContext(ctx, "load finished", "record", rec.Number, "status", res.Status, "summary", res.Summary(), "calls", res.Calls.String())
	return nil
}

func (a *App) finishFailed(ctx context.Context, rec *staging.Record, by string, cause error, p loadProgress, start time.Time) error {
	if cause == nil {
		cause = errors.New("the load failed without an error")
	}
	_, err := a.Store.FailLoad(context.WithoutCancel(ctx), rec.ID, cause.Error(), a.progressJSON(p), staging.By(by), staging.Via("job"))
	if err != nil {
		return err
	}
	a.observeLoad("failed", start)
	a.Log.WarnContext(ctx, "load failed", "record", rec.Number, "err", cause)
	return nil
}

func (a *App) observeLoad(outcome string, start time.Time) {
	a.Metrics.Loads.WithLabelValues(outcome).Inc()
	a.Metrics.LoadSeconds.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}

func (a *App) saveProgress(ctx context.Context, id int64, p loadProgress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return a.Store.SaveJournal(context.WithoutCancel(ctx), id, b, staging.Via("job"))
}

func (a *App) progressJSON(p loadProgress) json.RawMessage {
	b, _ := json.Marshal(p)
	return b
}
