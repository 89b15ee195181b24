package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/staging"
)

type exceptionItem struct {
	Rec *staging.Record
	// Reason says why the record is here: the review's reason or the
	// load's error.
	Reason string
	Since  string
	// KeepWaiting is offered for a record that holds a PH email only.
	KeepWaiting bool
	// Retry offers RetryReview; LoadAgain a new load of a failed one.
	Retry     bool
	LoadAgain bool
}

// underWayItem is a load under way as the exceptions page lists it.
type underWayItem struct {
	staging.LoadUnderWay
	Age      string // since the load started
	Retrying bool
	NextTry  string // "in 2m", while retrying
	// Stuck: the load's present try has run longer than the job rescue
	// time (BOOKBRIDGE_JOB_RESCUE_AFTER) and no retry is scheduled, so its
	// process probably died; River runs it again from its journal.
	Stuck bool
	// TryFor is how long the present try has run.
	TryFor string
}

type exceptionsView struct {
	UnderWay    []underWayItem
	RescueAfter string
	Failed      int
	Items       []exceptionItem
	NextURL     string
	FirstURL    string
	Quarantine  []staging.QuarantineEntry
}

// exceptionStates are the states the exceptions page lists.
var exceptionStates = []staging.State{staging.StateNeedsReview, staging.StateLoadFailed}

func (c *Console) exceptions(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	p := server.ReadParams(r)
	cursor := p.Text("cursor", server.MaxCursorRunes)
	if probs := p.Problems(); len(probs) > 0 {
		c.fail(w, r, u, http.StatusBadRequest, "The list cannot be shown: "+strings.Join(probs, "; ")+".")
		return
	}
	page, err := c.app.Store.List(ctx, staging.Filter{States: exceptionStates, Limit: defaultPageSize, After: cursor})
	var ie *staging.InputError
	if errors.As(err, &ie) {
		c.fail(w, r, u, http.StatusBadRequest, "The list cannot be shown: "+err.Error())
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v := exceptionsView{RescueAfter: formatAge(c.app.Cfg.JobRescueAfter)}
	if c.app.Cfg.JobRescueAfter < time.Minute {
		v.RescueAfter = c.app.Cfg.JobRescueAfter.Round(time.Second).String()
	}
	under, err := c.app.Store.LoadsUnderWay(ctx)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	now := c.app.Now()
	for _, l := range under {
		it := underWayItem{LoadUnderWay: l, Age: c.ago(l.StartedAt), Retrying: !l.NextTryAt.IsZero()}
		// The present try began at the load's start, or at the time its
		// last retry was due.
		tryStart := l.StartedAt
		if it.Retrying {
			it.NextTry = c.until(l.NextTryAt)
			tryStart = l.NextTryAt
		}
		if !tryStart.IsZero() && now.After(tryStart) {
			it.TryFor = formatAge(now.Sub(tryStart))
			it.Stuck = now.Sub(tryStart) > c.app.Cfg.JobRescueAfter
		}
		v.UnderWay = append(v.UnderWay, it)
	}
	counts, err := c.app.Store.Counts(ctx)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v.Failed = counts[staging.StateLoadFailed]
	if page.Next != "" {
		v.NextURL = "/exceptions?cursor=" + url.QueryEscape(page.Next)
	}
	if cursor != "" {
		v.FirstURL = "/exceptions"
	}
	for _, s := range page.Records {
		rec, err := c.app.Store.Get(ctx, s.ID)
		if errors.Is(err, staging.ErrNotFound) {
			continue
		}
		if err != nil {
			c.internal(w, r, u, err)
			return
		}
		it := exceptionItem{Rec: rec, Since: c.since(rec.StateSince)}
		switch rec.State {
		case staging.StateNeedsReview:
			it.Retry = true
			it.KeepWaiting = !rec.HasPayload && rec.HasEmail
			if rec.Review != nil {
				it.Reason = rec.Review.Reason
			}
		case staging.StateLoadFailed:
			it.LoadAgain = true
			it.Reason = rec.Load.Error
		}
		v.Items = append(v.Items, it)
	}
	q, err := c.app.Store.ListQuarantine(ctx, staging.QuarantineFilter{Limit: 20})
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v.Quarantine = q.Entries
	c.render(w, r, u, http.StatusOK, "exceptions", "exceptions", v)
}

// review resolves a needs_review record: choose a candidate, run the
// decision again (retry), or let an email-only record wait for its payload.
func (c *Console) review(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	ctx := r.Context()
	opts := []staging.Option{staging.By("user:" + u.Name), staging.Via("console")}
	if v := r.PostForm.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			c.fail(w, r, u, http.StatusBadRequest, "The form's record version is not a number. Reload the page.")
			return
		}
		opts = append(opts, staging.IfVersion(n))
	}
	var err error
	var done string
	switch action := r.PostForm.Get("action"); action {
	case "choose":
		cand, perr := strconv.ParseInt(r.PostForm.Get("candidate"), 10, 64)
		if perr != nil {
			c.fail(w, r, u, http.StatusBadRequest, "Choose one of the candidate records listed.")
			return
		}
		var res staging.ReviewResult
		res, err = c.app.Store.ChooseCandidate(ctx, rec.ID, cand, opts...)
		if err == nil {
			done = "Record " + rec.Number + " resolved: the email went to " + targetNumber(res) + "."
		}
	case "retry":
		var res staging.ReviewResult
		res, err = c.app.Store.RetryReview(ctx, rec.ID, opts...)
		if err == nil {
			done = "Record " + rec.Number + " was decided again; it is now " + stateLabel(res.Record.State) + "."
		}
	case "keep_waiting":
		var after *staging.Record
		after, err = c.app.Store.KeepWaiting(ctx, rec.ID, opts...)
		if err == nil {
			done = "Record " + rec.Number + " now waits for its Salesforce payload (" + stateLabel(after.State) + ")."
		}
	default:
		c.fail(w, r, u, http.StatusBadRequest, "Unknown action "+strconv.Quote(action)+": use choose, retry or keep_waiting.")
		return
	}
	var te *staging.TransitionError
	var ie *staging.InputError
	switch {
	case errors.Is(err, staging.ErrConflict):
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" changed while you looked at it. Nothing was done: reload the page and decide again.")
		return
	case errors.As(err, &te):
		c.fail(w, r, u, http.StatusConflict, "This cannot be done to record "+rec.Number+" now: "+te.Error())
		return
	case errors.As(err, &ie), errors.Is(err, staging.ErrNotFound):
		c.fail(w, r, u, http.StatusBadRequest, "This cannot be done to record "+rec.Number+": "+err.Error())
		return
	case err != nil:
		c.internal(w, r, u, err)
		return
	}
	server.Logger(ctx).Info("console review resolved", "record", rec.Number, "action", r.PostForm.Get("action"), "user", u.Name)
	c.setFlash(w, r, done)
	back := "/records/" + rec.Number
	if b := r.PostForm.Get("back"); b != "" {
		back = safeNext(b)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func targetNumber(res staging.ReviewResult) string {
	if res.Target != nil {
		return res.Target.Number
	}
	return "its record"
}
