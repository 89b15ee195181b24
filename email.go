package bookbridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
)

// EmailProcessed says what became of an email.
type EmailProcessed struct {
	// Outcome is staging's (applied, waiting, needs_review, duplicate,
	// quarantined) or not_ph for a message that is not a PH email.
	Outcome  string `json:"outcome"`
	Detail   string `json:"detail,omitempty"`
	RecordID int64  `json:"record_id,omitempty"`
	Number   string `json:"number,omitempty"`
}

// OutcomeNotPH is the outcome of a message that is not a PH email.
const OutcomeNotPH = "not_ph"

// ProcessEmail parses raw and joins it to its staged record, at once. A
// message that is not a PH email is ignored (outcome not_ph); one that
// cannot be used (missing fields, over a limit, unreadable) is quarantined
// with the reason for review. The error is for temporary failures only:
// the same message may be processed again, and is then a duplicate.
// channel names where the message came from (api, smtp, imap, cli).
func (f *Flow) ProcessEmail(ctx context.Context, raw []byte, channel string) (EmailProcessed, error) {
	out, err := f.processEmail(ctx, raw, channel)
	outcome := out.Outcome
	if err != nil {
		outcome = "error"
	}
	if f.cfg.Hooks.Email != nil {
		f.cfg.Hooks.Email(channel, outcome)
	}
	return out, err
}

func (f *Flow) processEmail(ctx context.Context, raw []byte, channel string) (EmailProcessed, error) {
	msg, err := f.cfg.Parser.ParseContext(ctx, raw)
	switch {
	case errors.Is(err, phmail.ErrNotPH):
		f.log.InfoContext(ctx, "ignored an email that is not from the Provisioning Hub", "channel", channel, "err", err)
		return EmailProcessed{Outcome: OutcomeNotPH, Detail: err.Error()}, nil
	case phmail.IsRejection(err):
		q, qerr := f.cfg.Store.Quarantine(ctx, raw, err.Error(), channel, staging.Via(channel))
		if qerr != nil {
			return EmailProcessed{}, fmt.Errorf("quarantining an unusable email: %w", qerr)
		}
		f.log.WarnContext(ctx, "quarantined an unusable PH email", "channel", channel, "quarantine_id", q.ID, "reason", err)
		return EmailProcessed{Outcome: string(staging.EmailQuarantined), Detail: err.Error()}, nil
	case err != nil:
		return EmailProcessed{}, err
	}
	res, err := f.cfg.Store.IngestEmail(ctx, stagingEmail(msg, raw), staging.Via(channel))
	if err != nil {
		return EmailProcessed{}, err
	}
	out := EmailProcessed{Outcome: string(res.Outcome), Detail: res.Reason}
	if res.Record != nil {
		out.RecordID, out.Number = res.Record.ID, res.Record.Number
	}
	f.log.InfoContext(ctx, "PH email processed", "channel", channel, "outcome", res.Outcome, "record", out.Number, "reason", res.Reason)
	return out, nil
}

// stagingEmail converts a parsed PH email into what staging takes. Unusable
// files are passed on flagged: staging keeps them as evidence, loads never
// send them.
func stagingEmail(m *phmail.Message, raw []byte) staging.Email {
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
