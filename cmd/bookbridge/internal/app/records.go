package app

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/bookbridge/bookbridge/staging"
)

// FindRecord returns the record named by ref: its number (BB1000001) or id.
func (a *App) FindRecord(ctx context.Context, ref string) (*staging.Record, error) {
	if _, ok := staging.ParseNumber(ref); ok {
		return a.Store.GetByNumber(ctx, ref)
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return nil, staging.ErrNotFound
	}
	return a.Store.Get(ctx, id)
}

// JobStatus is a background job as the API shows it.
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

// Job returns a background job with what it worked on.
func (a *App) Job(ctx context.Context, id int64) (*JobStatus, error) {
	j, err := a.Queue.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	st := jobStatusOf(j)
	switch j.Kind {
	case LoadArgs{}.Kind():
		var args LoadArgs
		if json.Unmarshal(j.EncodedArgs, &args) == nil {
			if rec, err := a.Store.Get(ctx, args.RecordID); err == nil {
				load := rec.Load
				load.Journal = nil // internal; the result has what matters
				st.Record, st.Load = &rec.Summary, &load
			}
		}
	case EmailArgs{}.Kind():
		var args EmailArgs
		if json.Unmarshal(j.EncodedArgs, &args) == nil {
			if m, err := a.InboxMessage(ctx, args.InboxID); err == nil {
				m.Raw = nil
				st.Email = m
			}
		}
	}
	return st, nil
}
