package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// bodyDeadline gives the body of every request d from the moment its
// headers were read (BOOKBRIDGE_READ_TIMEOUT). A body that is not in by
// then fails to read with an error BodyTimedOut recognizes, which
// bodyFailed answers 408. Requests without a body get no deadline. Once a
// body is in, net/http clears the deadline for its own watch of the
// connection, so a long answer (an impact report) keeps its context.
func bodyDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		// A writer without a connection (a test's recorder) has no
		// deadline to set; the body is then read without one.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		next.ServeHTTP(w, r)
	})
}

// BodyTimedOut reports whether err is a request body that did not arrive
// within BOOKBRIDGE_READ_TIMEOUT.
func BodyTimedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isBodyFailure reports whether err is the body failing to arrive (too
// late or too large) rather than a problem of its content.
func isBodyFailure(err error) bool {
	var mbe *http.MaxBytesError
	return BodyTimedOut(err) || errors.As(err, &mbe)
}

// AnswerTimeout answers 408 for a body that did not arrive in time and
// closes the connection, which still holds the rest of the body.
func AnswerTimeout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	writeError(w, r, http.StatusRequestTimeout, "timeout",
		"the request body did not arrive within the server's read timeout (BOOKBRIDGE_READ_TIMEOUT): send it again, all at once")
}

// bodyFailed answers an error of reading a request body: 408 when it came
// too slowly, 413 when it was too large, 400 otherwise.
func bodyFailed(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	switch {
	case BodyTimedOut(err):
		AnswerTimeout(w, r)
	case errors.As(err, &mbe):
		writeError(w, r, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	default:
		writeError(w, r, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error())
	}
}

// apiPaths answers 404 for a path under /api/ that is not clean (an empty
// segment, "." or ".."), which the mux would otherwise redirect: a program
// that built a wrong URL learns so, in JSON, instead of being sent
// elsewhere.
func apiPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/api" || strings.HasPrefix(p, "/api/") && !cleanPath(p) {
			writeError(w, r, http.StatusNotFound, "not_found", "no such API endpoint (the path has an empty, . or .. segment): see /api/openapi.yaml")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath reports whether p is its own path.Clean, a final slash aside.
func cleanPath(p string) bool {
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// readJSONRequest reads the optional JSON object body of a POST such as
// reconcile or loads/retry into dst: no body at all leaves dst as it is;
// a body must come as application/json, be one object with no unknown
// and no null member, within limit bytes. It answers the problem itself
// (415, 413, 408 or 400 with example) and then reports false.
func readJSONRequest(w http.ResponseWriter, r *http.Request, limit int64, dst any, example string) bool {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body with Content-Type: application/json, such as "+example+", or send no body")
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if isBodyFailure(err) {
		bodyFailed(w, r, err)
		return false
	} else if err != nil {
		writeError(w, r, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error())
		return false
	}
	bad := func(why string) bool {
		writeError(w, r, http.StatusBadRequest, "bad_request", "the body must be a JSON object such as "+example+": "+why)
		return false
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return bad(err.Error())
	}
	if members == nil {
		return bad("it is null")
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if string(bytes.TrimSpace(members[name])) == "null" {
			return bad(name + " is null; leave it out instead")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bad(err.Error())
	}
	return true
}
