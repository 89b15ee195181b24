package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// ErrorBody is the JSON body of every error answer of the API.
type ErrorBody struct {
	// Error says what went wrong and what to do.
	Error string `json:"error"`
	// Code is a stable word for programs: unauthorized, forbidden,
	// too_large, unsupported_media_type, bad_request, timeout, invalid, stale,
	// not_found, conflict, not_loadable, plan_failed, target,
	// rules_invalid, rules_mismatch, internal.
	Code string `json:"code"`
	// Problems lists the validation problems (422 only): at most
	// MaxListedProblems, and no more than fit the answer's size bound.
	Problems any `json:"problems,omitempty"`
	// MoreProblems counts the problems found but not listed.
	MoreProblems int `json:"more_problems,omitempty"`
	// RequestID repeats the X-Request-Id of the answer for support.
	RequestID string `json:"request_id,omitempty"`
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		slog.Debug("writing answer", "err", err)
	}
}

// writeError writes an ErrorBody.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Error: msg, Code: code, RequestID: RequestID(r.Context())})
}
