package server

import (
	"net/http"

	"github.com/bookbridge/bookbridge"
)

// ReconcileRequest is the optional body of POST /api/v1/reconcile.
type ReconcileRequest struct {
	// Records are record numbers (or ids) to check; empty: every loaded
	// record.
	Records []string `json:"records,omitempty"`
}

// reconcile compares loaded records with the live target; it only reads.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	var req ReconcileRequest
	if !readJSONRequest(w, r, 256<<10, &req, `{"records": ["BB0001001"]} (or no body for every loaded record)`) {
		return
	}
	var opts bookbridge.ReconcileOptions
	for _, ref := range req.Records {
		rec, err := s.app.Flow.FindRecord(r.Context(), ref)
		if err != nil {
			s.fail(w, r, err, http.StatusInternalServerError)
			return
		}
		opts.Records = append(opts.Records, rec.ID)
	}
	report, err := s.app.Flow.Reconcile(r.Context(), opts)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	if len(opts.Records) == 0 {
		s.app.Metrics.Drifted.Set(float64(report.Drifted))
	}
	writeJSON(w, http.StatusOK, report)
}

// ackDrift acknowledges the present drift of a record (kept in its
// history); it is not reported as drifted until its rows change again.
func (s *Server) ackDrift(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	key, _ := CallerKey(r.Context())
	rr, err := s.app.Flow.AcknowledgeDrift(r.Context(), rec.ID, "key:"+key.Name)
	if err != nil {
		s.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, rr)
}
