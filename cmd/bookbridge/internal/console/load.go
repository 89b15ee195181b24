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
	Link string
}

type previewView struct {
	Rec      *staging.Record
	Target   string
	Preview  *bookbridge.Preview
	Steps    []diffStep
	Counts   []actionCount
	Error    string
	Loadable bool
	Reason   string
}

type actionCount struct {
	Action loader.Action
	Count  int
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
	counts := map[loader.Action]int{}
	for _, s := range p.Diff.Steps {
		counts[s.Action]++
		ds := diffStep{StepDiff: s}
		if s.Action == loader.ActionUpdate || s.Action == loader.ActionUnchanged {
			ds.Link = c.targetLink(s.Table, s.TargetID)
		}
		v.Steps = append(v.Steps, ds)
	}
	for _, a := range []loader.Action{loader.ActionInsert, loader.ActionUpdate, loader.ActionUnchanged,
		loader.ActionException, loader.ActionSkip, loader.ActionFail} {
		if counts[a] > 0 {
			v.Counts = append(v.Counts, actionCount{a, counts[a]})
		}
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
}

// jobDone reports whether River will not work the job again.
func jobDone(state string) bool {
	return state == "completed" || state == "discarded" || state == "cancelled"
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
	v := jobView{Job: st, Done: jobDone(st.State)}
	if st.Record != nil {
		v.RecordState = st.Record.State
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
	State       string `json:"state"`
	Attempt     int    `json:"attempt"`
	Done        bool   `json:"done"`
	RecordState string `json:"record_state,omitempty"`
}

func (c *Console) jobStatus(w http.ResponseWriter, r *http.Request, u *user) {
	st, ok := c.readJob(w, r, u)
	if !ok {
		return
	}
	p := JobProgress{State: st.State, Attempt: st.Attempt, Done: jobDone(st.State)}
	if st.Record != nil {
		p.RecordState = string(st.Record.State)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(p)
}
