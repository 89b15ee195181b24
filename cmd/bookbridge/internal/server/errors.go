package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

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
	body := ErrorBody{Error: clipMessage(err.Error()), Code: code, RequestID: RequestID(r.Context())}
	var ve *sfdc.ValidationError
	var ce *mapping.CompileError
	switch {
	case errors.As(err, &ve):
		body.Error = strconv.Itoa(ve.Count()) + " validation problem(s): fix each and send the deal again"
		body.Problems, body.MoreProblems = listProblems(ve.Problems, ve.Count())
	case errors.As(err, &ce):
		body.Error = clipMessage(strconv.Itoa(len(ce.Problems)) + " problem(s) in the rule file, each FILE:LINE:COL: message; fix each and send it again:\n" + ce.Error())
		body.Problems, body.MoreProblems = listProblems(ce.Problems, len(ce.Problems))
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

// Bounds of an error answer, so that a payload of a million problems
// costs a bounded answer: the problems it lists, the length of its
// message, and the size of its whole body.
const (
	MaxListedProblems = 100
	maxErrorMessage   = 16 << 10
	MaxErrorBody      = 64 << 10
)

// listProblems encodes the first problems of list that fit the answer's
// bounds: at most MaxListedProblems, all of them within MaxErrorBody
// beside a message of at most maxErrorMessage (a problem too large to fit
// on its own is left out). more is how many of total are not listed.
func listProblems[P any](list []P, total int) (listed []json.RawMessage, more int) {
	budget := MaxErrorBody - maxErrorMessage - 1024 // the message, code, request id and syntax
	listed = make([]json.RawMessage, 0, min(len(list), MaxListedProblems))
	for _, p := range list {
		if len(listed) == MaxListedProblems {
			break
		}
		b, err := json.Marshal(p)
		if err != nil || len(b)+1 > budget {
			continue
		}
		budget -= len(b) + 1
		listed = append(listed, b)
	}
	return listed, total - len(listed)
}

// clipMessage shortens an error message to maxErrorMessage bytes, at a
// character boundary.
func clipMessage(msg string) string {
	if len(msg) <= maxErrorMessage {
		return msg
	}
	cut := maxErrorMessage - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// isInputError reports whether err is staging's *InputError.
func isInputError(err error) bool {
	var ie *staging.InputError
	return errors.As(err, &ie)
}
