package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/bookbridge/bookbridge"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

type diffStep struct {
	loader.StepDiff
	// Name is the step's label, or its ID when it has none.
	Name  string
	Link  string
	Files []fileView
	// Open says whether the step's details show at first: every step that
	// writes or needs a look; unchanged and skipped steps stay folded.
	Open bool
}

type previewView struct {
	Rec      *staging.Record
	Target   string
	Preview  *bookbridge.Preview
	Steps    []diffStep
	Tables   []tableSummary
	Warnings []string
	Progress *progressView
	Error    string
	Loadable bool
	Reason   string
}

// tableSummary counts what the load would do in one target table.
type tableSummary struct {
	Table     string
	Insert    int
	Update    int
	Fields    int // changed fields of the updates
	Unchanged int
	Exception int
	Other     int // skipped or failing steps
}

// preview is the first press of "SFDC Data": the dry run. It reads the
// target (remote calls), so it runs only on this explicit request.
func (c *Console) preview(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	v := previewView{Rec: rec, Target: c.app.Cfg.Target}
	v.Loadable, v.Reason = rec.Loadable()
	if rec.Payload == nil {
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" has no Salesforce payload yet, so there is nothing to load.")
		return
	}
	p, err := c.app.Flow.Preview(r.Context(), rec)
	if err != nil {
		server.Logger(r.Context()).Warn("console dry run failed", "record", rec.Number, "err", err)
		v.Error = err.Error()
		v.Loadable = false
		c.render(w, r, u, http.StatusBadGateway, "preview", "records", v)
		return
	}
	v.Preview = p
	v.Loadable, v.Reason = p.Loadable, p.Reason
	v.Progress = c.progressView(p.Progress, p.Plan)
	v.Warnings = p.Diff.Warnings
	if len(v.Warnings) == 0 && p.Plan != nil {
		v.Warnings = p.Plan.Warnings
	}
	byTable := map[string]*tableSummary{}
	var order []string // the tables in the order their first step comes
	for _, s := range p.Diff.Steps {
		ts := byTable[s.Table]
		if ts == nil {
			ts = &tableSummary{Table: s.Table}
			byTable[s.Table] = ts
			order = append(order, s.Table)
		}
		switch s.Action {
		case loader.ActionInsert:
			ts.Insert++
		case loader.ActionUpdate:
			ts.Update++
			ts.Fields += len(s.Changes)
		case loader.ActionUnchanged:
			ts.Unchanged++
		case loader.ActionException:
			ts.Exception++
		default:
			ts.Other++
		}
		ds := diffStep{StepDiff: s, Name: stepName(s.Label, s.ID),
			Open: s.Action != loader.ActionUnchanged && s.Action != loader.ActionSkip}
		if s.Action == loader.ActionUpdate || s.Action == loader.ActionUnchanged {
			ds.Link = c.targetLink(s.Table, s.TargetID)
		}
		for _, a := range s.Attachments {
			ds.Files = append(ds.Files, fileView{FileName: a.FileName, Words: previewAttachWords(a.Action)})
		}
		v.Steps = append(v.Steps, ds)
	}
	for _, t := range order {
		v.Tables = append(v.Tables, *byTable[t])
	}
	c.render(w, r, u, http.StatusOK, "preview", "records", v)
}

// load is the confirmation: it enqueues the load and shows its progress.
// A version in the form (the preview's) must still be the record's.
func (c *Console) load(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	changed := func() {
		c.render(w, r, u, http.StatusConflict, "error", "records", errorView{Status: http.StatusConflict, Heading: "The record changed",
			Message: "Record " + rec.Number + " changed after your preview (a newer payload or email, or another operator). Nothing was loaded: look at the record and preview again."})
	}
	var opts []staging.Option
	if v := r.PostForm.Get("version"); v != "" {
		seen, err := strconv.ParseInt(v, 10, 64)
		if err != nil || seen != rec.Version {
			changed()
			return
		}
		// The version check and the start of the load are one transaction.
		opts = append(opts, staging.IfVersion(seen))
	}
	jobID, err := c.app.Flow.EnqueueLoad(r.Context(), rec.ID, "user:"+u.Name, opts...)
	if errors.Is(err, staging.ErrConflict) {
		changed()
		return
	}
	var te *staging.TransitionError
	if errors.As(err, &te) {
		_, why := rec.Loadable()
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" cannot be loaded now: "+why+".")
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console load enqueued", "record", rec.Number, "job_id", jobID, "user", u.Name)
	http.Redirect(w, r, "/jobs/"+strconv.FormatInt(jobID, 10), http.StatusSeeOther)
}

type jobView struct {
	Job    *bookbridge.JobStatus
	Done   bool
	Result *resultView
	// RecordState is the loaded record's state now.
	RecordState staging.State
	LoadError   string
	// StateWords is the job's state in words (loadJobWords).
	StateWords string
	// Retry says, while the load waits for its next try, the last failure
	// and when the next try is.
	Retry string
}

func (c *Console) readJob(w http.ResponseWriter, r *http.Request, u *user) (*bookbridge.JobStatus, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.fail(w, r, u, http.StatusNotFound, "There is no job "+strconv.Quote(r.PathValue("id"))+".")
		return nil, false
	}
	st, err := c.app.Flow.Job(r.Context(), id)
	if errors.Is(err, staging.ErrNotFound) {
		c.fail(w, r, u, http.StatusNotFound, "There is no job "+r.PathValue("id")+": "+err.Error()+".")
		return nil, false
	}
	if err != nil {
		c.internal(w, r, u, err)
		return nil, false
	}
	return st, true
}

func (c *Console) job(w http.ResponseWriter, r *http.Request, u *user) {
	st, ok := c.readJob(w, r, u)
	if !ok {
		return
	}
	v := jobView{Job: st, Done: jobDone(st.State), StateWords: loadJobWords(st)}
	if st.Record != nil {
		v.RecordState = st.Record.State
	}
	if !v.Done && st.Load != nil && st.Load.Retrying() && v.RecordState == staging.StateLoading {
		v.Retry = strconv.Itoa(st.Load.Retries) + " failed, last failure: " + st.Load.Error + "; next try at " +
			c.when(st.Load.NextTryAt) + " (" + c.until(st.Load.NextTryAt) + ")"
	}
	if v.Done && st.Load != nil {
		v.LoadError = st.Load.Error
		if len(st.Load.Result) > 0 && v.RecordState == staging.StateLoaded {
			var res loader.Result
			if json.Unmarshal(st.Load.Result, &res) == nil {
				v.Result = c.resultView(&res)
			}
		}
	}
	c.render(w, r, u, http.StatusOK, "job", "records", v)
}

// JobProgress is the answer of GET /jobs/{id}/status, which the console's
// script polls to show progress.
type JobProgress struct {
	// State is River's; Label says it in words (queued, running,
	// retrying, done, failed).
	State       string `json:"state"`
	Label       string `json:"label"`
	Attempt     int    `json:"attempt"`
	Done        bool   `json:"done"`
	RecordState string `json:"record_state,omitempty"`
}

func (c *Console) jobStatus(w http.ResponseWriter, r *http.Request, u *user) {
	st, ok := c.readJob(w, r, u)
	if !ok {
		return
	}
	p := JobProgress{State: st.State, Label: loadJobWords(st), Attempt: st.Attempt, Done: jobDone(st.State)}
	if st.Record != nil {
		p.RecordState = string(st.Record.State)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(p)
}

// loadJobWords is a job's state in words (jobStateWords), told by its
// record for a load job: a load that ended load_failed has failed, one
// that ended loaded or in review is done (also in the moment before River
// marks its job completed), and one that waits for its next try is
// retrying.
func loadJobWords(st *bookbridge.JobStatus) string {
	words := jobStateWords(st.State)
	if st.Record == nil || st.Load == nil {
		return words
	}
	switch {
	case st.Record.State == staging.StateLoadFailed:
		return "failed"
	case st.Record.State == staging.StateLoading:
		if !jobDone(st.State) && st.Load.Retrying() {
			return "retrying"
		}
	case st.Record.State == staging.StateLoaded, st.Record.State == staging.StateNeedsReview:
		// The record is saved before River marks the job completed.
		return "done"
	}
	return words
}
