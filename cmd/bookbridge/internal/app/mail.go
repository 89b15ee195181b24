package app

import (
	"context"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/phmail/mailbox"
)

// MailHandler is the handler the SMTP receiver and the IMAP poller call: a
// message that is not a PH email is rejected (SMTP answers 5xx, IMAP files
// it in the quarantine folder); every other message is stored and its
// processing enqueued before the channel acknowledges it.
func (a *App) MailHandler(channel string) mailbox.Handler {
	return func(ctx context.Context, raw []byte) error {
		if a.Flow.Parser().NotPH(raw) {
			a.Metrics.Emails.WithLabelValues(channel, bookbridge.OutcomeNotPH).Inc()
			return mailbox.Reject(phmail.ErrNotPH)
		}
		_, err := a.Flow.AcceptEmail(ctx, raw, channel)
		return err
	}
}
