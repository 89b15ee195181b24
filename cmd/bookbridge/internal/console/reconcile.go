package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/staging"
)

type driftView struct {
	Report  bookbridge.ReconcileReport
	Drifted []bookbridge.RecordReconciliation
	// Acknowledged lists the records whose drift was acknowledged.
	Acknowledged []bookbridge.RecordReconciliation
	Errors       []bookbridge.RecordReconciliation
	Checked      string
}

// drift reconciles every loaded record with the live target (reads only)
// and lists those whose rows drifted from what their last load set.
func (c *Console) drift(w http.ResponseWriter, r *http.Request, u *user) {
	report, err := c.app.Flow.Reconcile(r.Context(), bookbridge.ReconcileOptions{})
	var te *bookbridge.TargetError
	if errors.As(err, &te) {
		c.fail(w, r, u, http.StatusBadGateway, "The target did not answer, so nothing could be compared: "+err.Error())
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	c.app.Metrics.Drifted.Set(float64(report.Drifted))
	v := driftView{Report: report, Checked: c.when(report.CheckedAt)}
	for _, rr := range report.Records {
		switch rr.Status {
		case bookbridge.ReconcileDrifted:
			v.Drifted = append(v.Drifted, rr)
		case bookbridge.ReconcileAcknowledged:
			v.Acknowledged = append(v.Acknowledged, rr)
		case bookbridge.ReconcileError:
			v.Errors = append(v.Errors, rr)
		}
	}
	c.render(w, r, u, http.StatusOK, "reconcile", "drift", v)
}

// ackDrift acknowledges a record's present drift, kept in its history.
func (c *Console) ackDrift(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	rr, err := c.app.Flow.AcknowledgeDrift(r.Context(), rec.ID, "user:"+u.Name)
	var te *bookbridge.TargetError
	var nl *bookbridge.NotLoadableError
	switch {
	case errors.Is(err, bookbridge.ErrNoDrift):
		c.setFlash(w, r, "Record "+rec.Number+" is in sync with the target again: there was nothing to acknowledge.")
		http.Redirect(w, r, "/drift", http.StatusSeeOther)
		return
	case errors.As(err, &nl), errors.Is(err, staging.ErrIllegalTransition):
		c.fail(w, r, u, http.StatusConflict, "The drift of record "+rec.Number+" cannot be acknowledged: "+err.Error())
		return
	case errors.As(err, &te):
		c.fail(w, r, u, http.StatusBadGateway, "The target did not answer, so nothing was acknowledged: "+err.Error())
		return
	case err != nil:
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console drift acknowledged", "record", rec.Number, "user", u.Name, "drifts", len(rr.Drifts))
	c.setFlash(w, r, "The drift of record "+rec.Number+" ("+strconv.Itoa(len(rr.Drifts))+" difference(s)) was acknowledged; it is reported again when its rows change again.")
	http.Redirect(w, r, "/drift", http.StatusSeeOther)
}
