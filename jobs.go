package bookbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
)

// EmailArgs is the job that processes one inbox message (AcceptEmail).
type EmailArgs struct {
	InboxID int64 `json:"inbox_id"`
}

// Kind names the job for River.
func (EmailArgs) Kind() string { return "bookbridge_email" }

// InsertOpts gives email jobs a few attempts: the work is local (parse,
// store), so only a database hiccup makes one fail.
func (EmailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// LoadArgs is the job that loads one staged record ("SFDC Data").
type LoadArgs struct {
	RecordID int64  `json:"record_id"`
	By       string `json:"by,omitempty"`
}

// Kind names the job for River.
func (LoadArgs) Kind() string { return "bookbridge_load" }

// AddWorkers registers the workers of the Flow's jobs (email processing
// and loads) with workers, for the River client that works the queue.
func (f *Flow) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &emailWorker{flow: f})
	river.AddWorker(workers, &loadWorker{flow: f})
}

type emailWorker struct {
	river.WorkerDefaults[EmailArgs]
	flow *Flow
}

func (w *emailWorker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	msg, err := w.flow.InboxMessage(ctx, job.Args.InboxID)
	if errors.Is(err, staging.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if msg.ProcessedAt != nil {
		return nil // done by an earlier attempt that lost its completion
	}
	res, err := w.flow.ProcessEmail(ctx, msg.Raw, msg.Channel)
	if err != nil {
		return err
	}
	return w.flow.markInbox(ctx, msg.ID, res)
}

// insertJob enqueues a job inside tx; it runs only if tx commits.
func (f *Flow) insertJob(ctx context.Context, tx bun.Tx, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	if f.queue() == nil {
		return 0, ErrNoQueue
	}
	res, err := f.queue().InsertTx(ctx, tx.Tx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("enqueuing %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// JobStatus is a background job and what it worked on.
type JobStatus struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	Attempt    int        `json:"attempt"`
	Errors     []string   `json:"errors,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Record is the loaded record now (load jobs) or the processed email's
	// outcome (email jobs).
	Record *staging.Summary   `json:"record,omitempty"`
	Load   *staging.LoadState `json:"load,omitempty"`
	Email  *InboxMessage      `json:"email,omitempty"`
}

// jobStatusOf is the job itself, without what it worked on.
func jobStatusOf(j *rivertype.JobRow) *JobStatus {
	st := &JobStatus{ID: j.ID, Kind: j.Kind, State: string(j.State), Attempt: j.Attempt, CreatedAt: j.CreatedAt, FinishedAt: j.FinalizedAt}
	for _, e := range j.Errors {
		st.Errors = append(st.Errors, e.Error)
	}
	return st
}

// jobKeptHint says why a job may be gone.
const jobKeptHint = "River keeps finished jobs for 24 hours"

// Job returns a background job with what it worked on; an unknown id is a
// *NotFoundError. It needs Config.Queue.
func (f *Flow) Job(ctx context.Context, id int64) (*JobStatus, error) {
	if f.queue() == nil {
		return nil, ErrNoQueue
	}
	j, err := f.queue().JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, &NotFoundError{What: "job", Ref: strconv.FormatInt(id, 10), Hint: jobKeptHint}
	}
	if err != nil {
		return nil, err
	}
	st := jobStatusOf(j)
	switch j.Kind {
	case LoadArgs{}.Kind():
		var args LoadArgs
		if json.Unmarshal(j.EncodedArgs, &args) == nil {
			if rec, err := f.cfg.Store.Get(ctx, args.RecordID); err == nil {
				load := rec.Load
				load.Journal = nil // internal; the result has what matters
				st.Record, st.Load = &rec.Summary, &load
			}
		}
	case EmailArgs{}.Kind():
		var args EmailArgs
		if json.Unmarshal(j.EncodedArgs, &args) == nil {
			if m, err := f.InboxMessage(ctx, args.InboxID); err == nil {
				m.Raw = nil
				st.Email = m
			}
		}
	}
	return st, nil
}

// loadTag marks the load jobs of one record, so that the record can name
// its latest load job (LoadJobOf).
func loadTag(recordID int64) string { return "record_" + strconv.FormatInt(recordID, 10) }

// LoadJobOf returns the latest load job of a record, or nil when it has
// none (River keeps finished jobs for 24 hours) or the Flow has no queue.
func (f *Flow) LoadJobOf(ctx context.Context, recordID int64) (*JobStatus, error) {
	if f.queue() == nil {
		return nil, nil
	}
	res, err := f.queue().JobList(ctx, river.NewJobListParams().Kinds(LoadArgs{}.Kind()).TagsAll(loadTag(recordID)).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1))
	if err != nil {
		return nil, fmt.Errorf("listing the load jobs of record %d: %w", recordID, err)
	}
	if len(res.Jobs) == 0 {
		return nil, nil
	}
	return jobStatusOf(res.Jobs[0]), nil
}
