package server

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
)

// RecordPage is the body of GET /api/v1/records.
type RecordPage struct {
	Records    []staging.Summary     `json:"records"`
	Counts     map[staging.State]int `json:"counts"`
	NextCursor string                `json:"next_cursor,omitempty"`
}

// Bounds of the query of a list of records (the API's and the console's).
const (
	// MaxSearchRunes bounds the free-text search q.
	MaxSearchRunes = 200
	// MaxCursorRunes bounds a page's cursor.
	MaxCursorRunes = 100
	maxWaiting     = 10 * 365 * 24 * time.Hour
)

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	p := ReadParams(r)
	f := staging.Filter{
		States: Enum(p, "state", staging.States()),
		Text:   p.Text("q", MaxSearchRunes),
		After:  p.Text("cursor", MaxCursorRunes),
		Limit:  p.Int("limit", 1, 200, 0),
	}
	age := p.Duration("waiting_longer_than", time.Second, maxWaiting)
	if p.Refuse(w, r) {
		return
	}
	ctx := r.Context()
	counts, err := s.app.Store.Counts(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if age > 0 {
		recs, err := s.app.Store.Waiting(ctx, age)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, RecordPage{Records: recs, Counts: counts})
		return
	}
	page, err := s.app.Store.List(ctx, f)
	if err != nil {
		var ie *staging.InputError
		if errors.As(err, &ie) {
			writeError(w, r, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		s.internal(w, r, err)
		return
	}
	if page.Records == nil {
		page.Records = []staging.Summary{}
	}
	writeJSON(w, http.StatusOK, RecordPage{Records: page.Records, Counts: counts, NextCursor: page.Next})
}

// RecordAnswer is the body of GET /api/v1/records/{id}.
type RecordAnswer struct {
	*staging.Record
	Loadable      bool            `json:"loadable"`
	NotLoadableBy string          `json:"not_loadable_because,omitempty"`
	History       []staging.Event `json:"history"`
	// LoadJob is the record's latest load job, when River still keeps it.
	LoadJob *bookbridge.JobStatus `json:"load_job,omitempty"`
	// LoadProgress is what a load under way or failed has written to the
	// target, and the steps it still has to do.
	LoadProgress *bookbridge.LoadProgress `json:"load_progress,omitempty"`
}

// record finds the record named by the {id} path value: an id or a number.
func (s *Server) record(w http.ResponseWriter, r *http.Request) (*staging.Record, bool) {
	rec, err := s.app.Flow.FindRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return nil, false
	}
	return rec, true
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	hist, err := s.app.Store.History(r.Context(), rec.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	job, err := s.app.Flow.LoadJobOf(r.Context(), rec.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	loadable, why := rec.Loadable()
	writeJSON(w, http.StatusOK, RecordAnswer{Record: rec, Loadable: loadable, NotLoadableBy: why, History: hist, LoadJob: job,
		LoadProgress: s.app.Flow.Progress(rec)})
}

func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request) {
	p := ReadParams(r)
	p.Bool("download")
	if p.Refuse(w, r) {
		return
	}
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	attID, err := strconv.ParseInt(r.PathValue("attachment"), 10, 64)
	if err != nil {
		writeError(w, r, http.StatusNotFound, "not_found", "no attachment "+r.PathValue("attachment"))
		return
	}
	att, data, err := s.app.Store.Attachment(r.Context(), rec.ID, attID)
	if errors.Is(err, staging.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "not_found", "record "+rec.Number+" has no attachment "+r.PathValue("attachment"))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	ServeAttachment(w, r, att, data)
}

// OpensInline reports whether att is shown in the browser: the PDF check's
// verdict (phmail.ShowInline), the one rule the API and the console share.
func OpensInline(att staging.Attachment) bool { return phmail.ShowInline(att.ContentType, att.Usable) }

// ServeAttachment writes a staged file. Only a checked, usable PDF is shown
// in the browser (OpensInline), unless the query asks for download=true;
// anything else (a flagged PDF, other types) is offered as a download, and
// nothing is sniffed or scripted. The caller has checked the query with
// ReadParams.
func ServeAttachment(w http.ResponseWriter, r *http.Request, att staging.Attachment, data []byte) {
	h := w.Header()
	inline := OpensInline(att) && !ReadParams(r).Bool("download")
	ct := att.ContentType
	if !inline {
		ct = "application/octet-stream"
	}
	disp := "attachment"
	if inline {
		disp = "inline"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": att.FileName}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; object-src 'self'; plugin-types application/pdf")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("X-Attachment-SHA256", att.SHA256)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// JobAccepted is the body of a load request that enqueued a job.
type JobAccepted struct {
	JobID  int64  `json:"job_id"`
	Record string `json:"record"`
}

func (s *Server) loadRecord(w http.ResponseWriter, r *http.Request) {
	p := ReadParams(r)
	dry, reload := p.Bool("dry_run"), p.Bool("reload")
	if p.Refuse(w, r) {
		return
	}
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	if reload {
		s.reloadRecord(w, r, rec, dry)
		return
	}
	if dry {
		p, err := s.app.Flow.Preview(r.Context(), rec)
		if err != nil {
			s.fail(w, r, err, http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, p)
		return
	}
	key, _ := CallerKey(r.Context())
	jobID, err := s.app.Flow.EnqueueLoad(r.Context(), rec.ID, "key:"+key.Name)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusAccepted, JobAccepted{JobID: jobID, Record: rec.Number})
}

// retryNow makes a retrying load try again at once.
func (s *Server) retryNow(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	if err := s.app.Flow.RetryNow(r.Context(), rec.ID); err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"record": rec.Number, "state": string(rec.State)})
}

// stopRetrying makes a retrying load load_failed.
func (s *Server) stopRetrying(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	key, _ := CallerKey(r.Context())
	after, err := s.app.Flow.StopRetrying(r.Context(), rec.ID, "key:"+key.Name)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, after.Summary)
}

// RetryRequest is the body of POST /api/v1/loads/retry.
type RetryRequest struct {
	// OlderThan keeps loads that failed at least this long ago (such as 1h).
	OlderThan string `json:"older_than,omitempty"`
	// ErrorContains keeps loads whose reason contains this text.
	ErrorContains string `json:"error_contains,omitempty"`
	// DryRun only counts and lists them.
	DryRun bool `json:"dry_run,omitempty"`
}

// RetryAnswer is the answer of POST /api/v1/loads/retry.
type RetryAnswer struct {
	Count   int                     `json:"count"`
	DryRun  bool                    `json:"dry_run"`
	Records []bookbridge.FailedLoad `json:"records"`
}

// retryFailed loads every load_failed record matching the filter again,
// or with dry_run lists them.
func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) {
	var req RetryRequest
	if !readJSONRequest(w, r, 64<<10, &req, `{"older_than": "1h", "error_contains": "503", "dry_run": true}`) {
		return
	}
	var f bookbridge.RetryFilter
	if req.OlderThan != "" {
		d, err := time.ParseDuration(req.OlderThan)
		if err != nil || d < 0 {
			writeError(w, r, http.StatusBadRequest, "bad_request", "older_than must be a duration such as 30m or 24h")
			return
		}
		f.OlderThan = d
	}
	f.ErrorContains = req.ErrorContains
	var recs []bookbridge.FailedLoad
	var err error
	if req.DryRun {
		recs, err = s.app.Flow.FailedLoads(r.Context(), f)
	} else {
		key, _ := CallerKey(r.Context())
		recs, err = s.app.Flow.RetryFailed(r.Context(), f, "key:"+key.Name)
	}
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	if recs == nil {
		recs = []bookbridge.FailedLoad{}
	}
	status := http.StatusAccepted
	if req.DryRun {
		status = http.StatusOK
	}
	writeJSON(w, status, RetryAnswer{Count: len(recs), DryRun: req.DryRun, Records: recs})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, r, http.StatusNotFound, "not_found", "no job "+r.PathValue("id"))
		return
	}
	job, err := s.app.Flow.Job(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.fail(w, r, err, http.StatusInternalServerError)
}
