package sqltarget

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookbridge/bookbridge/loader"
)

// Find implements loader.Target.
func (t *Target) Find(ctx context.Context, q loader.Query) ([]loader.Record, error) {
	recs, err := t.find(ctx, q)
	return recs, classify(err)
}

// Insert implements loader.Target.
func (t *Target) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	rec, err := t.insert(ctx, table, fields)
	return rec, classify(err)
}

// Update implements loader.Target.
func (t *Target) Update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	rec, err := t.update(ctx, table, id, fields)
	return rec, classify(err)
}

// Attach implements loader.Target: the file goes into sys_attachment.
func (t *Target) Attach(ctx context.Context, table, id string, f loader.File) (loader.AttachmentInfo, error) {
	info, err := t.attach(ctx, table, id, f)
	return info, classify(err)
}

// Attachments implements loader.Target.
func (t *Target) Attachments(ctx context.Context, table, id string) ([]loader.AttachmentInfo, error) {
	list, err := t.attachments(ctx, table, id)
	return list, classify(err)
}

// connError is a failure of the connection to the database, not of the
// statement: loader.IsTransient reports it as transient.
type connError struct{ err error }

func (e *connError) Error() string {
	return e.err.Error() + " (the database connection failed; load again once the database is reachable)"
}
func (e *connError) Unwrap() error   { return e.err }
func (e *connError) Transient() bool { return true }

var _ loader.TransientError = (*connError)(nil)

// classify marks connection failures as transient and leaves every other
// error unclassified (not transient).
func classify(err error) error {
	if err == nil || !connectionFailed(err) {
		return err
	}
	return &connError{err: err}
}

// connectionFailed is the rule: the database could not be reached or the
// connection broke (a network error, a connection the driver gave up, the
// server shutting down: Postgres SQLSTATE class 08 and 57P01-57P03). A
// statement the database refused (a constraint, a missing table, SQLite's
// "database is locked") is not, and neither is the caller's context
// ending.
func connectionFailed(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne)
}
