package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

// loadTimeout bounds one load's calls to the target.
const loadTimeout = 2 * time.Minute

// progress is what this service keeps in staging's load journal (opaque
// JSON to staging): the plan being applied and the loader's journal.
type progress struct {
	Plan    *loader.Plan   `json:"plan"`
	Journal loader.Journal `json:"journal"`
}

// postLoad is the "SFDC Data" button: plan the record at the current time
// and apply the plan to the target. With ?dry_run=true it answers what the
// load would change, without writing. The load runs within the request; a
// service with slow targets would run it as a background job instead.
func (g *gateway) postLoad(w http.ResponseWriter, r *http.Request) {
	rec, err := g.store.GetByNumber(r.Context(), r.PathValue("number"))
	if err != nil {
		g.fail(w, err)
		return
	}
	if r.URL.Query().Get("dry_run") == "true" {
		plan, err := g.plan(rec)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "planning: "+err.Error())
			return
		}
		diff, err := loader.Preview(r.Context(), plan, g.target, g.loaderOptions(rec.ID))
		if err != nil {
			g.fail(w, err)
			return
		}
		ok, why := rec.Loadable()
		writeJSON(w, http.StatusOK, map[string]any{"loadable": ok, "not_loadable": why, "diff": diff})
		return
	}
	if ok, why := rec.Loadable(); !ok {
		writeError(w, http.StatusConflict, rec.Number+" cannot be loaded: "+why)
		return
	}
	// StartLoad moves the record to loading; a second press, or one that
	// raced with a new payload (IfVersion), is refused with a 409.
	ctx := context.WithoutCancel(r.Context())
	rec, err = g.store.StartLoad(ctx, rec.ID, staging.IfVersion(rec.Version), staging.Via(channel))
	if err != nil {
		g.fail(w, err)
		return
	}
	res, loadErr := g.load(ctx, rec)
	// Whatever happened, the record leaves loading: loaded, needs_review
	// (an exception such as several matching companies) or load_failed
	// (retry by pressing again).
	var after *staging.Record
	switch {
	case loadErr == nil && res.Status == loader.StatusLoaded:
		after, err = g.store.FinishLoad(ctx, rec.ID, mustJSON(res), staging.Via(channel))
	case loadErr == nil && res.Status == loader.StatusNeedsReview:
		after, err = g.store.MarkNeedsReview(ctx, rec.ID, "the load raised an exception instead of guessing: "+res.Summary(),
			nil, staging.Via(channel)) // nil keeps the journal OnWrite saved
	default:
		if loadErr == nil {
			loadErr = errors.New(res.Error)
		}
		after, err = g.store.FailLoad(ctx, rec.ID, loadErr.Error(), nil, staging.Via(channel))
	}
	if err != nil {
		g.fail(w, err)
		return
	}
	g.log.Info("load finished", "record", rec.Number, "state", after.State, "err", loadErr)
	answer := map[string]any{"number": after.Number, "state": after.State, "result": res}
	status := http.StatusOK
	if loadErr != nil {
		answer["error"] = loadErr.Error()
		status = http.StatusBadGateway // the target refused or failed
		if res == nil {
			status = http.StatusInternalServerError // nothing was sent: planning or saving failed
		}
	}
	writeJSON(w, status, answer)
}

// load plans rec and applies the plan, saving the journal after every write
// so that the record shows what reached the target even if this process
// dies half-way. A later attempt plans afresh at its own time; it does not
// duplicate anything, because every step first finds its record by its match
// keys (and the SQL target commits a load in one transaction anyway).
func (g *gateway) load(ctx context.Context, rec *staging.Record) (*loader.Result, error) {
	plan, err := g.plan(rec)
	if err != nil {
		return nil, errors.New("planning: " + err.Error())
	}
	save := func(ctx context.Context, j loader.Journal) error {
		return g.store.SaveJournal(ctx, rec.ID, mustJSON(progress{Plan: plan, Journal: j}), staging.Via(channel))
	}
	if err := save(ctx, loader.Journal{}); err != nil {
		return nil, err
	}
	opts := g.loaderOptions(rec.ID)
	opts.OnWrite = save
	actx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	return loader.Apply(actx, plan, g.target, loader.Journal{}, opts)
}

// plan makes the load plan of rec at the current time.
func (g *gateway) plan(rec *staging.Record) (*loader.Plan, error) {
	in, err := planInput(rec, g.now())
	if err != nil {
		return nil, err
	}
	return g.rules.Plan(in)
}

// loaderOptions give the loader the record's staged files: the plan names
// them by staging attachment id, their bytes come from the store.
func (g *gateway) loaderOptions(recordID int64) loader.Options {
	files := loader.SourceFunc(func(ctx context.Context, id string) ([]byte, error) {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, errors.New("attachment id " + strconv.Quote(id) + " is not a staging attachment id")
		}
		_, data, err := g.store.Attachment(ctx, recordID, n)
		return data, err
	})
	return loader.Options{Attachments: files, Logger: g.log.With("component", "loader")}
}

// mustJSON marshals values that always marshal (plans, journals, results).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
