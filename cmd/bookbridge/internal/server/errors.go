package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// answer is the status and code of one kind of error.
type answer struct {
	status int
	code   string
}

// errorAnswers is the one place errors become HTTP answers: the Flow's
// error kinds (bookbridge.KindOf) to status and code. KindInternal takes
// the status its caller names (500, or 503 where the request may be sent
// again).
var errorAnswers = map[bookbridge.ErrorKind]answer{
	bookbridge.KindMalformed:    {http.StatusBadRequest, "bad_request"},
	bookbridge.KindTooLarge:     {http.StatusRequestEntityTooLarge, "too_large"},
	bookbridge.KindInvalid:      {http.StatusUnprocessableEntity, "invalid"},
	bookbridge.KindNotFound:     {http.StatusNotFound, "not_found"},
	bookbridge.KindConflict:     {http.StatusConflict, "conflict"},
	bookbridge.KindNotLoadable:  {http.StatusConflict, "not_loadable"},
	bookbridge.KindPlanFailed:   {http.StatusUnprocessableEntity, "plan_failed"},
	bookbridge.KindTargetFailed: {http.StatusBadGateway, "target"},
	bookbridge.KindNoDrift:      {http.StatusConflict, "no_drift"},
	bookbridge.KindRulesInvalid: {http.StatusUnprocessableEntity, "rules_invalid"},
	// The rules in use are not those a bulk reload names: put them in use
	// (BOOKBRIDGE_RULES, then SIGHUP) first.
	bookbridge.KindRulesMismatch: {http.StatusConflict, "rules_mismatch"},
}

// statusOf returns the status and code of err; internal is the status of
// an error of the server's own (500, or 503 where the caller may retry).
func statusOf(err error, internal int) (int, string) {
	if a, ok := errorAnswers[bookbridge.KindOf(err)]; ok {
		return a.status, a.code
	}
	return internal, "internal"
}

// fail answers err: a known kind with its message (and a validation
// error's problems), anything else as an internal error that the log
// keeps and the answer does not show.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, internal int) {
	status, code := statusOf(err, internal)
	body := ErrorBody{Error: err.Error(), Code: code, RequestID: RequestID(r.Context())}
	var ve *sfdc.ValidationError
	var ce *mapping.CompileError
	switch {
	case errors.As(err, &ve):
		body.Error = strconv.Itoa(len(ve.Problems)) + " validation problem(s): fix each and send the deal again"
		body.Problems = ve.Problems
	case errors.As(err, &ce):
		body.Error = strconv.Itoa(len(ce.Problems)) + " problem(s) in the rule file, each FILE:LINE:COL: message; fix each and send it again:\n" + ce.Error()
		body.Problems = ce.Problems
	case code == "internal":
		Logger(r.Context()).Error("request failed", "err", err)
		body.Error = "internal error; the request id identifies it in the server log"
		if status == http.StatusServiceUnavailable {
			body.Error = "the request could not be completed now; retry later"
		}
	case status == http.StatusBadGateway:
		Logger(r.Context()).Warn("the target failed", "err", err)
	}
	writeJSON(w, status, body)
}

// isInputError reports whether err is staging's *InputError.
func isInputError(err error) bool {
	var ie *staging.InputError
	return errors.As(err, &ie)
}
