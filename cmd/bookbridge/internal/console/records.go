package console

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/staging"
)

// defaultPageSize is the number of records a list page shows.
const defaultPageSize = 50

type stateCount struct {
	State  staging.State
	Count  int
	Active bool
}

type listRow struct {
	staging.Summary
	Late bool
	Age  string
}

type recordsView struct {
	Query     string
	State     string
	LateOnly  bool
	Counts    []stateCount
	Total     int
	Late      int
	LateAfter string
	Rows      []listRow
	NextURL   string
	FirstURL  string
}

func (c *Console) records(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	p := server.ReadParams(r)
	f := staging.Filter{
		Text:  strings.TrimSpace(p.Text("q", server.MaxSearchRunes)),
		After: p.Text("cursor", server.MaxCursorRunes),
		Limit: p.Int("limit", 1, 200, defaultPageSize),
	}
	// The form's "All states" sends an empty state.
	if p.Text("state", 100) != "" {
		f.States = server.Enum(p, "state", staging.States())
	}
	v := recordsView{Query: f.Text, LateOnly: len(server.Enum(p, "waiting", []string{"late"})) > 0,
		LateAfter: formatAge(c.app.Cfg.WaitingAlert)}
	if probs := p.Problems(); len(probs) > 0 {
		c.fail(w, r, u, http.StatusBadRequest, "The list cannot be shown: "+strings.Join(probs, "; ")+".")
		return
	}
	if len(f.States) == 1 {
		v.State = string(f.States[0])
	}
	limit := ""
	if p.Has("limit") {
		limit = strconv.Itoa(f.Limit)
	}
	counts, err := c.app.Store.Counts(ctx)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	for _, s := range staging.States() {
		v.Counts = append(v.Counts, stateCount{State: s, Count: counts[s], Active: string(s) == v.State})
		v.Total += counts[s]
	}
	waiting, err := c.app.Store.Waiting(ctx, c.app.Cfg.WaitingAlert)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v.Late = len(waiting)
	var rows []staging.Summary
	if v.LateOnly {
		rows = waiting
	} else {
		page, err := c.app.Store.List(ctx, f)
		var ie *staging.InputError
		if errors.As(err, &ie) {
			c.fail(w, r, u, http.StatusBadRequest, "The list cannot be shown: "+err.Error())
			return
		}
		if err != nil {
			c.internal(w, r, u, err)
			return
		}
		rows = page.Records
		if page.Next != "" {
			v.NextURL = listURL(v.Query, v.State, limit, page.Next)
		}
		if f.After != "" {
			v.FirstURL = listURL(v.Query, v.State, limit, "")
		}
	}
	for _, s := range rows {
		row := listRow{Summary: s, Late: c.isLate(s)}
		if row.Late {
			row.Age = c.ago(s.StateSince)
		}
		v.Rows = append(v.Rows, row)
	}
	c.render(w, r, u, http.StatusOK, "records", "records", v)
}

// isLate reports whether a record has waited for its other half longer
// than BOOKBRIDGE_WAITING_ALERT (the rule of staging's Store.Waiting).
func (c *Console) isLate(s staging.Summary) bool {
	if s.State != staging.StateReceived && s.State != staging.StateWaitingForPayload {
		return false
	}
	return !s.StateSince.After(c.app.Now().Add(-c.app.Cfg.WaitingAlert))
}

// listURL is the address of a list page with the same filter.
func listURL(text, state, limit, cursor string) string {
	q := url.Values{}
	if text != "" {
		q.Set("q", text)
	}
	if state != "" {
		q.Set("state", state)
	}
	if limit != "" {
		q.Set("limit", limit)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(q) == 0 {
		return "/records"
	}
	return "/records?" + q.Encode()
}

// findRecord reads the record of the {id} path value (an id or a number);
// it has answered when ok is false.
func (c *Console) findRecord(w http.ResponseWriter, r *http.Request, u *user) (*staging.Record, bool) {
	ref := r.PathValue("id")
	rec, err := c.app.Flow.FindRecord(r.Context(), ref)
	if errors.Is(err, staging.ErrNotFound) {
		c.fail(w, r, u, http.StatusNotFound, "There is no record "+strconv.Quote(ref)+". Search for it on the records page.")
		return nil, false
	}
	if err != nil {
		c.internal(w, r, u, err)
		return nil, false
	}
	return rec, true
}

func (c *Console) record(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	hist, err := c.app.Store.History(r.Context(), rec.ID)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v := c.recordView(rec, hist)
	if v.LoadJob, err = c.app.Flow.LoadJobOf(r.Context(), rec.ID); err != nil {
		c.internal(w, r, u, err)
		return
	}
	if j := v.LoadJob; j != nil && (j.Record == nil || j.Load == nil) {
		// The job's words depend on the record (loadJobWords).
		j.Record, j.Load = &rec.Summary, &rec.Load
	}
	c.render(w, r, u, http.StatusOK, "record", "records", v)
}

func (c *Console) attachment(w http.ResponseWriter, r *http.Request, u *user) {
	p := server.ReadParams(r)
	p.Bool("download")
	if probs := p.Problems(); len(probs) > 0 {
		c.fail(w, r, u, http.StatusBadRequest, "The file cannot be shown: "+strings.Join(probs, "; ")+".")
		return
	}
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("att"), 10, 64)
	if err != nil {
		c.fail(w, r, u, http.StatusNotFound, "Record "+rec.Number+" has no attachment "+strconv.Quote(r.PathValue("att"))+".")
		return
	}
	att, data, err := c.app.Store.Attachment(r.Context(), rec.ID, id)
	if errors.Is(err, staging.ErrNotFound) {
		c.fail(w, r, u, http.StatusNotFound, "Record "+rec.Number+" has no attachment "+strconv.Quote(r.PathValue("att"))+".")
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	// The file sets its own policy (sandboxed, PDF viewer allowed).
	w.Header().Del("X-Frame-Options")
	server.ServeAttachment(w, r, att, data)
}

func (c *Console) rawEmail(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	if rec.PH == nil {
		c.fail(w, r, u, http.StatusNotFound, "Record "+rec.Number+" has no Provisioning Hub email yet.")
		return
	}
	raw, err := c.app.Store.RawEmail(r.Context(), rec.PH.EmailID)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.Number + "-ph-email.eml"}))
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
}
