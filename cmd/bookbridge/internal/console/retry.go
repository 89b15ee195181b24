package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/staging"
)

// confirmView is a page that asks before an action: the question, what the
// action concerns, and a form that sends the same fields again with
// confirmed=1.
type confirmView struct {
	Heading  string
	Question string
	Items    []string
	Action   string
	Fields   []field // hidden fields, Label as the name
	Button   string
	Cancel   string
	// Empty says that there is nothing to do (no form is shown).
	Empty string
}

// retryNow makes a retrying load try again at once.
func (c *Console) retryNow(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	err := c.app.Flow.RetryNow(r.Context(), rec.ID)
	var nl *bookbridge.NotLoadableError
	if errors.As(err, &nl) {
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" cannot be tried again now: "+nl.Reason+".")
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console retry now", "record", rec.Number, "user", u.Name)
	c.setFlash(w, r, "The load of record "+rec.Number+" is being tried again now.")
	http.Redirect(w, r, "/records/"+rec.Number, http.StatusSeeOther)
}

// stopRetrying ends a retrying load (the record becomes load_failed), after
// a confirmation: the script's dialog, or without JavaScript a page of its
// own.
func (c *Console) stopRetrying(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	if rec.State != staging.StateLoading || !rec.Load.Retrying() {
		c.fail(w, r, u, http.StatusConflict, "The load of record "+rec.Number+" is not retrying (it is "+stateLabel(rec.State)+"), so there is nothing to stop.")
		return
	}
	if r.PostForm.Get("confirmed") != "1" {
		c.render(w, r, u, http.StatusOK, "confirm", "records", confirmView{
			Heading:  "Stop retrying " + rec.Number + "?",
			Question: "The load of record " + rec.Number + " becomes load failed with its last failure; what it already wrote stays in the target, and a later load resumes from it.",
			Items:    []string{rec.Load.Error},
			Action:   "/records/" + rec.Number + "/stop-retrying",
			Button:   "Stop retrying",
			Cancel:   "/records/" + rec.Number,
		})
		return
	}
	after, err := c.app.Flow.StopRetrying(r.Context(), rec.ID, "user:"+u.Name)
	var nl *bookbridge.NotLoadableError
	var te *staging.TransitionError
	switch {
	case errors.As(err, &nl):
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" cannot stop retrying: "+nl.Reason+".")
		return
	case errors.As(err, &te), errors.Is(err, staging.ErrConflict):
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" changed meanwhile (its load may have finished). Nothing was done: look at the record again.")
		return
	case err != nil:
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console stopped retrying", "record", rec.Number, "user", u.Name)
	c.setFlash(w, r, "Record "+rec.Number+" stopped retrying; it is "+stateLabel(after.State)+" now.")
	http.Redirect(w, r, "/records/"+rec.Number, http.StatusSeeOther)
}

// retryFailed loads again every failed load that matches the form's
// filter, after a page that names how many that is.
func (c *Console) retryFailed(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	olderText := strings.TrimSpace(r.PostForm.Get("older_than"))
	errText := strings.TrimSpace(r.PostForm.Get("error_contains"))
	older, err := parseAge(olderText)
	if err != nil {
		c.fail(w, r, u, http.StatusBadRequest, "“Failed more than … ago” must be a duration such as 30m, 2h or 3d: "+err.Error()+".")
		return
	}
	filter := bookbridge.RetryFilter{OlderThan: older, ErrorContains: errText}
	if r.PostForm.Get("confirmed") != "1" {
		loads, err := c.app.Flow.FailedLoads(ctx, filter)
		if err != nil {
			c.internal(w, r, u, err)
			return
		}
		v := confirmView{
			Heading: fmt.Sprintf("Retry %s?", plural(len(loads), "failed load", "failed loads")),
			Action:  "/exceptions/retry-failed",
			Fields:  []field{{"older_than", olderText}, {"error_contains", errText}},
			Button:  fmt.Sprintf("Retry %s", plural(len(loads), "load", "loads")),
			Cancel:  "/exceptions",
		}
		v.Question = "Each is loaded again and resumes from what its failed load wrote"
		if f := filterWords(olderText, errText); f != "" {
			v.Question += " (" + f + ")"
		}
		v.Question += "."
		for _, l := range loads {
			v.Items = append(v.Items, l.Number+" "+l.Company+": failed "+c.when(l.FailedAt)+": "+l.Error)
		}
		if len(loads) == 0 {
			v.Empty = "No failed load matches"
			if f := filterWords(olderText, errText); f != "" {
				v.Empty += " (" + f + ")"
			}
			v.Empty += ": nothing to retry."
		}
		c.render(w, r, u, http.StatusOK, "confirm", "exceptions", v)
		return
	}
	done, err := c.app.Flow.RetryFailed(ctx, filter, "user:"+u.Name)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	var enqueued int
	var skipped []string
	for _, l := range done {
		if l.JobID != 0 {
			enqueued++
		} else if l.Skipped != "" {
			skipped = append(skipped, l.Number+" ("+l.Skipped+")")
		}
	}
	msg := "Enqueued " + plural(enqueued, "load", "loads") + " of failed records."
	if len(skipped) > 0 {
		msg += " Not retried: " + strings.Join(skipped, "; ") + "."
	}
	server.Logger(ctx).Info("console retried failed loads", "enqueued", enqueued, "skipped", len(skipped), "user", u.Name)
	c.setFlash(w, r, msg)
	http.Redirect(w, r, "/exceptions", http.StatusSeeOther)
}

// filterWords says a retry filter for people.
func filterWords(older, errText string) string {
	var parts []string
	if older != "" {
		parts = append(parts, "failed more than "+older+" ago")
	}
	if errText != "" {
		parts = append(parts, "error containing “"+errText+"”")
	}
	return strings.Join(parts, ", ")
}

// parseAge reads a duration as people write it: Go's units (30m, 1h30m)
// plus d for days (3d); empty is zero.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a whole number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}
