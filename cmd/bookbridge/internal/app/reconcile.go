package app

import (
	"context"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/bookbridge/bookbridge"
)

// ReconcileArgs is the periodic job that compares every loaded record
// with the live target (BOOKBRIDGE_RECONCILE_INTERVAL) and sets the
// bookbridge_records_drifted gauge. It only reads the target.
type ReconcileArgs struct{}

// Kind names the job for River.
func (ReconcileArgs) Kind() string { return "bookbridge_reconcile" }

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	app *App
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	report, err := w.app.Flow.Reconcile(ctx, bookbridge.ReconcileOptions{})
	if err != nil {
		return err
	}
	w.app.Metrics.Drifted.Set(float64(report.Drifted))
	if drifted := report.DriftedRecords(); len(drifted) > 0 {
		numbers := make([]string, 0, min(len(drifted), 20))
		for _, r := range drifted[:min(len(drifted), 20)] {
			numbers = append(numbers, r.Number)
		}
		w.app.Log.WarnContext(ctx, "loaded records drifted from what their last load set in the target", "count", len(drifted),
			"records", strings.Join(numbers, ", "), "see", "bookbridge reconcile, or the console's Drift page")
	}
	return nil
}

// Timeout bounds one reconciliation like every job (the job timeout,
// BOOKBRIDGE_LOAD_TIMEOUT): a job running longer than the rescue time
// would be run twice at once. With very many loaded records, raise
// BOOKBRIDGE_LOAD_TIMEOUT and BOOKBRIDGE_JOB_RESCUE_AFTER.
func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration {
	return w.app.Cfg.LoadTimeout
}
