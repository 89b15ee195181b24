package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// errorKind is one row of the table from the errors the packages return to
// the API's status and code.
type errorKind struct {
	is     func(error) bool
	status int
	code   string
}

func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// errorKinds is the one place errors become HTTP answers; the first row
// that matches wins. Errors no row knows are the server's own (500).
var errorKinds = []errorKind{
	{as[*sfdc.DecodeError], http.StatusBadRequest, "bad_request"},
	{as[*sfdc.ValidationError], http.StatusUnprocessableEntity, "invalid"},
	{as[*staging.InputError], http.StatusUnprocessableEntity, "invalid"},
	{func(err error) bool { return errors.Is(err, staging.ErrNotFound) }, http.StatusNotFound, "not_found"},
	{as[*staging.ConflictError], http.StatusConflict, "conflict"},
	{as[*staging.TransitionError], http.StatusConflict, "not_loadable"},
	{as[*bookbridge.NotLoadableError], http.StatusConflict, "not_loadable"},
	{as[*bookbridge.PlanError], http.StatusUnprocessableEntity, "plan_failed"},
	{as[*bookbridge.TargetError], http.StatusBadGateway, "target"},
	{func(err error) bool { return errors.Is(err, bookbridge.ErrNoDrift) }, http.StatusConflict, "no_drift"},
}

// statusOf returns the status and code of err; fallback is the status of
// an error no row knows (500, or 503 where the caller may retry).
func statusOf(err error, fallback int) (int, string) {
	for _, k := range errorKinds {
		if k.is(err) {
			return k.status, k.code
		}
	}
	return fallback, "internal"
}

// fail answers err: a known kind with its message (and a validation
// error's problems), anything else as an internal error that the log
// keeps and the answer does not show.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, fallback int) {
	status, code := statusOf(err, fallback)
	body := ErrorBody{Error: err.Error(), Code: code, RequestID: RequestID(r.Context())}
	var ve *sfdc.ValidationError
	switch {
	case errors.As(err, &ve):
		body.Error = strconv.Itoa(len(ve.Problems)) + " validation problem(s): fix each and send the deal again"
		body.Problems = ve.Problems
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
