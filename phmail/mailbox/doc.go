// Package mailbox receives Provisioning Hub emails over SMTP and IMAP and
// hands each raw message to a [Handler] (usually one that calls
// phmail.Parse and stages the result).
//
// Both channels deliver at least once and never silently drop a message:
//
//   - [SMTPReceiver] (emersion/go-smtp) accepts a message only after the
//     handler returned nil. A handler error that [IsPermanent] reports
//     (phmail's rejections, or an error wrapped with [Reject]) answers 550,
//     so the sender gets a bounce; any other error answers 451 and the
//     sending server retries later. Connections past
//     SMTPConfig.MaxConnections are answered 421, which a sending server
//     also retries.
//   - [IMAPPoller] (emersion/go-imap/v2) reads a folder, hands each
//     message over (fetched with BODY.PEEK, so an unhandled message stays
//     unseen), then moves it to the processed folder, or, when the handler
//     rejects it, appends a copy carrying the reason in an
//     X-Bookbridge-Quarantine-Reason header to the quarantine folder and
//     removes the original. Temporary failures leave the message where it
//     is for the next poll. It reconnects with backoff, notices UIDVALIDITY
//     changes, and waits with IDLE where the server offers it.
//
// A crash between the handler's success and the move means the message is
// handed over again on the next poll, and an SMTP client that loses the
// final reply resends. The handler must therefore be idempotent on the
// message's key ([MessageKey]: the Message-ID, or the SHA-256 of the raw
// bytes when there is none); the optional [Journal] lets the poller skip a
// message whose outcome was already recorded.
package mailbox
