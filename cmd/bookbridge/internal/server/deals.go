package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/staging"
)

// IntakeAnswer is the body of a deal intake answer.
type IntakeAnswer struct {
	Outcome   staging.IntakeOutcome `json:"outcome"`
	ID        string                `json:"id"`
	Number    string                `json:"number"`
	State     staging.State         `json:"state"`
	Reason    string                `json:"reason,omitempty"`
	RequestID string                `json:"request_id,omitempty"`
}

// readBody enforces the content type and the size limit and reads the
// body, into buf's space when it is large enough; it has answered when ok
// is false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, wantType string, buf []byte) (body []byte, ok bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != wantType {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: "+wantType)
		return nil, false
	}
	limit := s.app.Cfg.MaxBodyBytes
	if r.ContentLength > limit {
		writeError(w, r, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes")
		return nil, false
	}
	body, err = readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, buf)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, r, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes")
		return nil, false
	case err != nil:
		bodyFailed(w, r, err)
		return nil, false
	}
	return body, true
}

// bodyPool keeps the buffers deals are read into. A deal's buffer goes back
// only once the store has answered for it; the store, the decoded deal and
// the answer keep nothing of it (strings are copied out).
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// bodyPoolMax is the largest buffer kept: a rare 6 MiB deal is not.
const bodyPoolMax = 256 << 10

func (s *Server) postDeal(w http.ResponseWriter, r *http.Request) {
	m := s.app.Metrics.Intake
	bp := bodyPool.Get().(*[]byte)
	body, ok := s.readBody(w, r, "application/json", (*bp)[:0])
	release := func() {
		if cap(body) <= bodyPoolMax {
			*bp = body[:0]
			bodyPool.Put(bp)
		}
	}
	if !ok {
		m.WithLabelValues("rejected").Inc()
		return
	}
	key, _ := CallerKey(r.Context())
	res, err := s.app.Flow.AcceptDeal(r.Context(), body, staging.Via("api"), staging.By(key.Name))
	if err != nil {
		// A deal refused before or by the store counts as invalid, one the
		// store could not take (or found incomplete) as an error. After an
		// internal error the store may still hold the body: it is left to
		// the collector.
		kind := bookbridge.KindOf(err)
		outcome := "invalid"
		if kind == bookbridge.KindInternal || isInputError(err) {
			outcome = "error"
		}
		m.WithLabelValues(outcome).Inc()
		if kind != bookbridge.KindInternal {
			defer release()
		}
		s.fail(w, r, err, http.StatusServiceUnavailable)
		return
	}
	// Answered and committed: nothing holds the body any more. (After an
	// error it is left to the collector, should any write still hold it.)
	defer release()
	m.WithLabelValues(string(res.Outcome)).Inc()
	status := http.StatusOK
	switch res.Outcome {
	case staging.IntakeCreated, staging.IntakeMerged:
		status = http.StatusCreated
	case staging.IntakeStale:
		status = http.StatusConflict
	}
	AddLogAttrs(r.Context(), "outcome", res.Outcome, "record", res.Record.Number, "salesforce_id", res.SalesforceID, "key", key.Name)
	writeJSON(w, status, IntakeAnswer{Outcome: res.Outcome, ID: strconv.FormatInt(res.Record.ID, 10), Number: res.Record.Number,
		State: res.Record.State, Reason: res.Reason, RequestID: RequestID(r.Context())})
}

func (s *Server) postEmail(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.readBody(w, r, "message/rfc822", nil) // emails are rare: not pooled
	if ok && len(bytes.TrimSpace(raw)) == 0 {
		writeError(w, r, http.StatusBadRequest, "bad_request", "the body is empty: send the whole email (headers and body) as message/rfc822")
		ok = false
	}
	if !ok {
		s.app.Metrics.Emails.WithLabelValues("api", "rejected").Inc()
		return
	}
	acc, err := s.app.Flow.AcceptEmail(r.Context(), raw, "api")
	if err != nil {
		s.fail(w, r, err, http.StatusServiceUnavailable)
		return
	}
	status := http.StatusAccepted
	if acc.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, acc)
}

// readAll reads r to the end, appending to buf, into one buffer of the
// announced length (checked against the limit by the caller) instead of
// growing it in steps; buf's space is used when it is large enough.
func readAll(r io.Reader, announced int64, buf []byte) ([]byte, error) {
	if announced <= 0 {
		announced = 512
	}
	b := slices.Grow(buf[:0], int(announced)+1) // +1: EOF is seen without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than announced: grow as ReadAll does
		}
	}
}
