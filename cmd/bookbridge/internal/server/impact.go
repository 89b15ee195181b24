package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
)

// MaxRulesBytes bounds a rule file sent to the API or the console (and
// BOOKBRIDGE_MAX_BODY_BYTES, when it is smaller).
const MaxRulesBytes = 1 << 20

// RuleTypes are the content types a rule file is accepted in.
var RuleTypes = []string{"application/yaml", "text/yaml", "text/plain", "application/x-yaml"}

// rulesName is the file name a rule file sent in a body is compiled under
// (its problems read rules.yaml:LINE:COL), unless ?name= gives another.
const rulesName = "rules.yaml"

// maxRulesNameRunes bounds the ?name= of a rule file.
const maxRulesNameRunes = 200

// rulesLimit is the largest rule file accepted.
func (s *Server) rulesLimit() int64 {
	return min(int64(MaxRulesBytes), s.app.Cfg.MaxBodyBytes)
}

// readRules reads and compiles the rule file of the body under name
// (rulesName when empty); it has answered when ok is false.
func (s *Server) readRules(w http.ResponseWriter, r *http.Request, name string) (rules *mapping.Rules, ok bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !isRuleType(mt) {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the rule file with Content-Type: application/yaml (or text/yaml, text/plain)")
		return nil, false
	}
	limit := s.rulesLimit()
	tooLarge := func() {
		writeError(w, r, http.StatusRequestEntityTooLarge, "too_large", "the rule file is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes")
	}
	if r.ContentLength > limit {
		tooLarge()
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		tooLarge()
		return nil, false
	case err != nil:
		bodyFailed(w, r, err)
		return nil, false
	}
	if name == "" {
		name = rulesName
	}
	rules, err = app.CompileRules(s.app.Cfg, name, data)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return nil, false
	}
	return rules, true
}

// isRuleType reports whether a media type (without parameters) is one a
// rule file is accepted in.
func isRuleType(mt string) bool {
	for _, t := range RuleTypes {
		if strings.EqualFold(mt, t) {
			return true
		}
	}
	return false
}

// postImpact plans the selected records with the rules in use and with
// the rule file of the body and answers what would change. It makes no
// call to the target.
func (s *Server) postImpact(w http.ResponseWriter, r *http.Request) {
	p := ReadParams(r)
	opts := bookbridge.ImpactOptions{States: Enum(p, "state", staging.States()), AtNow: p.Bool("now"), AgainstLastLoad: p.Bool("against_last_load")}
	name := p.Text("name", maxRulesNameRunes)
	if p.Refuse(w, r) {
		return
	}
	rules, ok := s.readRules(w, r, name)
	if !ok {
		return
	}
	rep, err := s.app.Flow.Impact(r.Context(), rules, opts)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// reloadRecord is POST /api/v1/records/{id}/load?reload=true: the record
// loaded again with the rules in use, as a job; with dry_run=true the
// reload's preview (the diff against the live target, and the rows of the
// last load the rules no longer write, which the reload keeps).
func (s *Server) reloadRecord(w http.ResponseWriter, r *http.Request, rec *staging.Record, dry bool) {
	if dry {
		p, err := s.app.Flow.PreviewReload(r.Context(), rec)
		if err != nil {
			s.fail(w, r, err, http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, p)
		return
	}
	key, _ := CallerKey(r.Context())
	jobID, err := s.app.Flow.EnqueueReload(r.Context(), rec.ID, "key:"+key.Name, staging.Via("api"))
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusAccepted, JobAccepted{JobID: jobID, Record: rec.Number})
}

// ReloadRequest is the JSON body of POST /api/v1/loads/reload.
type ReloadRequest struct {
	// Records names the records to reload by number (BB1000001) or id.
	Records []string `json:"records"`
	// DryRun only lists them.
	DryRun bool `json:"dry_run,omitempty"`
}

// ReloadAnswer is the answer of POST /api/v1/loads/reload.
type ReloadAnswer struct {
	// Count is how many records were reloaded (their jobs enqueued), or
	// with dry_run would be.
	Count  int  `json:"count"`
	DryRun bool `json:"dry_run"`
	// Rules are the rules in use, which the reloads write with.
	Rules   bookbridge.RulesInfo       `json:"rules"`
	Records []bookbridge.ReloadOutcome `json:"records"`
	// Impact is the impact report the records were taken from, when the
	// body was a rule file.
	Impact *bookbridge.ImpactReport `json:"impact,omitempty"`
}

// reloadLoads reloads records with the rules in use: those a JSON body
// names, or, when the body is a rule file, every record the impact of
// that file (against each record's last load) lists as changed; the rule
// file must be the rules in use.
func (s *Server) reloadLoads(w http.ResponseWriter, r *http.Request) {
	p := ReadParams(r)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if isRuleType(mt) {
		dry, name := p.Bool("dry_run"), p.Text("name", maxRulesNameRunes)
		if p.Refuse(w, r) {
			return
		}
		s.reloadImpact(w, r, dry, name)
		return
	}
	if mt != "application/json" {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type",
			`send Content-Type: application/json with {"records": ["BB1000001"], "dry_run": true}, or the rule file in use as application/yaml`)
		return
	}
	// With a JSON body every option is in the body (dry_run too).
	if p.Refuse(w, r) {
		return
	}
	var req ReloadRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if isBodyFailure(err) {
		bodyFailed(w, r, err)
		return
	}
	if err != nil || len(req.Records) == 0 {
		msg := `the body must be JSON such as {"records": ["BB1000001"], "dry_run": true}`
		if err != nil {
			msg += ": " + err.Error()
		} else {
			msg += ": records is empty"
		}
		writeError(w, r, http.StatusBadRequest, "bad_request", msg)
		return
	}
	ids := make([]int64, 0, len(req.Records))
	outs := make([]bookbridge.ReloadOutcome, 0, len(req.Records))
	for _, name := range req.Records {
		rec, err := s.app.Flow.FindRecord(r.Context(), name)
		if err != nil {
			s.fail(w, r, err, http.StatusInternalServerError)
			return
		}
		ids = append(ids, rec.ID)
		outs = append(outs, bookbridge.ReloadOutcome{ID: rec.ID, Number: rec.Number, State: rec.State})
	}
	s.reloadIDs(w, r, outs, req.DryRun, nil, func(by string) ([]bookbridge.ReloadOutcome, error) {
		return s.app.Flow.ReloadRecords(r.Context(), ids, by, false)
	})
}

// reloadImpact is the bulk reload of the impact report of the body's rule
// file, which must be the rules in use.
func (s *Server) reloadImpact(w http.ResponseWriter, r *http.Request, dry bool, name string) {
	rules, ok := s.readRules(w, r, name)
	if !ok {
		return
	}
	if err := s.app.Flow.CheckRulesInUse(bookbridge.RulesInfoOf(rules)); err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	rep, err := s.app.Flow.Impact(r.Context(), rules, bookbridge.ImpactOptions{AgainstLastLoad: true})
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	outs := []bookbridge.ReloadOutcome{}
	for _, ri := range rep.ToReload() {
		outs = append(outs, bookbridge.ReloadOutcome{ID: ri.ID, Number: ri.Number, State: ri.State})
	}
	// ReloadImpact checks the rules in use again: they may have changed
	// (SIGHUP) while the report was made.
	s.reloadIDs(w, r, outs, dry, rep, func(by string) ([]bookbridge.ReloadOutcome, error) {
		return s.app.Flow.ReloadImpact(r.Context(), rep, by, false)
	})
}

// reloadIDs answers the records of a bulk reload: with dry outs, the
// records it would reload; otherwise what reload (which enqueues their
// jobs) did.
func (s *Server) reloadIDs(w http.ResponseWriter, r *http.Request, outs []bookbridge.ReloadOutcome, dry bool, rep *bookbridge.ImpactReport,
	reload func(by string) ([]bookbridge.ReloadOutcome, error)) {
	ans := ReloadAnswer{DryRun: dry, Rules: bookbridge.RulesInfoOf(s.app.Flow.Rules()), Records: outs, Impact: rep}
	if dry {
		ans.Count = len(outs)
		writeJSON(w, http.StatusOK, ans)
		return
	}
	key, _ := CallerKey(r.Context())
	done, err := reload("key:" + key.Name)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	for _, o := range done {
		if o.Error == "" {
			ans.Count++
		}
	}
	ans.Records = done
	writeJSON(w, http.StatusAccepted, ans)
}
