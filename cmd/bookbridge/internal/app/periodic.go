package app

import (
	"context"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bookbridge/bookbridge/phmail/mailbox"
)

// WaitingCheckArgs is the periodic job that counts records waiting longer
// than BOOKBRIDGE_WAITING_ALERT.
type WaitingCheckArgs struct{}

// Kind names the job for River.
func (WaitingCheckArgs) Kind() string { return "bookbridge_waiting_check" }

type waitingWorker struct {
	river.WorkerDefaults[WaitingCheckArgs]
	app *App
}

func (w *waitingWorker) Work(ctx context.Context, _ *river.Job[WaitingCheckArgs]) error {
	waiting, err := w.app.Store.Waiting(ctx, w.app.Cfg.WaitingAlert)
	if err != nil {
		return err
	}
	w.app.Metrics.Waiting.Set(float64(len(waiting)))
	if len(waiting) > 0 {
		numbers := make([]string, 0, min(len(waiting), 20))
		for _, s := range waiting[:min(len(waiting), 20)] {
			numbers = append(numbers, s.Number+" ("+string(s.State)+")")
		}
		w.app.Log.WarnContext(ctx, "records waiting too long", "count", len(waiting), "older_than", w.app.Cfg.WaitingAlert, "records", strings.Join(numbers, ", "))
	}
	return nil
}

// IMAPPollArgs is the periodic job that reads the PH mailbox once. River
// runs periodic jobs from one elected process, so replicas never poll the
// same mailbox at once.
type IMAPPollArgs struct{}

// Kind names the job for River.
func (IMAPPollArgs) Kind() string { return "bookbridge_imap_poll" }

type imapWorker struct {
	river.WorkerDefaults[IMAPPollArgs]
	app    *App
	poller *mailbox.IMAPPoller
}

func (w *imapWorker) Work(ctx context.Context, _ *river.Job[IMAPPollArgs]) error {
	if w.poller == nil {
		p, err := w.app.newIMAPPoller()
		if err != nil {
			return river.JobCancel(err)
		}
		w.poller = p
	}
	stats, err := w.poller.PollOnce(ctx)
	if stats.Processed+stats.Quarantined+stats.Failed > 0 {
		w.app.Log.InfoContext(ctx, "IMAP poll", "processed", stats.Processed, "quarantined", stats.Quarantined, "skipped", stats.Skipped, "failed", stats.Failed)
	}
	return err
}

// Timeout bounds one poll: the job timeout of every job (a poll cut short
// goes on at the next one), since a job running longer than the rescue
// time would be run twice at once.
func (w *imapWorker) Timeout(*river.Job[IMAPPollArgs]) time.Duration { return w.app.Cfg.LoadTimeout }

func (a *App) newIMAPPoller() (*mailbox.IMAPPoller, error) {
	c := a.Cfg
	security := c.IMAPTLS
	if security == "none" {
		security = mailbox.IMAPInsecure
	}
	return mailbox.NewIMAPPoller(mailbox.IMAPConfig{
		Addr: c.IMAPAddr, Security: security, Username: c.IMAPUser, Password: c.IMAPPassword,
		Folder: c.IMAPFolder, ProcessedFolder: c.IMAPProcessedFolder, QuarantineFolder: c.IMAPQuarantineFolder,
		PollInterval: c.IMAPPollInterval, OnlyUnseen: c.IMAPOnlyUnseen, Logger: a.Log.With("component", "imap"),
	}, a.MailHandler("imap"))
}

func (a *App) periodicJobs() []*river.PeriodicJob {
	jobs := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(min(a.Cfg.WaitingAlert/4, 15*time.Minute)+time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return WaitingCheckArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
	if a.Cfg.IMAPAddr != "" {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(a.Cfg.IMAPPollInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				// One poll at a time: no new one while another waits or runs.
				return IMAPPollArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
					rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
					rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
			},
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	if a.Cfg.ReconcileInterval > 0 {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(a.Cfg.ReconcileInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				// One reconciliation at a time.
				return ReconcileArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
					rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
					rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
			},
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	return jobs
}
