package server

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// bodyDeadline gives the body of every request d from the moment its
// headers were read (BOOKBRIDGE_READ_TIMEOUT). A body that is not in by
// then fails to read with an error BodyTimedOut recognizes, which
// bodyFailed answers 408. Once the body has been read to its end the
// deadline is lifted, so that a long answer (an impact report) is not cut
// short by it; requests without a body get none.
func bodyDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once its body reached the end. On
// a timeout the deadline stays, so that nothing waits for the rest.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
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
