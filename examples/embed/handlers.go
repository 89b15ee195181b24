package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// channel names this service in the staging history ("via gateway").
const channel = "gateway"

// gateway is the team's service: its handlers hold the library's objects.
type gateway struct {
	store  *staging.Store
	target *sqltarget.Target
	rules  *mapping.Rules
	token  string
	log    *slog.Logger
	now    func() time.Time // the load date of plans; only main reads the clock
}

// routes is the service's own router, behind its own authentication.
func (g *gateway) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /deals", g.postDeal)
	mux.HandleFunc("POST /emails", g.postEmail)
	mux.HandleFunc("GET /records/{number}", g.getRecord)
	mux.HandleFunc("POST /records/{number}/load", g.postLoad)
	return g.requireToken(mux)
}

// requireToken lets through requests with "Authorization: Bearer <token>".
// Another team might check mTLS, an OIDC token or an API gateway header here.
func (g *gateway) requireToken(next http.Handler) http.Handler {
	want := []byte("Bearer " + g.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bookbridge-embed"`)
			writeError(w, http.StatusUnauthorized, "send Authorization: Bearer <EMBED_TOKEN>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// postDeal stages a Salesforce deal. sfdc.DecodeReader reads at most
// sfdc.DefaultMaxBytes and refuses duplicate keys and invalid UTF-8;
// sfdc.Validate reports every problem at once.
func (g *gateway) postDeal(w http.ResponseWriter, r *http.Request) {
	d, err := sfdc.DecodeReader[sfdc.Opportunity](r.Body)
	switch {
	case errors.Is(err, sfdc.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := sfdc.Validate(&d.Value); err != nil {
		var ve *sfdc.ValidationError
		if !errors.As(err, &ve) {
			g.fail(w, err)
			return
		}
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": "the deal has validation problems: fix each and send it again", "problems": ve.Problems})
		return
	}
	// The write completes even if the caller hangs up: a retry then gets
	// "duplicate" instead of meeting a half-written record.
	res, err := g.store.Intake(context.WithoutCancel(r.Context()), staging.PayloadFromOpportunity(d), staging.Via(channel))
	if err != nil {
		g.fail(w, err)
		return
	}
	status := http.StatusOK // duplicate, updated
	switch res.Outcome {
	case staging.IntakeCreated, staging.IntakeMerged:
		status = http.StatusCreated
	case staging.IntakeStale:
		status = http.StatusConflict
	}
	g.log.Info("deal staged", "outcome", res.Outcome, "record", res.Record.Number, "salesforce_id", d.Value.ID)
	writeJSON(w, status, map[string]any{"outcome": res.Outcome, "number": res.Record.Number,
		"state": res.Record.State, "reason": res.Reason})
}

// postEmail stages a Provisioning Hub email sent as the raw message.
func (g *gateway) postEmail(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, phmail.DefaultMaxMessageBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "the message is larger than the limit of 25 MiB")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the message: "+err.Error())
		return
	}
	ctx := context.WithoutCancel(r.Context())
	msg, err := phmail.Parse(raw)
	switch {
	case errors.Is(err, phmail.ErrNotPH):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"outcome": "not_ph", "error": err.Error()})
		return
	case phmail.IsRejection(err):
		// A PH email that cannot be used is kept for a person to look at.
		q, qerr := g.store.Quarantine(ctx, raw, err.Error(), channel, staging.Via(channel))
		if qerr != nil {
			g.fail(w, qerr)
			return
		}
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"outcome": staging.EmailQuarantined,
			"error": err.Error(), "quarantine_id": q.ID})
		return
	case err != nil:
		g.fail(w, err)
		return
	}
	res, err := g.store.IngestEmail(ctx, stagingEmail(msg, raw), staging.Via(channel))
	if err != nil {
		g.fail(w, err)
		return
	}
	answer := map[string]any{"outcome": res.Outcome, "reason": res.Reason, "candidates": res.Candidates}
	if res.Record != nil {
		answer["number"], answer["state"] = res.Record.Number, res.Record.State
	}
	g.log.Info("PH email staged", "outcome", res.Outcome, "record", answer["number"], "message_id", msg.MessageID)
	writeJSON(w, http.StatusOK, answer)
}

// getRecord answers a staged record with whether it can be loaded now.
func (g *gateway) getRecord(w http.ResponseWriter, r *http.Request) {
	rec, err := g.store.GetByNumber(r.Context(), r.PathValue("number"))
	if err != nil {
		g.fail(w, err)
		return
	}
	ok, why := rec.Loadable()
	writeJSON(w, http.StatusOK, struct {
		*staging.Record
		Loadable    bool   `json:"loadable"`
		NotLoadable string `json:"not_loadable,omitempty"`
	}{rec, ok, why})
}

// fail answers a library error with the status this service chose for it.
func (g *gateway) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, staging.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, staging.ErrIllegalTransition), errors.Is(err, staging.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, staging.ErrInvalidInput):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	default:
		g.log.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error; the log says what went wrong, retry later")
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the status is sent; a broken connection is the caller's
}
