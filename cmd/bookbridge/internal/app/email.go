package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/phmail/mailbox"
	"github.com/bookbridge/bookbridge/staging"
)

// EmailArgs is the job that processes one inbox message.
type EmailArgs struct {
	InboxID int64 `json:"inbox_id"`
}

// Kind names the job for River.
func (EmailArgs) Kind() string { return "bookbridge_email" }

// InsertOpts gives email jobs a few attempts: the work is local (parse,
// store), so only a database hiccup makes one fail.
func (EmailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

type emailWorker struct {
	river.WorkerDefaults[EmailArgs]
	app *App
}

func (w *emailWorker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	msg, err := w.app.InboxMessage(ctx, job.Args.InboxID)
	if errors.Is(err, ErrNoInbox) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if msg.ProcessedAt != nil {
		return nil // done by an earlier attempt that lost its completion
	}
	res, err := w.app.ProcessEmail(ctx, msg.Raw, msg.Channel)
	if err != nil {
		return err
	}
	return w.app.markInbox(ctx, msg.ID, res.Outcome, res.Detail, res.RecordID)
}

// EmailProcessed says what became of an email.
type EmailProcessed struct {
	// Outcome is staging's (applied, waiting, needs_review, duplicate,
	// quarantined) or not_ph for a message that is not a PH email.
	Outcome  string `json:"outcome"`
	Detail   string `json:"detail,omitempty"`
	RecordID int64  `json:"record_id,omitempty"`
	Number   string `json:"number,omitempty"`
}

// ProcessEmail parses raw and joins it to its staged record. A message that
// is not a PH email is ignored; one that cannot be used (missing fields,
// over a limit, unreadable) is quarantined with the reason for review. The
// error is for temporary failures only.
func (a *App) ProcessEmail(ctx context.Context, raw []byte, channel string) (EmailProcessed, error) {
	out, err := a.processEmail(ctx, raw, channel)
	outcome := out.Outcome
	if err != nil {
		outcome = "error"
	}
	a.Metrics.Emails.WithLabelValues(channel, outcome).Inc()
	return out, err
}

func (a *App) processEmail(ctx context.Context, raw []byte, channel string) (EmailProcessed, error) {
	msg, err := a.Parser.Parse(raw)
	switch {
	case errors.Is(err, phmail.ErrNotPH):
		a.Log.InfoContext(ctx, "ignored an email that is not from the Provisioning Hub", "channel", channel, "err", err)
		return EmailProcessed{Outcome: "not_ph", Detail: err.Error()}, nil
	case phmail.IsRejection(err):
		q, qerr := a.Store.Quarantine(ctx, raw, err.Error(), channel, staging.Via(channel))
		if qerr != nil {
			return EmailProcessed{}, fmt.Errorf("quarantining an unusable email: %w", qerr)
		}
		a.Log.WarnContext(ctx, "quarantined an unusable PH email", "channel", channel, "quarantine_id", q.ID, "reason", err)
		return EmailProcessed{Outcome: string(staging.EmailQuarantined), Detail: err.Error()}, nil
	case err != nil:
		return EmailProcessed{}, err
	}
	res, err := a.Store.IngestEmail(ctx, StagingEmail(msg, raw), staging.Via(channel))
	if err != nil {
		return EmailProcessed{}, err
	}
	out := EmailProcessed{Outcome: string(res.Outcome), Detail: res.Reason}
	if res.Record != nil {
		out.RecordID, out.Number = res.Record.ID, res.Record.Number
	}
	a.Log.InfoContext(ctx, "PH email processed", "channel", channel, "outcome", res.Outcome, "record", out.Number, "reason", res.Reason)
	return out, nil
}

// StagingEmail converts a parsed PH email into what staging takes.
func StagingEmail(m *phmail.Message, raw []byte) staging.Email {
	e := staging.Email{
		MessageID: m.MessageID, ContentHash: m.ContentHash, From: m.From, Subject: m.Subject, Date: m.Date,
		Fields: m.Fields(), Raw: raw, Warnings: m.Warnings,
	}
	for _, att := range m.Attachments {
		e.Attachments = append(e.Attachments, staging.EmailAttachment{
			FileName: att.FileName, ContentType: att.ContentType, Data: att.Data, SHA256: att.SHA256,
			Warnings: att.Warnings, Usable: att.Usable,
		})
	}
	return e
}

// MailHandler is the handler the SMTP receiver and the IMAP poller call: a
// message that is not a PH email is rejected (SMTP answers 5xx, IMAP files
// it in the quarantine folder); every other message is stored and its
// processing enqueued before the channel acknowledges it.
func (a *App) MailHandler(channel string) mailbox.Handler {
	return func(ctx context.Context, raw []byte) error {
		if a.Parser.NotPH(raw) {
			a.Metrics.Emails.WithLabelValues(channel, "not_ph").Inc()
			return mailbox.Reject(phmail.ErrNotPH)
		}
		_, err := a.AcceptEmail(ctx, raw, channel)
		return err
	}
}
