package staging

import (
	"context"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
)

// StoreOption configures New.
type StoreOption func(*Store)

// WithClock sets the store's clock (default time.Now). Every timestamp the
// store writes, and the age Waiting measures, come from it.
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) { s.now = now }
}

// WithBlobs sets where attachment and message bytes live (default: the
// staging_blobs table of the same database, DBBlobs).
func WithBlobs(b BlobStore) StoreOption {
	return func(s *Store) { s.blobs = b }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) StoreOption {
	return func(s *Store) { s.log = l }
}

// WithMaxAttempts sets how often a write is tried when it loses a race or
// meets a busy database (default 12). Each attempt is a new transaction.
func WithMaxAttempts(n int) StoreOption {
	return func(s *Store) {
		if n > 0 {
			s.maxAttempts = n
		}
	}
}

// TxFunc runs inside the transaction of a state change, after the change.
// rec is the record as changed (nil for Quarantine). Returning an error
// rolls the whole change back. A write that is retried runs it again.
type TxFunc func(ctx context.Context, tx bun.Tx, rec *Record) error

// Option configures one state-changing call.
type Option func(*callOptions)

type callOptions struct {
	inTx      []TxFunc
	channel   string
	user      string
	ifVersion int64
	reload    *ReloadInfo
}

func newCallOptions(opts []Option) callOptions {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// InTx runs fn inside the same database transaction, after the change (for
// example to enqueue a River job with the state change). It runs only when
// the call changed a record: not for duplicates or stale payloads.
func InTx(fn TxFunc) Option {
	return func(o *callOptions) { o.inTx = append(o.inTx, fn) }
}

// Via names the channel a change came through ("salesforce", "smtp",
// "imap", "upload", "api"); it is written into the history.
func Via(channel string) Option {
	return func(o *callOptions) { o.channel = channel }
}

// By names the user who made a change; it is written into the history.
func By(user string) Option {
	return func(o *callOptions) { o.user = user }
}

// IfVersion makes a call on one record fail with a *ConflictError unless
// the record's version is still v (optimistic concurrency for the console).
// Intake and IngestEmail ignore it.
func IfVersion(v int64) Option {
	return func(o *callOptions) { o.ifVersion = v }
}

// ReloadInfo says why a loaded record is loaded again although nothing
// changed on it: the rules in use changed (see Reload).
type ReloadInfo struct {
	// Reason is written into the history, such as "reload with current rules".
	Reason string
	// RulesName and RulesHash name the rules the reload plans with.
	RulesName string
	RulesHash string
	// NotWritten lists the target rows the last load wrote that these
	// rules no longer plan; a reload never deletes them, and the history
	// lists them.
	NotWritten []string
}

// Reload lets StartLoad move a loaded record to loading although it has
// not changed since its load, to load it again with the rules in use. The
// history entry names the rules' hash and the rows no longer written. On
// other states StartLoad behaves as without it.
func Reload(info ReloadInfo) Option {
	return func(o *callOptions) { o.reload = &info }
}
